import numpy as np

from .base import Example, register, unsupported
from .family.arithmetic import channel_constant, run_scale, scale_layer
from .family.bases import Binary
from .mul import lower_scale


@register
class Div(Binary):
    op_type = "Div"
    notes = "broadcasting; integers divide truncating toward zero, as in C"

    def fn(self, a, b):
        if np.result_type(a, b).kind not in "iu":
            return np.divide(a, b)
        q = np.floor_divide(a, b)
        return q + ((q < 0) & (q * b != a))  # floor → truncation for negative quotients

    def quantize(self, node, ctx):
        """By a scalar or per-channel constant: Mul by its reciprocal (family/arithmetic.py). A computed divisor
        has no integer implementation."""
        a, b = node.inputs
        if not ctx.g.is_const(b) or ctx.g.is_const(a):
            raise unsupported(node, "only division of a computed tensor by a constant has an integer "
                                    "implementation", ctx.g)
        c = channel_constant(node, ctx, b, a)
        if np.any(c == 0):
            raise unsupported(node, f"the constant divisor '{b}' contains 0", ctx.g)
        return scale_layer(node, ctx, a, 1.0 / c)

    def run_int(self, layer, inputs):
        return run_scale(layer, inputs[0])

    def macs(self, node, graph):
        return int(np.prod(graph.shape(node.outputs[0])))

    lowering = "scale (by a scalar / per-channel constant)"

    def lower(self, layer, ctx):
        """Division by a constant is the scale PE with the reciprocal's multipliers."""
        return lower_scale(layer, ctx)

    def examples(self):
        r = np.random.default_rng(33)
        f = lambda *s: r.standard_normal(s).astype(np.float32)
        i = np.array([[7, -7, 9], [-9, 0, 5]], np.int32)
        return [Example({}, [f(2, 3, 4), f(2, 3, 4) + 3], name="same_shape"),
                Example({}, [f(2, 3, 4), np.array([2.0, 4.0, 8.0, 0.5], np.float32)], const=(1,), name="broadcast"),
                Example({}, [i, np.array([2, 2, -4], np.int32)], name="int32_truncates"),
                Example({}, [f(2, 3), f(3) + 3], opset=7, name="opset7")]
