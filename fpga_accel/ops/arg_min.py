import numpy as np

from .arg_max import ArgMax
from .base import register


@register
class ArgMin(ArgMax):
    op_type = "ArgMin"

    @staticmethod
    def fn(x: np.ndarray, axis: int) -> np.ndarray:
        return np.argmin(x, axis=axis)
