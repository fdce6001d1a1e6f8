import math

import numpy as np

from .base import REMOVED, Example, Op, register


def range_length(start, limit, delta) -> int:
    """max(ceil((limit - start) / delta), 0); a ValueError when that is not a finite number."""
    start, limit, delta = (float(np.asarray(v).reshape(())) for v in (start, limit, delta))
    if delta == 0:
        raise ValueError("delta is 0")
    n = (limit - start) / delta
    if not math.isfinite(n):
        raise ValueError(f"start {start:g}, limit {limit:g} and delta {delta:g} give no finite length")
    return max(math.ceil(n), 0)


def range_values(start, limit, delta) -> np.ndarray:
    """ONNX Range: start + i·delta for i < max(ceil((limit - start) / delta), 0)."""
    n = range_length(start, limit, delta)
    start, delta = (np.asarray(v).reshape(()) for v in (start, delta))
    return (start + np.arange(n, dtype=start.dtype) * delta).astype(start.dtype)


@register
class Range(Op):
    op_type = "Range"
    placement = REMOVED
    notes = "constant start/limit/delta only; folded at import"

    def check(self, node, graph):
        problems = super().check(node, graph)
        if not all(graph.is_const(i) for i in node.inputs):
            problems.append("start, limit and delta must be constants (the output size must be known)")
        return problems

    def infer(self, node, graph):
        return [(self.run(node, [graph.const(i) for i in node.inputs])[0].shape, graph.info(node.inputs[0]).dtype)]

    def run(self, node, inputs):
        if any(np.asarray(v).size != 1 for v in inputs):
            raise self.fail(node, f"start, limit and delta must be scalars, got shapes "
                                  f"{[list(np.shape(v)) for v in inputs]}")
        try:
            self.bounded(node, (range_length(*inputs),))  # before np.arange allocates it
            return [range_values(*inputs)]
        except ValueError as e:
            raise self.fail(node, f"{e}; the range would never end")

    def examples(self):
        f, i = (lambda v: np.array(v, np.float32)), (lambda v: np.array(v, np.int64))
        return [Example({}, [i(1), i(10), i(3)], const=(0, 1, 2), opset=11, name="int"),
                Example({}, [f(10), f(6), f(-3)], const=(0, 1, 2), opset=11, name="float_down"),
                Example({}, [i(5), i(1), i(2)], const=(0, 1, 2), opset=11, name="empty")]
