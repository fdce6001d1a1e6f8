import numpy as np

from .base import Example, register
from .family.bases import Unary


@register
class LeakyRelu(Unary):
    op_type = "LeakyRelu"
    notes = "lookup table in hardware"
    attrs = {"alpha": 0.01}

    def fn(self, node, x):
        return np.where(x >= 0, x, x * np.float32(node.attrs["alpha"]))

    def examples(self):
        x = np.random.default_rng(10).standard_normal((2, 3, 4)).astype(np.float32)
        return [Example({}, [x], name="default"), Example({"alpha": 0.2}, [x], name="alpha"),
                Example({"alpha": 0.1}, [x], opset=7, name="opset7")]
