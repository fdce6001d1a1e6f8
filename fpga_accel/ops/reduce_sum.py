import numpy as np

from .base import HOST, register
from .family.bases import Reduce
from .reduce_mean import reduce_examples


@register
class ReduceSum(Reduce):
    op_type = "ReduceSum"
    placement = HOST
    notes = "on the host; axes attribute (opset < 13) or constant input"

    def fn(self, x, axes, keepdims):
        return np.sum(x, axis=axes, keepdims=keepdims)

    def macs(self, node, graph):
        return graph.info(node.inputs[0]).size

    def examples(self):
        return reduce_examples(64, 13)
