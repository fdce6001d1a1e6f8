import numpy as np

from .base import Example, register
from .common import Binary


@register
class Div(Binary):
    op_type = "Div"
    notes = "broadcasting; integers divide truncating toward zero, as in C"

    def fn(self, a, b):
        if np.result_type(a, b).kind not in "iu":
            return np.divide(a, b)
        q = np.floor_divide(a, b)
        return q + ((q < 0) & (q * b != a))  # floor → truncation for negative quotients

    def macs(self, node, graph):
        return int(np.prod(graph.shape(node.outputs[0])))

    def examples(self):
        r = np.random.default_rng(33)
        f = lambda *s: r.standard_normal(s).astype(np.float32)
        i = np.array([[7, -7, 9], [-9, 0, 5]], np.int32)
        return [Example({}, [f(2, 3, 4), f(2, 3, 4) + 3], name="same_shape"),
                Example({}, [f(2, 3, 4), np.array([2.0, 4.0, 8.0, 0.5], np.float32)], const=(1,), name="broadcast"),
                Example({}, [i, np.array([2, 2, -4], np.int32)], name="int32_truncates"),
                Example({}, [f(2, 3), f(3) + 3], opset=7, name="opset7")]
