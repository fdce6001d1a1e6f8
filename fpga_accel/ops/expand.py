import numpy as np

from .base import REMOVED, Example, Op, register


@register
class Expand(Op):
    op_type = "Expand"
    placement = REMOVED
    notes = "constant target shape; folded at import when the data is constant too"

    def check(self, node, graph):
        problems = super().check(node, graph)
        if not graph.is_const(node.inputs[1]):
            problems.append("the target shape is computed at run time; only a constant shape is supported")
        return problems

    def _shape(self, node, x_shape, target):
        target = np.asarray(target)
        if target.ndim != 1 or target.dtype.kind not in "iu":
            raise self.fail(node, f"the target shape must be a 1-D list of integers, got {target.dtype} of "
                                  f"shape {list(target.shape)}")
        try:  # ONNX Expand broadcasts both ways: a 1 in the target keeps the input dim
            shape = np.broadcast_shapes(tuple(x_shape), tuple(int(d) for d in target))
        except ValueError:
            raise self.fail(node, f"input of shape {tuple(x_shape)} cannot expand to {[int(d) for d in target]}") from None
        return self.bounded(node, shape)  # before the expanded copy is allocated

    def infer(self, node, graph):
        x = graph.info(node.inputs[0])
        return [(self._shape(node, x.shape, graph.const(node.inputs[1])), x.dtype)]

    def run(self, node, inputs):
        x, target = inputs
        return [np.array(np.broadcast_to(x, self._shape(node, x.shape, target)))]

    def examples(self):
        x = np.random.default_rng(44).standard_normal((3, 1)).astype(np.float32)
        s = lambda *v: np.array(v, np.int64)
        return [Example({}, [x, s(2, 3, 4)], const=(1,), name="grow_rank"),
                Example({}, [x, s(1, 1)], const=(1,), name="keep_dims"),
                Example({}, [x, s(3, 5)], const=(1,), opset=8, name="opset8")]
