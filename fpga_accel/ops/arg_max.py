import numpy as np

from .base import HOST, Example, Op, register
from .family.attrs import normalize_axis


@register
class ArgMax(Op):
    op_type = "ArgMax"
    placement = HOST
    notes = "on the host; keepdims, select_last_index"
    attrs = {"axis": 0, "keepdims": 1, "select_last_index": 0}

    def infer(self, node, graph):
        x = graph.info(node.inputs[0])
        axis = normalize_axis(node, node.attrs["axis"], len(x.shape))
        keep = node.attrs["keepdims"]
        return [(tuple(1 if d == axis else n for d, n in enumerate(x.shape) if keep or d != axis), np.dtype(np.int64))]

    def run(self, node, inputs):
        x = inputs[0]
        axis = normalize_axis(node, node.attrs["axis"], x.ndim)
        if node.attrs["select_last_index"]:  # the first hit in the reversed axis is the last one
            idx = x.shape[axis] - 1 - self.fn(np.flip(x, axis), axis)
        else:
            idx = self.fn(x, axis)
        if node.attrs["keepdims"]:
            idx = np.expand_dims(idx, axis)
        return [idx.astype(np.int64)]

    @staticmethod
    def fn(x: np.ndarray, axis: int) -> np.ndarray:
        return np.argmax(x, axis=axis)

    def examples(self):
        x = np.random.default_rng(61).integers(0, 3, (2, 3, 4)).astype(np.float32)  # ties on purpose
        return [Example({}, [x], name="default"), Example({"axis": -1, "keepdims": 0}, [x], name="last_nokeep"),
                Example({"axis": 1, "select_last_index": 1}, [x], name="select_last"),
                Example({"axis": 2, "keepdims": 0, "select_last_index": 1}, [x], opset=12, name="opset12"),
                Example({"axis": 1}, [x], opset=7, name="opset7")]
