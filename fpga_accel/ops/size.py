import numpy as np

from .base import REMOVED, Example, Op, register


@register
class Size(Op):
    op_type = "Size"
    placement = REMOVED
    notes = "folded at import from the known shape (batch 1)"

    def infer(self, node, graph):
        return [((), np.dtype(np.int64))]

    def run(self, node, inputs):
        return [np.array(inputs[0].size, np.int64)]

    def const_value(self, node, graph):
        return [np.array(graph.info(node.inputs[0]).size, np.int64)]

    def examples(self):
        x = np.zeros((2, 3, 4), np.float32)
        return [Example({}, [x]), Example({}, [x], opset=7, name="opset7")]
