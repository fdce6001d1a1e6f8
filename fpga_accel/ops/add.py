import numpy as np

from ..pe.eltwise import add_stage
from ..pe.stage import LoweringError
from .base import Example, register
from .family.arithmetic import channel_constant, run_sum, sum_layer
from .family.attrs import FUSED_CLIP, apply_clip
from .family.bases import Binary, channel_lanes


def lower_sum(layer, ctx) -> list:
    """The residual add PE: two computed tensors of one shape, each rescaled by its own (possibly
    negative, for Sub) multiplier with one shared shift. PE channels per word."""
    if len(layer.inputs) != 2:
        raise LoweringError(f"{len(layer.inputs)} computed inputs; the add PE takes exactly two")
    if "offset" in layer.consts:
        raise LoweringError("a constant term has no processing element (fold it into a preceding bias)")
    y = layer.outputs[0]
    shapes = [ctx.shape(t) for t in (*layer.inputs, y)]
    if len(set(shapes)) != 1:
        raise LoweringError(f"broadcasting {shapes[0]} + {shapes[1]} has no processing element (equal shapes only)")
    lanes = channel_lanes(ctx, shapes[0])
    a, b = (ctx.port(t, lanes) for t in layer.inputs)
    n_words = int(np.prod(shapes[0][1:])) // lanes
    return [add_stage(layer.name, a, b, ctx.port(y, lanes), n_words, layer.config)]


@register
class Add(Binary):
    op_type = "Add"
    notes = ("broadcasting in the emulator, equal shapes in hardware; residual add rescales both inputs; a "
             "following Relu/Clip fuses as `clip`")
    attrs = {**FUSED_CLIP}

    def fn(self, a, b):
        return np.add(a, b)

    def run(self, node, inputs):
        return [apply_clip(node, y) for y in super().run(node, inputs)]

    def quantize(self, node, ctx):
        """Residual add: both inputs rescaled to the output (quant.rescale.add), fused clip as the
        clamp. Add of a constant: the constant joins the sum as an integer with the sum's fractional
        bits (see family/arithmetic.py), so it is rounded once, with the rest."""
        a, b = node.inputs
        if ctx.g.is_const(a) or ctx.g.is_const(b):
            c, x = (a, b) if ctx.g.is_const(a) else (b, a)
            return sum_layer(node, ctx, [1], channel_constant(node, ctx, c, x))
        return sum_layer(node, ctx, [1, 1])

    def run_int(self, layer, inputs):
        return run_sum(layer, inputs)

    lowering = "add (two computed tensors of equal shape)"

    def lower(self, layer, ctx):
        return lower_sum(layer, ctx)

    def examples(self):
        r = np.random.default_rng(30)
        f = lambda *s: r.standard_normal(s).astype(np.float32)
        return [Example({}, [f(2, 3, 4, 5), f(2, 3, 4, 5)], name="same_shape"),
                Example({}, [f(2, 3, 4, 5), f(3, 1, 1)], const=(1,), name="bias_broadcast"),
                Example({}, [f(2, 1, 4), f(3, 1)], name="two_way_broadcast"),
                Example({}, [np.arange(6, dtype=np.int64).reshape(2, 3), np.array(5, np.int64)], const=(1,), name="int64_scalar"),
                Example({}, [f(2, 3), f(3)], opset=7, name="opset7")]
