import numpy as np

from .base import REMOVED, Example, Op, register


@register
class Identity(Op):
    op_type = "Identity"
    placement = REMOVED
    notes = "removed by the passes"

    def infer(self, node, graph):
        x = graph.info(node.inputs[0])
        return [(x.shape, x.dtype)]

    def run(self, node, inputs):
        return [inputs[0]]

    def examples(self):
        x = np.random.default_rng(40).standard_normal((2, 3, 4)).astype(np.float32)
        return [Example({}, [x]), Example({}, [x], opset=7, name="opset7")]
