import numpy as np

from .base import Example, register
from .family.bases import Unary


@register
class Elu(Unary):
    op_type = "Elu"
    notes = "lookup table in hardware"
    attrs = {"alpha": 1.0}

    def fn(self, node, x):
        return np.where(x >= 0, x, np.float32(node.attrs["alpha"]) * np.expm1(np.minimum(x, 0)))

    def examples(self):
        x = np.random.default_rng(17).standard_normal((2, 3, 4)).astype(np.float32) * 2
        return [Example({}, [x], name="default"), Example({"alpha": 2.0}, [x], name="alpha"),
                Example({}, [x], opset=7, name="opset7")]
