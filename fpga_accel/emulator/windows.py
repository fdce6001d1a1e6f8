"""Window views and padding of numpy tensors: the array kernels of the convolution and pooling
references, float and integer (op files and the emulator call them; no op lives here).

Windows are strided views, never copies; padding widens an integer dtype that cannot hold the
padding value.
"""
from __future__ import annotations

import numpy as np


def windows(x: np.ndarray, kernel, strides, dilations, out_spatial) -> np.ndarray:
    """Strided view of all windows: (N, C, *out_spatial, *kernel), x already padded."""
    n_sp = len(kernel)
    view_shape = x.shape[:2] + tuple(out_spatial) + tuple(kernel)
    st = x.strides
    view_strides = st[:2] + tuple(st[2 + d] * strides[d] for d in range(n_sp)) + tuple(
        st[2 + d] * dilations[d] for d in range(n_sp))
    return np.lib.stride_tricks.as_strided(x, view_shape, view_strides, writeable=False)


def pad_spatial(x: np.ndarray, pads: list[int], value: float = 0.0) -> np.ndarray:
    n = len(pads) // 2
    need = [(0, 0), (0, 0)] + [(pads[d], pads[d + n]) for d in range(n)]
    if not any(pads):
        return x
    return np.pad(x, need, constant_values=value)


# --- channels-last tensors (the integer references) ---------------------------------------
def windows_nhwc(x: np.ndarray, kernel, strides, dilations, out_spatial) -> np.ndarray:
    """Strided view of all windows of a padded channels-last tensor: (N, *out, *kernel, C)."""
    n_sp = len(kernel)
    st = x.strides
    shape = (x.shape[0], *out_spatial, *kernel, x.shape[-1])
    strides_ = (st[0], *(st[1 + d] * strides[d] for d in range(n_sp)),
                *(st[1 + d] * dilations[d] for d in range(n_sp)), st[-1])
    return np.lib.stride_tricks.as_strided(x, shape, strides_, writeable=False)


def pad_nhwc(x: np.ndarray, pads, value: int) -> np.ndarray:
    """Pad the spatial axes of a channels-last tensor (ONNX pads order) with ``value``."""
    n = len(pads) // 2
    if not any(pads):
        return x
    return np.pad(holding(x, value), [(0, 0)] + [(pads[d], pads[d + n]) for d in range(n)] + [(0, 0)],
                  constant_values=value)


def holding(x: np.ndarray, value) -> np.ndarray:
    """``x``, in a wider integer dtype if its own cannot hold ``value``: layers hand on integers in the
    narrowest dtype that holds their outputs, which need not hold a padding value (qmin, zp)."""
    if x.dtype.kind in "iu" and not np.iinfo(x.dtype).min <= value <= np.iinfo(x.dtype).max:
        return x.astype(np.promote_types(x.dtype, np.min_scalar_type(value)))
    return x


def padded(x: np.ndarray, pads, extra, value) -> np.ndarray:
    """``x`` (N, C, *spatial) padded with ``value``: ``pads`` before/after, then ``extra`` after."""
    n = len(extra)
    width = [(0, 0), (0, 0)] + [(pads[d], pads[d + n] + extra[d]) for d in range(n)]
    if not any(p for w in width for p in w):
        return x
    return np.pad(x, width, constant_values=value)


def lowest(dtype) -> float | int:
    """The padding value of a max: the type's lowest finite value, as onnxruntime starts from
    (a window that sees no input at all gives it, not -inf)."""
    dtype = np.dtype(dtype)
    return np.finfo(dtype).min if dtype.kind == "f" else np.iinfo(dtype).min


def window_taps(x: np.ndarray, kernel, strides, dilations, out_spatial):
    """Every kernel tap of a padded channels-last tensor as a strided view (N, *out, C), one per tap.

    Reducing the taps with a binary ufunc (np.maximum, np.add) is much faster than reducing the
    window axes of one big strided view, and gives the same integers.
    """
    for tap in np.ndindex(*kernel):
        starts = [t * d for t, d in zip(tap, dilations)]
        yield x[(slice(None), *(slice(b, b + (o - 1) * s + 1, s) for b, o, s in zip(starts, out_spatial, strides)),
                 slice(None))]
