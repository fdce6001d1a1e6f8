import numpy as np

from .add import lower_sum
from .base import Example, register
from .family.arithmetic import channel_constant, run_sum, sum_layer
from .family.bases import Binary


@register
class Sub(Binary):
    op_type = "Sub"
    notes = "broadcasting; elementwise unit (or folded into a bias when one side is constant)"

    def fn(self, a, b):
        return np.subtract(a, b)

    def quantize(self, node, ctx):
        """a − b as a rescaled sum in which b enters negated (family/arithmetic.py); a constant side is folded
        into the sum as an integer offset."""
        a, b = node.inputs
        if ctx.g.is_const(b):
            return sum_layer(node, ctx, [1], -channel_constant(node, ctx, b, a))
        if ctx.g.is_const(a):
            return sum_layer(node, ctx, [-1], channel_constant(node, ctx, a, b))
        return sum_layer(node, ctx, [1, -1])

    def run_int(self, layer, inputs):
        return run_sum(layer, inputs)

    lowering = "add (two computed tensors of equal shape)"

    def lower(self, layer, ctx):
        return lower_sum(layer, ctx)

    def examples(self):
        r = np.random.default_rng(31)
        f = lambda *s: r.standard_normal(s).astype(np.float32)
        return [Example({}, [f(2, 3, 4), f(2, 3, 4)], name="same_shape"),
                Example({}, [f(2, 3, 4), f(4)], const=(1,), name="broadcast"),
                Example({}, [f(1, 4), f(3, 1)], name="two_way_broadcast"),
                Example({}, [f(2, 3), f(3)], opset=7, name="opset7")]
