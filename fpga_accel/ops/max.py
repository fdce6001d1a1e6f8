import numpy as np

from .base import Example, register
from .family.bases import Variadic


@register
class Max(Variadic):
    op_type = "Max"
    notes = "any number of inputs, broadcasting (opset ≥ 8)"

    def fn(self, a, b):
        return np.maximum(a, b)

    def examples(self):
        r = np.random.default_rng(34)
        f = lambda *s: r.standard_normal(s).astype(np.float32)
        return [Example({}, [f(2, 3, 4)], name="one_input"),
                Example({}, [f(2, 3, 4), f(2, 3, 4)], name="two"),
                Example({}, [f(2, 3, 4), f(3, 1), f(4)], name="three_broadcast"),
                Example({}, [f(2, 3), f(2, 3), f(2, 3)], opset=7, name="opset7")]
