import numpy as np

from .add import lower_sum
from .base import Example, register
from .family.arithmetic import channel_constant, run_sum, sum_layer
from .family.bases import Variadic


@register
class Sum(Variadic):
    op_type = "Sum"
    notes = "any number of inputs, broadcasting (opset ≥ 8)"

    def fn(self, a, b):
        return np.add(a, b)

    def quantize(self, node, ctx):
        """All inputs rescaled to the output with one shared shift (quant.rescale.add); constant
        inputs are folded into the sum as one integer offset."""
        tensors = [i for i in node.inputs if not ctx.g.is_const(i)]
        consts = [channel_constant(node, ctx, i, tensors[0]) for i in node.inputs if tensors and ctx.g.is_const(i)]
        return sum_layer(node, ctx, [1] * len(tensors), sum(consts) if consts else None)

    def run_int(self, layer, inputs):
        return run_sum(layer, inputs)

    lowering = "add (two computed tensors of equal shape)"

    def lower(self, layer, ctx):
        return lower_sum(layer, ctx)

    def examples(self):
        r = np.random.default_rng(36)
        f = lambda *s: r.standard_normal(s).astype(np.float32)
        return [Example({}, [f(2, 3, 4)], name="one_input"),
                Example({}, [f(2, 3, 4), f(2, 3, 4)], name="two"),
                Example({}, [f(2, 3, 4), f(3, 1), f(4)], name="three_broadcast"),
                Example({}, [f(2, 3), f(2, 3), f(2, 3)], opset=7, name="opset7")]
