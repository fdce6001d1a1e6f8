import numpy as np

from .base import HOST, Example, register
from .family.bases import Reduce


def reduce_examples(seed: int, axes_input_opset: int):
    """Examples shared by the Reduce ops: axes as attribute before ``axes_input_opset``, input after."""
    x = np.random.default_rng(seed).standard_normal((2, 3, 4)).astype(np.float32)
    a = lambda *v: np.array(v, np.int64)
    old = axes_input_opset - 1
    return [Example({}, [x], opset=old, name="all_axes"),
            Example({"axes": [1], "keepdims": 0}, [x], opset=old, name="attr_axes"),
            Example({"axes": [-1, 0]}, [x], opset=11, name="attr_negative"),
            Example({"axes": [2]}, [x], opset=7, name="opset7"),
            Example({}, [x, a(1)], const=(1,), opset=axes_input_opset, name="input_axes"),
            Example({"keepdims": 0}, [x, a(0, -1)], const=(1,), opset=axes_input_opset, name="input_nokeep"),
            Example({"noop_with_empty_axes": 1}, [x, a()], const=(1,), opset=axes_input_opset, name="noop"),
            Example({}, [x, a()], const=(1,), opset=axes_input_opset, name="empty_axes_all")]


@register
class ReduceMean(Reduce):
    op_type = "ReduceMean"
    placement = HOST
    notes = ("on the host; axes attribute (opset < 18) or constant input; over the two spatial axes of an "
             "image it becomes a GlobalAveragePool (pass reduce_mean_to_pool)")

    def fn(self, x, axes, keepdims):
        return np.mean(x, axis=axes, keepdims=keepdims)

    def macs(self, node, graph):
        return graph.info(node.inputs[0]).size

    def examples(self):
        return reduce_examples(62, 18)
