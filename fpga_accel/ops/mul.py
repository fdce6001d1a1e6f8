import numpy as np

from ..pe.channel_mul import channel_mul_stage
from ..pe.scale import mul_stage, scale_stage
from ..pe.stage import LoweringError
from .base import Example, register
from .family.arithmetic import channel_constant, product_layer, run_product, run_scale, scale_layer
from .family.bases import Binary, channel_lanes


def channel_gate(sa, sb, sy):
    """Which input (0 or 1) is a per-image channel gate (1,..,1,C) of the other, a (1,...,C) map of
    the output's shape; None when the shapes are no such pair."""
    for i, (g, x) in enumerate(((sa, sb), (sb, sa))):
        if (len(g) == len(x) > 2 and x == sy and g[-1] == x[-1] and all(d == 1 for d in g[:-1])
                and x[0] == 1 and g != x):
            return i
    return None


def lower_scale(layer, ctx) -> list:
    """The scale PE (one computed input), the mul PE (two computed inputs of one shape) or the
    channel_mul PE (a computed (1,1,1,C) channel gate times a (1,H,W,C) map, either order)."""
    y = layer.outputs[0]
    shape = ctx.shape(y)
    lanes = channel_lanes(ctx, shape)
    if len(layer.inputs) == 1:
        x = layer.inputs[0]
        return [scale_stage(layer.name, ctx.port(x, lanes), ctx.port(y, lanes), shape, layer.config, layer.consts)]
    sa, sb = (tuple(ctx.shape(t)) for t in layer.inputs)
    gate = channel_gate(sa, sb, tuple(shape))
    if gate is not None:  # (1,1,1,C) x (1,H,W,C), either order: the channel_mul PE
        g, x = (layer.inputs[gate], layer.inputs[1 - gate])
        return [channel_mul_stage(layer.name, ctx.port(x, lanes), ctx.port(g, lanes), ctx.port(y, lanes),
                                  int(np.prod(shape[1:-1])), int(shape[-1]), layer.config, gate == 0)]
    if len({ctx.shape(t) for t in (*layer.inputs, y)}) != 1:
        raise LoweringError(f"broadcasting {ctx.shape(layer.inputs[0])} x {ctx.shape(layer.inputs[1])} has no "
                            f"processing element (equal shapes, or a (1,1,1,C) channel gate, only)")
    a, b = (ctx.port(t, lanes) for t in layer.inputs)
    n_words = int(np.prod(shape[1:])) // lanes
    return [mul_stage(layer.name, a, b, ctx.port(y, lanes), n_words, layer.config)]


@register
class Mul(Binary):
    op_type = "Mul"
    notes = ("broadcasting in the emulator; in hardware a constant side folds into a scale, and two computed "
             "tensors need equal shapes or a per-image channel gate (1,C,1,1) x (1,C,H,W), either order "
             "(squeeze-excitation); no PE for other broadcasts")

    def fn(self, a, b):
        return np.multiply(a, b)

    def quantize(self, node, ctx):
        """By a scalar or per-channel constant: per-channel requantisation, the sign carried by the
        centred input (family/arithmetic.py). Of two tensors: the product of the centred inputs, requantised."""
        a, b = node.inputs
        if ctx.g.is_const(a) or ctx.g.is_const(b):
            c, x = (a, b) if ctx.g.is_const(a) else (b, a)
            return scale_layer(node, ctx, x, channel_constant(node, ctx, c, x))
        return product_layer(node, ctx)

    def run_int(self, layer, inputs):
        return run_scale(layer, inputs[0]) if len(inputs) == 1 else run_product(layer, *inputs)

    def macs(self, node, graph):
        return int(np.prod(graph.shape(node.outputs[0])))  # one multiply per output element

    lowering = ("scale (by a scalar / per-channel constant); mul (two tensors of equal shape); channel_mul "
                "(a computed channel gate times a feature map)")

    def lower(self, layer, ctx):
        """By a constant: the scale PE (sign, M, shift per channel). Of two tensors of one shape: the
        mul PE. Of a (1,1,1,C) gate and a (1,H,W,C) map: the channel_mul PE. PE channels per word."""
        return lower_scale(layer, ctx)

    def examples(self):
        r = np.random.default_rng(32)
        f = lambda *s: r.standard_normal(s).astype(np.float32)
        return [Example({}, [f(2, 3, 4), f(2, 3, 4)], name="same_shape"),
                Example({}, [f(2, 3, 4, 4), f(3, 1, 1)], const=(1,), name="channel_scale"),
                Example({}, [f(1, 4), f(3, 1)], name="two_way_broadcast"),
                Example({}, [np.arange(6, dtype=np.int32).reshape(2, 3), np.array([2, -1, 3], np.int32)], name="int32"),
                Example({}, [f(2, 3), f(3)], opset=7, name="opset7")]
