import numpy as np

from .base import Example, register
from .common import Binary
from .int_arith import channel_constant, product_layer, run_product, run_scale, scale_layer


@register
class Mul(Binary):
    op_type = "Mul"
    notes = "broadcasting; elementwise unit (or folded into a scale when one side is constant)"

    def fn(self, a, b):
        return np.multiply(a, b)

    def quantize(self, node, ctx):
        """By a scalar or per-channel constant: per-channel requantisation, the sign carried by the
        centred input (int_arith). Of two tensors: the product of the centred inputs, requantised."""
        a, b = node.inputs
        if ctx.g.is_const(a) or ctx.g.is_const(b):
            c, x = (a, b) if ctx.g.is_const(a) else (b, a)
            return scale_layer(node, ctx, x, channel_constant(node, ctx, c, x))
        return product_layer(node, ctx)

    def run_int(self, layer, inputs):
        return run_scale(layer, inputs[0]) if len(inputs) == 1 else run_product(layer, *inputs)

    def macs(self, node, graph):
        return int(np.prod(graph.shape(node.outputs[0])))  # one multiply per output element

    def examples(self):
        r = np.random.default_rng(32)
        f = lambda *s: r.standard_normal(s).astype(np.float32)
        return [Example({}, [f(2, 3, 4), f(2, 3, 4)], name="same_shape"),
                Example({}, [f(2, 3, 4, 4), f(3, 1, 1)], const=(1,), name="channel_scale"),
                Example({}, [f(1, 4), f(3, 1)], name="two_way_broadcast"),
                Example({}, [np.arange(6, dtype=np.int32).reshape(2, 3), np.array([2, -1, 3], np.int32)], name="int32"),
                Example({}, [f(2, 3), f(3)], opset=7, name="opset7")]
