import numpy as np

from .base import Example, register
from .family.bases import Unary


@register
class HardSigmoid(Unary):
    op_type = "HardSigmoid"
    notes = "max(0, min(1, alpha·x + beta)); lookup table in hardware"
    attrs = {"alpha": 0.2, "beta": 0.5}

    def fn(self, node, x):
        a, b = np.float32(node.attrs["alpha"]), np.float32(node.attrs["beta"])
        return np.clip(x * a + b, 0, 1)

    def examples(self):
        x = np.random.default_rng(14).standard_normal((2, 3, 4)).astype(np.float32) * 4
        return [Example({}, [x], name="default"), Example({"alpha": 0.5, "beta": 0.6}, [x], name="alpha_beta"),
                Example({"alpha": 1 / 6}, [x], opset=7, name="opset7")]
