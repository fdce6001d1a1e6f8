import numpy as np

from .base import REMOVED, Example, Op, register


def shape_slice(node, rank: int) -> slice:
    """ONNX Shape start/end (opset 15): negative from the end, clamped to [0, rank]."""
    def clamp(v, default):
        v = default if v is None else int(v)
        return min(max(v + rank if v < 0 else v, 0), rank)
    return slice(clamp(node.attrs["start"], 0), clamp(node.attrs["end"], rank))


@register
class Shape(Op):
    op_type = "Shape"
    placement = REMOVED
    notes = "folded at import from the known shape (batch 1); start/end (opset 15)"
    attrs = {"start": 0, "end": None}

    def infer(self, node, graph):
        shape = graph.shape(node.inputs[0])
        return [((len(shape[shape_slice(node, len(shape))]),), np.dtype(np.int64))]

    def run(self, node, inputs):
        x = inputs[0]
        return [np.array(x.shape[shape_slice(node, x.ndim)], np.int64)]

    def const_value(self, node, graph):
        shape = graph.shape(node.inputs[0])  # known even when the data is not
        return [np.array(shape[shape_slice(node, len(shape))], np.int64)]

    def examples(self):
        x = np.zeros((2, 3, 4, 5), np.float32)
        return [Example({}, [x], name="all"), Example({"start": 1}, [x], opset=15, name="start"),
                Example({"start": -3, "end": -1}, [x], opset=15, name="negative"),
                Example({"start": 2, "end": 1}, [x], opset=15, name="empty"),
                Example({"end": 10}, [x], opset=15, name="clamped"), Example({}, [x], opset=7, name="opset7")]
