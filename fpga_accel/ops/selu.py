import numpy as np

from .base import Example, register
from .family.bases import Unary


@register
class Selu(Unary):
    op_type = "Selu"
    notes = "lookup table in hardware"
    attrs = {"alpha": 1.67326319217681884765625, "gamma": 1.05070102214813232421875}

    def fn(self, node, x):
        a, g = np.float32(node.attrs["alpha"]), np.float32(node.attrs["gamma"])
        return g * np.where(x > 0, x, a * np.expm1(np.minimum(x, 0)))

    def examples(self):
        x = np.random.default_rng(16).standard_normal((2, 3, 4)).astype(np.float32) * 2
        return [Example({}, [x], name="default"), Example({"alpha": 2.0, "gamma": 3.0}, [x], name="alpha_gamma"),
                Example({}, [x], opset=7, name="opset7")]
