import numpy as np

from .base import REMOVED, Example, Op, register
from .family.attrs import normalize_axis


@register
class Gather(Op):
    op_type = "Gather"
    placement = REMOVED
    notes = "constant indices: folded at import (constant data) or a fixed selection of runtime data"
    attrs = {"axis": 0}

    def check(self, node, graph):
        problems = super().check(node, graph)
        if not graph.is_const(node.inputs[1]):
            problems.append("the indices are computed at run time; only constant indices are supported")
        return problems

    def infer(self, node, graph):
        x = graph.info(node.inputs[0])
        idx = graph.const(node.inputs[1])
        axis = normalize_axis(node, node.attrs["axis"], len(x.shape))
        n = x.shape[axis]
        if idx is not None and idx.size and (idx.min() < -n or idx.max() >= n):
            raise self.fail(node, f"indices {idx.ravel().tolist()} are out of range for axis {axis} of size {n}")
        idx_shape = graph.shape(node.inputs[1])
        return [(x.shape[:axis] + idx_shape + x.shape[axis + 1:], x.dtype)]

    def run(self, node, inputs):
        x, idx = inputs
        axis = normalize_axis(node, node.attrs["axis"], x.ndim)
        return [np.take(x, np.where(idx < 0, idx + x.shape[axis], idx), axis=axis)]

    def examples(self):
        x = np.random.default_rng(43).standard_normal((2, 5, 4)).astype(np.float32)
        i = lambda *v: np.array(v, np.int64)
        return [Example({"axis": 1}, [x, i(0, 3, 1)], const=(1,), name="axis1"),
                Example({"axis": -1}, [x, np.array([[0, 1], [3, -1]], np.int64)], const=(1,), name="2d_negative"),
                Example({"axis": 1}, [x, np.array(2, np.int64)], const=(1,), name="scalar_index"),
                Example({}, [x, i(1, 0)], const=(1,), name="axis0"),
                Example({"axis": 2}, [x, np.array([3, 0], np.int32)], const=(1,), opset=7, name="opset7")]
