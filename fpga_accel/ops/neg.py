import numpy as np

from .base import Example, register
from .family.bases import Unary


@register
class Neg(Unary):
    op_type = "Neg"
    notes = "lookup table in hardware"

    def fn(self, node, x):
        return np.negative(x)

    def examples(self):
        x = np.random.default_rng(20).standard_normal((2, 3, 4)).astype(np.float32)
        return [Example({}, [x]), Example({}, [(x * 50).astype(np.int32)], name="int32"),
                Example({}, [x], opset=7, name="opset7")]
