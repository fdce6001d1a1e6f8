import numpy as np

from .base import HOST, register
from .family.bases import Reduce
from .reduce_mean import reduce_examples


@register
class ReduceMax(Reduce):
    op_type = "ReduceMax"
    placement = HOST
    notes = "on the host; axes attribute (opset < 18) or constant input"

    def fn(self, x, axes, keepdims):
        lowest = -np.inf if x.dtype.kind == "f" else False if x.dtype.kind == "b" else np.iinfo(x.dtype).min
        return np.max(x, axis=axes, keepdims=keepdims, initial=lowest)

    def examples(self):
        return reduce_examples(63, 18)
