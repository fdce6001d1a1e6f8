import numpy as np

from .base import Example, register
from .family.bases import Unary


@register
class HardSwish(Unary):
    op_type = "HardSwish"
    notes = "x·max(0, min(1, x/6 + 1/2)) (opset 14); lookup table in hardware"

    def fn(self, node, x):
        return x * np.clip(x * np.float32(1 / 6) + np.float32(0.5), 0, 1)

    def examples(self):
        x = np.random.default_rng(15).standard_normal((2, 3, 4)).astype(np.float32) * 4
        return [Example({}, [x], opset=14)]
