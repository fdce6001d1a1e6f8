import numpy as np

from .base import Example, register
from .globalaveragepool import GlobalPool


@register
class GlobalMaxPool(GlobalPool):
    op_type = "GlobalMaxPool"
    notes = "max over all spatial positions, 1D/2D/3D"

    def reduce(self, x, axes):
        return x.max(axis=axes, keepdims=True)

    def examples(self):
        r = np.random.default_rng(6)
        f = lambda *s: r.standard_normal(s).astype(np.float32)
        return [Example({}, [f(2, 3, 5, 6)], name="2d"), Example({}, [f(1, 4, 9)], name="1d"),
                Example({}, [f(1, 2, 3, 4, 5)], name="3d")]
