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
        if v is None:
            return np.zeros((), np.float32)
        v = np.asarray(v)
        if v.size != 1 or v.dtype.kind not in "biuf":
            raise self.fail(node, f"value must be one number, got {v.dtype} of shape {list(v.shape)}")
        return v.reshape(())

    def _shape(self, node, shape) -> tuple[int, ...]:
        shape = np.asarray(shape)
        if shape.ndim != 1 or shape.dtype.kind not in "iu":
            raise self.fail(node, f"the shape input must be a 1-D list of integers, got {shape.dtype} of "
                                  f"shape {list(shape.shape)}")
        return self.bounded(node, shape)  # before np.full allocates it

    def infer(self, node, graph):
        return [(self._shape(node, graph.const(node.inputs[0])), self._fill(node).dtype)]

    def run(self, node, inputs):
        v = self._fill(node)
        return [np.full(self._shape(node, inputs[0]), v, v.dtype)]

    def examples(self):
        from onnx.numpy_helper import from_array  # attributes of examples are ONNX tensors

        s = np.array([2, 3, 4], np.int64)
        return [Example({}, [s], const=(0,), opset=9, name="default_zero"),
                Example({"value": from_array(np.array([7], np.int32))}, [s], const=(0,), name="int32_value"),
                Example({"value": from_array(np.array([1.5], np.float32))}, [np.array([0, 3], np.int64)],
                        const=(0,), name="empty")]
