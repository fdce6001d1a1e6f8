"""Calibration: load user data, run the float graph over it, observe every tensor's range."""
from __future__ import annotations

import os
import warnings
from typing import Iterable, Mapping

import numpy as np

from ..arrays import read_arrays
from ..errors import InputError
from ..ir.execute import run_graph
from .observers import Observer, observer
from .params import QuantWarning


def load_calibration(data, inputs) -> dict[str, np.ndarray]:
    """Calibration samples per model input from a path (.npy / .npz), an array or a dict.

    ``inputs`` are the model's input TensorInfos. A .npy (or a bare array) feeds a single-input
    model; a .npz or dict is keyed by input name. The batch is axis 0. Shapes, dtypes, emptiness
    and NaN/Inf are checked here, each error naming the input and the file.
    """
    where = "calibration data"
    names = [t.name for t in inputs]
    if isinstance(data, (str, os.PathLike)):
        where = os.fspath(data)
        if not os.path.isfile(where):
            raise InputError(f"{where}: calibration file not found")
        data = read_arrays(where, names)
    if isinstance(data, Mapping):
        missing = [n for n in names if n not in data]
        if missing:
            raise InputError(f"{where}: no samples for input(s) {missing}; found keys {sorted(data)}")
        feeds = {n: np.asarray(data[n]) for n in names}
    else:
        if len(names) != 1:
            raise InputError(f"{where}: the model has inputs {names}; give a .npz keyed by input name")
        feeds = {names[0]: np.asarray(data)}
    for t in inputs:
        x = feeds[t.name]
        want = ("N",) + tuple(t.shape[1:])
        if x.dtype.kind not in "iuf":
            raise InputError(f"{where}: input '{t.name}' has dtype {x.dtype}; expected numbers of shape {want}")
        if x.ndim != len(t.shape) or tuple(x.shape[1:]) != tuple(t.shape[1:]):
            raise InputError(f"{where}: input '{t.name}' has shape {x.shape}; expected {want} (N samples)")
        if x.shape[0] == 0:
            raise InputError(f"{where}: input '{t.name}' holds no samples")
        bad = ~np.isfinite(x) if x.dtype.kind == "f" else np.zeros(0, bool)
        if bad.any():
            first = int(np.flatnonzero(bad.reshape(x.shape[0], -1).any(axis=1))[0])
            raise InputError(f"{where}: input '{t.name}' contains {int(bad.sum())} NaN/Inf value(s) "
                             f"(first in sample {first}); clean the data")
        warn_implausible(x, t, where)
        feeds[t.name] = x.astype(t.dtype, copy=False)
    n = {x.shape[0] for x in feeds.values()}
    if len(n) > 1:
        raise InputError(f"{where}: inputs hold different numbers of samples {sorted(n)}")
    return feeds


#: calibration values beyond this magnitude (or all below its inverse) are not what networks are
#: trained on: the ranges would fit the data and not the model's weights
IMPLAUSIBLE = 1e6


def warn_implausible(x: np.ndarray, t, where: str) -> None:
    """A :class:`QuantWarning` for calibration data that would give the model useless ranges:
    huge or tiny magnitudes, one value repeated in every sample, raw integers for a float input."""
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    what = ("" if where == "calibration data" else f"{where}: ") + f"calibration data of input '{t.name}'"
    hint = "preprocess it exactly as the float model's inputs (the ranges are taken from it)"
    if peak > IMPLAUSIBLE or 0 < peak < 1 / IMPLAUSIBLE:
        warnings.warn(f"{what} reaches |x| = {peak:.3g}; networks are rarely trained on values of this size, so "
                      f"the calibrated ranges will not fit the weights: {hint}", QuantWarning, stacklevel=3)
    elif x.shape[0] > 1 and np.all(x == x[:1]):
        warnings.warn(f"{what} is the same in all {x.shape[0]} samples; the ranges will fit that one sample "
                      f"only: calibrate with real, varied samples", QuantWarning, stacklevel=3)
    if x.dtype.kind in "iu" and np.dtype(t.dtype).kind == "f" and peak > 1:
        warnings.warn(f"{what} is {x.dtype} in [{x.min()}, {x.max()}] but the model takes {np.dtype(t.dtype)}: "
                      f"raw integer data (pixels 0-255, say) for a model trained on scaled floats gives ranges "
                      f"that fit no real input; {hint}", QuantWarning, stacklevel=3)


def batches(feeds: Mapping[str, np.ndarray], size: int) -> Iterable[dict[str, np.ndarray]]:
    n = next(iter(feeds.values())).shape[0]
    for s in range(0, n, size):
        yield {k: v[s:s + size] for k, v in feeds.items()}


def observe_ranges(g, feeds: Mapping[str, np.ndarray], tensors: Mapping[str, dict], kind: str = "minmax",
                   batch_size: int = 64, progress: bool = False) -> dict[str, tuple[float, float]]:
    """Run the float graph over the calibration set and return each tensor's (lo, hi).

    ``tensors`` maps each tensor to observe to the keyword arguments of its observer.
    """
    obs: dict[str, Observer] = {t: observer(kind, name=t, **kw) for t, kw in tensors.items()}
    n = next(iter(feeds.values())).shape[0]
    chunks = batches(feeds, batch_size)
    if progress:
        from ..progress import bar

        chunks = bar(chunks, total=-(-n // batch_size), desc="calibrating")
    for chunk in chunks:
        env = run_graph(g, chunk, keep=True)
        for t, o in obs.items():
            o.update(env[t])
    return {t: tuple(map(float, o.range())) for t, o in obs.items()}
