import numpy as np

from ..pe.scale import mul_stage, scale_stage
from ..pe.stage import LoweringError
from .base import Example, register
from .family.arithmetic import channel_constant, product_layer, run_product, run_scale, scale_layer
from .family.bases import Binary, channel_lanes


def lower_scale(layer, ctx) -> list:
    """The scale PE (one computed input) or the mul PE (two computed inputs of one shape)."""
    y = layer.outputs[0]
    shape = ctx.shape(y)
    lanes = channel_lanes(ctx, shape)
    if len(layer.inputs) == 1:
        x = layer.inputs[0]
        return [scale_stage(layer.name, ctx.port(x, lanes), ctx.port(y, lanes), shape, layer.config, layer.consts)]
    if len({ctx.shape(t) for t in (*layer.inputs, y)}) != 1:
        raise LoweringError(f"broadcasting {ctx.shape(layer.inputs[0])} x {ctx.shape(layer.inputs[1])} has no "
                            f"processing element (equal shapes only)")
    a, b = (ctx.port(t, lanes) for t in layer.inputs)
    n_words = int(np.prod(shape[1:])) // lanes
    return [mul_stage(layer.name, a, b, ctx.port(y, lanes), n_words, layer.config)]


@register
class Mul(Binary):
    op_type = "Mul"
    notes = ("broadcasting in the emulator; in hardware a constant side folds into a scale, and two computed "
             "tensors need equal shapes (no PE for a broadcast such as (1,C,1,1) x (1,C,H,W))")

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

    lowering = "scale (by a scalar / per-channel constant); mul (two tensors of equal shape)"

    def lower(self, layer, ctx):
        """By a constant: the scale PE (sign, M, shift per channel). Of two tensors of one shape: the
        mul PE. PE channels per word."""
        return lower_scale(layer, ctx)

    def examples(self):
        r = np.random.default_rng(32)
        f = lambda *s: r.standard_normal(s).astype(np.float32)
        return [Example({}, [f(2, 3, 4), f(2, 3, 4)], name="same_shape"),
                Example({}, [f(2, 3, 4, 4), f(3, 1, 1)], const=(1,), name="channel_scale"),
                Example({}, [f(1, 4), f(3, 1)], name="two_way_broadcast"),
                Example({}, [np.arange(6, dtype=np.int32).reshape(2, 3), np.array([2, -1, 3], np.int32)], name="int32"),
                Example({}, [f(2, 3), f(3)], opset=7, name="opset7")]
