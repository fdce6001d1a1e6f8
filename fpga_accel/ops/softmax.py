import numpy as np

from .base import HOST, Example, Op, register
from .family.attrs import normalize_axis


@register
class Softmax(Op):
    op_type = "Softmax"
    placement = HOST
    notes = "on the host; opset < 13 coerces the input to 2D at axis"
    # coerce_2d (set at import, not ONNX): opset < 13 semantics, the input viewed as
    # (prod(shape[:axis]), prod(shape[axis:])) and normalised over the second dimension
    attrs = {"axis": -1, "coerce_2d": 0}

    def upgrade(self, node, opset):
        if opset < 13:
            node.attrs.setdefault("axis", 1)
            node.attrs["coerce_2d"] = 1

    def infer(self, node, graph):
        x = graph.info(node.inputs[0])
        normalize_axis(node, node.attrs["axis"], len(x.shape))
        return [(x.shape, x.dtype)]

    def run(self, node, inputs):
        x = inputs[0]
        axis = normalize_axis(node, node.attrs["axis"], x.ndim)
        if node.attrs["coerce_2d"]:
            y = self.fn(x.reshape(int(np.prod(x.shape[:axis], dtype=np.int64)), -1), 1)
            return [y.reshape(x.shape).astype(x.dtype, copy=False)]
        return [self.fn(x, axis).astype(x.dtype, copy=False)]

    @staticmethod
    def fn(x: np.ndarray, axis: int) -> np.ndarray:
        e = np.exp(x - np.max(x, axis=axis, keepdims=True))
        return e / np.sum(e, axis=axis, keepdims=True)

    def examples(self):
        x = np.random.default_rng(60).standard_normal((2, 3, 4)).astype(np.float32) * 3
        x[0, 0, 0] = 1000  # stable for large inputs
        return [Example({}, [x], name="default_last"), Example({"axis": 1}, [x], name="axis1"),
                Example({"axis": 0}, [x], name="axis0"),
                Example({}, [x], opset=11, name="default_opset11_2d"),
                Example({"axis": 0}, [x], opset=7, name="axis0_opset7_2d"),
                Example({"axis": -1}, [x], opset=12, name="last_opset12")]
