import numpy as np

from .base import Example, register
from .family.bases import Binary


@register
class Pow(Binary):
    """x ** y with broadcasting; the result has the base's type (ONNX). Folded when constant
    (BatchNorm written as Sub/Div/Pow, as older exporters do); no integer implementation."""

    op_type = "Pow"
    notes = "broadcasting; result in the base's type; folded when constant"

    def infer(self, node, graph):
        (shape, _), = super().infer(node, graph)
        return [(shape, graph.info(node.inputs[0]).dtype)]

    def run(self, node, inputs):
        a, b = inputs
        if a.dtype.kind in "iu":  # integer base: computed exactly in int64 (float exponents rounded, as numpy)
            y = np.power(a.astype(np.int64), b.astype(np.int64) if b.dtype.kind in "iu" else b)
        else:
            y = np.power(a, b.astype(a.dtype))
        return [np.asarray(y).astype(a.dtype)]

    def fn(self, a, b):
        return np.power(a, b)

    def examples(self):
        r = np.random.default_rng(64)
        x = np.abs(r.standard_normal((2, 3, 4))).astype(np.float32) + 0.1
        return [Example({}, [x, r.standard_normal((2, 3, 4)).astype(np.float32)], name="same_shape"),
                Example({}, [x, np.array(0.5, np.float32)], const=(1,), name="sqrt"),
                Example({}, [r.standard_normal((3, 4)).astype(np.float32), np.array([2.0, 3.0, 1.0, 0.0], np.float32)],
                        const=(1,), name="broadcast"),
                Example({}, [np.array([1, 2, -3], np.int32), np.array([3, 2, 3], np.int32)], name="int32"),
                Example({}, [x, np.array(2, np.int64)], const=(1,), name="int_exponent", opset=13)]
