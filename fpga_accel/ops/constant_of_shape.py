import numpy as np

from .base import REMOVED, Example, Op, register


@register
class ConstantOfShape(Op):
    op_type = "ConstantOfShape"
    placement = REMOVED
    notes = "constant shape only; folded at import"
    attrs = {"value": None}  # a one-element tensor; absent means float32 zero

    def check(self, node, graph):
        problems = super().check(node, graph)
        if not graph.is_const(node.inputs[0]):
            problems.append("the shape is computed at run time; only a constant shape is supported")
        return problems

    def _fill(self, node) -> np.ndarray:
        v = node.attrs["value"]
        return np.zeros((), np.float32) if v is None else np.asarray(v).reshape(())

    def infer(self, node, graph):
        shape = tuple(int(d) for d in graph.const(node.inputs[0]))
        if any(d < 0 for d in shape):
            raise self.fail(node, f"shape {list(shape)} has a negative dimension")
        return [(shape, self._fill(node).dtype)]

    def run(self, node, inputs):
        v = self._fill(node)
        return [np.full(tuple(int(d) for d in inputs[0]), v, v.dtype)]

    def examples(self):
        from onnx.numpy_helper import from_array  # attributes of examples are ONNX tensors

        s = np.array([2, 3, 4], np.int64)
        return [Example({}, [s], const=(0,), opset=9, name="default_zero"),
                Example({"value": from_array(np.array([7], np.int32))}, [s], const=(0,), name="int32_value"),
                Example({"value": from_array(np.array([1.5], np.float32))}, [np.array([0, 3], np.int64)],
                        const=(0,), name="empty")]
