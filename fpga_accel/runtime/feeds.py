"""Checking what users hand a session: names, batch shapes, dtypes, finite values, integer
ranges, and inputs beyond what the hardware's integers represent (files are read by
:mod:`fpga_accel.arrays`).

Every error is an :class:`~fpga_accel.errors.InputError` naming the input and what it should be.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..errors import InputError


class SaturationWarning(UserWarning):
    """Inputs fall outside the range the model was calibrated for and are clamped."""


def saturated(x: np.ndarray, params) -> int:
    """How many values of ``x`` lie more than half a step outside what ``params`` represent
    (quantisation clamps them to the type's limits)."""
    with np.errstate(over="ignore", invalid="ignore"):
        q = np.rint(np.divide(x, params.broadcast_scale(np.shape(x)), dtype=np.float64)) + params.zero_point
    return int(np.count_nonzero((q < params.qmin) | (q > params.qmax)))


def warn_saturation(pre: dict[str, np.ndarray], qtensors) -> bool:
    """A :class:`SaturationWarning` naming each hardware input with values clamped by its
    quantisation, with the fraction clamped; True when one was given."""
    hot = []
    for t in qtensors:
        x = pre[t.name]
        n = saturated(x, t.qparams)
        if n:
            p = t.qparams
            lo, hi = (p.qmin - p.zero_point) * p.scale, (p.qmax - p.zero_point) * p.scale
            hot.append(f"'{t.name}' {n:,} of {x.size:,} ({100 * n / x.size:.2f}%) outside [{lo:.4g}, {hi:.4g}]")
    if hot:
        import warnings

        warnings.warn(f"inputs beyond the calibrated range are clamped: {'; '.join(hot)}. Check that they are "
                      f"preprocessed as the calibration data was (this warning is given once per session)",
                      SaturationWarning, stacklevel=2)
    return bool(hot)


def by_name(inputs, names: list[str], what: str = "input") -> dict[str, np.ndarray]:
    """``x`` (for a single input) or ``{name: x}`` → ``{name: array}``, names checked."""
    if not isinstance(inputs, Mapping):
        if len(names) != 1:
            raise InputError(f"the model has {what}s {names}; pass a dict keyed by {what} name")
        return {names[0]: np.asarray(inputs)}
    missing = [n for n in names if n not in inputs]
    extra = [n for n in inputs if n not in names]
    if missing or extra:
        raise InputError(f"{what}s must be {names}; missing {missing}, unexpected {extra}")
    return {n: np.asarray(inputs[n]) for n in names}


def _shape(feeds: dict[str, np.ndarray], name: str, want: tuple[int, ...], what: str) -> None:
    x = feeds[name]
    if x.ndim != len(want) or tuple(x.shape[1:]) != tuple(want[1:]):
        raise InputError(f"{what} '{name}' has shape {x.shape}; expected {('N',) + tuple(want[1:])} (N = batch)")
    if x.shape[0] == 0:
        raise InputError(f"{what} '{name}' holds no samples (N = 0)")


def batch_size(feeds: dict[str, np.ndarray]) -> int:
    n = {x.shape[0] for x in feeds.values()}
    if len(n) > 1:
        raise InputError(f"inputs hold different numbers of samples: "
                         f"{ {k: v.shape[0] for k, v in feeds.items()} }")
    return n.pop()


def check_float(feeds: dict[str, np.ndarray], infos) -> dict[str, np.ndarray]:
    """Float inputs of the model (``infos``: TensorInfos): numeric, (N, ...) shaped, finite."""
    out = {}
    for t in infos:
        x = feeds[t.name]
        if x.dtype.kind not in "iuf":
            raise InputError(f"input '{t.name}' has dtype {x.dtype}; expected numbers ({t.dtype})")
        want = np.dtype(t.dtype)
        if x.dtype.kind in "iu" and want.kind == "f":
            # onnxruntime refuses these too: integers here are most often unscaled data (pixels 0..255)
            raise InputError(f"input '{t.name}' has dtype {x.dtype}, but the model takes {want} for it; integers "
                             f"are not converted silently (they are usually data not yet preprocessed, e.g. "
                             f"pixels 0..255). Convert and preprocess them as for the float model (e.g. "
                             f"x.astype(np.{want}) and the model's scaling), or give the hardware integers "
                             f"with --raw (Python: run(..., raw=True))")
        _shape(feeds, t.name, t.shape, "input")
        if x.dtype.kind == "f":
            bad = ~np.isfinite(x)
            if bad.any():
                first = int(np.flatnonzero(bad.reshape(x.shape[0], -1).any(axis=1))[0])
                raise InputError(f"input '{t.name}' contains {int(bad.sum())} NaN/Inf value(s) (first in "
                                 f"sample {first}); the accelerator needs finite numbers")
        with np.errstate(over="ignore"):  # overflow is reported below, by name
            y = x.astype(t.dtype, copy=False)
        if y.dtype.kind == "f" and y is not x and not np.isfinite(y).all():
            big = float(np.max(np.abs(x[~np.isfinite(y)])))
            raise InputError(f"input '{t.name}' holds values too large for {y.dtype} (|x| up to {big:.3g}); "
                             "scale the inputs as the model expects")
        out[t.name] = y
    batch_size(out)
    return out


def check_raw(feeds: dict[str, np.ndarray], qtensors) -> dict[str, np.ndarray]:
    """Hardware integers (``qtensors``: the QModel's inputs): integer dtype, shape, inside the qtype."""
    out = {}
    for t in qtensors:
        x, q = feeds[t.name], t.qparams.qtype
        if x.dtype.kind not in "iu":
            raise InputError(f"raw input '{t.name}' has dtype {x.dtype}; expected {q.name} integers "
                             f"(stored as {q.dtype})")
        _shape(feeds, t.name, t.shape, "raw input")
        lo, hi = int(x.min()), int(x.max())
        if lo < q.min or hi > q.max:
            raise InputError(f"raw input '{t.name}' has values in [{lo}, {hi}], outside {q.name} [{q.min}, {q.max}]")
        out[t.name] = x.astype(q.dtype, copy=False)
    batch_size(out)
    return out
