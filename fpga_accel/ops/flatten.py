import numpy as np

from .base import Example, Op, register
from .family.bases import ReshapeInt


@register
class Flatten(ReshapeInt, Op):
    op_type = "Flatten"
    notes = "axis ≥ 1 (axis 0 only on a model fixed to batch 1); free in the stream"
    attrs = {"axis": 1}

    def _axis(self, node, rank: int) -> int:
        axis = node.attrs["axis"]
        if not -rank <= axis <= rank:
            raise self.fail(node, f"axis {axis} is out of range for rank {rank}")
        return axis + rank if axis < 0 else axis

    def check(self, node, graph):
        problems = super().check(node, graph)
        shape = graph.shape(node.inputs[0])
        rank = len(shape)
        if node.attrs["axis"] in (0, -rank) and shape[0] == 1 and graph.batch_symbol is None:
            # a model exported for batch 1 (tf2onnx): axis 0 and axis 1 give the same (1, X) tensor,
            # and axis 1 keeps each image separate when the IR runs on larger batches
            node.attrs["axis"] = 1
        if node.attrs["axis"] in (0, -rank) and not graph.is_const(node.inputs[0]):
            problems.append(f"axis={node.attrs['axis']} flattens the batch dimension into the features; "
                            "use axis ≥ 1 (or Reshape) so each image stays separate")
        return problems

    def _shape(self, node, shape) -> tuple[int, int]:
        axis = self._axis(node, len(shape))
        return int(np.prod(shape[:axis], dtype=np.int64)), int(np.prod(shape[axis:], dtype=np.int64))

    def infer(self, node, graph):
        x = graph.info(node.inputs[0])
        return [(self._shape(node, x.shape), x.dtype)]

    def run(self, node, inputs):
        return [inputs[0].reshape(self._shape(node, inputs[0].shape))]

    def examples(self):
        x = np.random.default_rng(52).standard_normal((2, 3, 4, 5)).astype(np.float32)
        return [Example({}, [x], name="default"), Example({"axis": 2}, [x], name="axis2"),
                Example({"axis": -1}, [x], name="negative"), Example({"axis": 4}, [x], name="axis_rank"),
                Example({"axis": 3}, [x], opset=7, name="opset7")]
