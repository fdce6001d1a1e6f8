import numpy as np

from .base import Example, register
from .family.bases import Unary


@register
class Abs(Unary):
    op_type = "Abs"
    notes = "lookup table in hardware"

    def fn(self, node, x):
        return np.abs(x)

    def examples(self):
        x = np.random.default_rng(19).standard_normal((2, 3, 4)).astype(np.float32)
        return [Example({}, [x]), Example({}, [(x * 50).astype(np.int8)], name="int8"),
                Example({}, [x], opset=7, name="opset7")]
