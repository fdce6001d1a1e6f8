import numpy as np

from .base import Example, register
from .family.bases import Unary


@register
class Exp(Unary):
    op_type = "Exp"
    notes = "lookup table in hardware"

    def fn(self, node, x):
        return np.exp(x)

    def examples(self):
        x = np.random.default_rng(21).standard_normal((2, 3, 4)).astype(np.float32) * 2
        return [Example({}, [x]), Example({}, [x], opset=7, name="opset7")]
