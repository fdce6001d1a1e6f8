"""Session backends, found by name: ``backend="csim"`` is the module ``backends/csim.py``.

Each module defines ``BACKEND``, a :class:`~.base.Backend` subclass whose ``name`` is the module's
name; helpers shared by backends live in modules whose names start with ``_``. Adding a backend is
adding its file: ``backend_names()``, ``backend="auto"`` and the contract suite
(tests/test_backend_contract.py) find it.

Importing this package imports no backend; a backend module imports its vendor package (pynq,
pyopencl, ...) only when it is opened, so ``import fpga_accel`` and ``backend_names()`` need numpy
alone.
"""
from __future__ import annotations

import importlib
import pkgutil

from ...errors import InputError
from ..errors import BackendUnavailable
from .base import Backend

__all__ = ["Backend", "availability", "backend_names", "choose_backend", "get_backend"]


def backend_names() -> list[str]:
    """Names of the installed backends, sorted."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name != "base" and not m.name.startswith("_"))


def get_backend(name: str) -> type[Backend]:
    """The backend class called ``name``; an InputError listing the known names otherwise."""
    names = backend_names()
    if name not in names:
        raise InputError(f"unknown backend '{name}'; use one of {names} or 'auto'")
    return importlib.import_module(f"{__name__}.{name}").BACKEND


#: backends that run a bundle compiled for the tiled engine (``manifest["tiled"]``)
TILED_BACKENDS = ("csim", "emulator", "f2", "opencl", "pynq")


def availability(cls: type[Backend], bundle) -> str | None:
    """``cls.unavailable(bundle)``, with a backend that raises there reported as unavailable; a
    bundle compiled for the tiled engine only on :data:`TILED_BACKENDS`."""
    if "tiled" in getattr(bundle, "manifest", {}) and cls.name not in TILED_BACKENDS:
        return (f"the bundle is compiled for the tiled engine, which has no {cls.name} form yet; run it with "
                f"backend {', '.join(repr(b) for b in TILED_BACKENDS)}, or compile the model with --engine dataflow")
    if "segments" in getattr(bundle, "manifest", {}):  # one backend per segment (runtime/segments.py)
        from ..segments import segment_availability

        return segment_availability(cls, bundle, availability)
    try:
        return cls.unavailable(bundle)
    except Exception as e:  # noqa: BLE001 - a plug-in's bug must not stop the others
        return f"its availability check failed ({type(e).__name__}: {e})"


def choose_backend(bundle) -> type[Backend]:
    """For ``backend="auto"``: the available backend of the highest priority."""
    classes = sorted((get_backend(n) for n in backend_names()), key=lambda c: (-c.priority, c.name))
    reasons = []
    for cls in classes:
        why = availability(cls, bundle)
        if why is None:
            return cls
        reasons.append(f"{cls.name}: {why}")
    raise BackendUnavailable("no backend can run this bundle here: " + "; ".join(reasons))
