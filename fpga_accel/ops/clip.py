import numpy as np

from .base import Example, register
from .family.bases import Unary


@register
class Clip(Unary):
    op_type = "Clip"
    notes = "bounds as attributes (opset < 11) or constant inputs; fused into the producer as a clamp"
    attrs = {"min": None, "max": None}  # opset < 11; absent means unbounded

    def check(self, node, graph):
        problems = super().check(node, graph)
        for i, what in ((1, "min"), (2, "max")):
            if node.input(i) and not graph.is_const(node.input(i)):
                problems.append(f"the {what} bound is computed at run time; only constant bounds are supported")
        return problems

    @staticmethod
    def bounds(node, inputs) -> tuple:
        """(lo, hi) of the clamp, None for an open side."""
        lo, hi = node.attrs["min"], node.attrs["max"]
        if lo is None and hi is None:
            lo = inputs[1] if len(inputs) > 1 else None
            hi = inputs[2] if len(inputs) > 2 else None
        return lo, hi

    def run(self, node, inputs):
        x = inputs[0]
        lo, hi = self.bounds(node, inputs)
        y = x if lo is None else np.maximum(x, lo)
        y = y if hi is None else np.minimum(y, hi)  # min > max gives max everywhere, as ONNX says
        return [y.astype(x.dtype, copy=False)]

    def examples(self):
        x = np.random.default_rng(11).standard_normal((2, 3, 4)).astype(np.float32) * 3
        f = lambda v: np.array(v, np.float32)
        return [Example({}, [x, f(-1), f(2)], const=(1, 2), name="min_max"),
                Example({}, [x, f(0)], const=(1,), name="min_only"),
                Example({}, [x, None, f(6)], const=(2,), name="max_only"),
                Example({}, [x], name="unbounded"),
                Example({}, [x, f(1), f(-1)], const=(1, 2), name="min_above_max"),
                Example({}, [x.astype(np.int32), np.array(-2, np.int32), np.array(3, np.int32)], const=(1, 2),
                        name="int32"),
                Example({"min": 0.0, "max": 6.0}, [x], opset=7, name="attrs_opset7"),
                Example({"max": 0.5}, [x], opset=10, name="attr_max_opset10")]
