import numpy as np

from .base import Example, Op, register
from .family.bases import ReshapeInt


def reshape_target(node, in_shape, target) -> tuple[int, ...]:
    """ONNX Reshape: 0 copies the input dim (allowzero=0), one -1 is inferred."""
    target = [int(d) for d in target]
    if node.attrs.get("allowzero", 0) == 0:
        target = [in_shape[i] if d == 0 else d for i, d in enumerate(target)]
    size = int(np.prod(in_shape))
    if target.count(-1) > 1:
        raise Op.fail(node, f"shape {target} has more than one -1")
    if -1 in target:
        known = int(np.prod([d for d in target if d != -1]))
        if known == 0 or size % known:
            raise Op.fail(node, f"cannot reshape {tuple(in_shape)} to {target}")
        target[target.index(-1)] = size // known
    if int(np.prod(target)) != size:
        raise Op.fail(node, f"cannot reshape {tuple(in_shape)} ({size} elements) to {target}")
    return tuple(target)


@register
class Reshape(ReshapeInt, Op):
    op_type = "Reshape"
    notes = "constant shape only; the leading batch dim is kept"
    attrs = {"allowzero": 0}

    def check(self, node, graph):
        problems = super().check(node, graph)
        if not graph.is_const(node.inputs[1]):
            problems.append("the target shape is computed at run time; only a constant shape is supported")
        return problems

    def infer(self, node, graph):
        x = graph.info(node.inputs[0])
        return [(reshape_target(node, x.shape, graph.const(node.inputs[1])), x.dtype)]

    def run(self, node, inputs):
        x, shape = inputs
        return [x.reshape(reshape_target(node, x.shape, shape))]

    def examples(self):
        x = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)
        return [Example({}, [x, np.array([0, -1], np.int64)], const=(1,), name="flatten"),
                Example({}, [x, np.array([2, 4, 3], np.int64)], const=(1,), name="explicit")]
