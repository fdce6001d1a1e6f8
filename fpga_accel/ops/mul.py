import numpy as np

from .base import Example, register
from .common import Binary


@register
class Mul(Binary):
    op_type = "Mul"
    notes = "broadcasting; elementwise unit (or folded into a scale when one side is constant)"

    def fn(self, a, b):
        return np.multiply(a, b)

    def macs(self, node, graph):
        return int(np.prod(graph.shape(node.outputs[0])))  # one multiply per output element

    def examples(self):
        r = np.random.default_rng(32)
        f = lambda *s: r.standard_normal(s).astype(np.float32)
        return [Example({}, [f(2, 3, 4), f(2, 3, 4)], name="same_shape"),
                Example({}, [f(2, 3, 4, 4), f(3, 1, 1)], const=(1,), name="channel_scale"),
                Example({}, [f(1, 4), f(3, 1)], name="two_way_broadcast"),
                Example({}, [np.arange(6, dtype=np.int32).reshape(2, 3), np.array([2, -1, 3], np.int32)], name="int32"),
                Example({}, [f(2, 3), f(3)], opset=7, name="opset7")]
