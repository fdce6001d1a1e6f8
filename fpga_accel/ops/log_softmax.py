import numpy as np

from .base import register
from .softmax import Softmax


@register
class LogSoftmax(Softmax):
    op_type = "LogSoftmax"
    notes = "on the host; opset < 13 coerces the input to 2D at axis"

    @staticmethod
    def fn(x: np.ndarray, axis: int) -> np.ndarray:
        s = x - np.max(x, axis=axis, keepdims=True)
        return s - np.log(np.sum(np.exp(s), axis=axis, keepdims=True))
