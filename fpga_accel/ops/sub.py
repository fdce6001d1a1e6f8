import numpy as np

from .base import Example, register
from .common import Binary


@register
class Sub(Binary):
    op_type = "Sub"
    notes = "broadcasting; elementwise unit (or folded into a bias when one side is constant)"

    def fn(self, a, b):
        return np.subtract(a, b)

    def examples(self):
        r = np.random.default_rng(31)
        f = lambda *s: r.standard_normal(s).astype(np.float32)
        return [Example({}, [f(2, 3, 4), f(2, 3, 4)], name="same_shape"),
                Example({}, [f(2, 3, 4), f(4)], const=(1,), name="broadcast"),
                Example({}, [f(1, 4), f(3, 1)], name="two_way_broadcast"),
                Example({}, [f(2, 3), f(3)], opset=7, name="opset7")]
