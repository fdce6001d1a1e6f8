"""Arrays from user files (.npy / .npz), never unpickled: inputs to run, calibration data.

Used by the runtime and by calibration alike, so it imports neither. Every error is an
:class:`~fpga_accel.errors.InputError` naming the file and the array.
"""
from __future__ import annotations

import os

import numpy as np

from .errors import InputError


def _unreadable(path: str, e: Exception) -> InputError:
    if "pickle" in str(e) or "Object arrays" in str(e):
        return InputError(f"{path}: holds Python objects (pickled data), which fpga-accel never loads since "
                          f"loading them can run code; save plain numeric arrays with numpy.save / numpy.savez")
    return InputError(f"{path}: cannot read as .npy/.npz ({type(e).__name__}: {e})")


def read_arrays(path: str | os.PathLike, names: list[str], what: str = "input") -> dict[str, np.ndarray]:
    """``{name: array}`` from a .npy (one name) or a .npz keyed by name, never unpickling;
    errors name the file and the array."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise InputError(f"{path}: {what} file not found")
    with open(path, "rb") as f:
        magic = f.read(6)
    if magic.startswith(b"\x80"):  # the pickle protocol's opcode
        raise _unreadable(path, ValueError("pickle"))
    if magic != b"\x93NUMPY" and not magic.startswith(b"PK"):
        raise InputError(f"{path}: not a .npy or .npz file (it starts with {magic!r}); save the {what}s with "
                         f"numpy.save (one array) or numpy.savez (keyed by {what} name)")
    try:
        loaded = np.load(path, allow_pickle=False)
    except Exception as e:  # noqa: BLE001 - numpy raises ValueError, OSError, EOFError, zipfile errors
        raise _unreadable(path, e) from None
    if not hasattr(loaded, "files"):
        if len(names) != 1:
            raise InputError(f"{path}: the model has {what}s {names}; give a .npz keyed by {what} name")
        return {names[0]: loaded}
    with loaded:
        missing = [n for n in names if n not in loaded.files]
        if missing:
            raise InputError(f"{path}: no array for {what}(s) {missing}; found keys {sorted(loaded.files)}")
        out = {}
        for n in names:
            try:
                out[n] = loaded[n]
            except Exception as e:  # noqa: BLE001 - a member that is pickled, truncated or not an array
                raise InputError(f"{_unreadable(path, e)} (array '{n}')") from None
        return out
