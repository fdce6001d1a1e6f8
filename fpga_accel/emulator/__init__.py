"""The bit-accurate emulator: runs a QModel with exactly the contract's integers (numpy).

``executor.py`` runs the layers; below it, the array kernels the ops' references call
(``windows.py``: window views and padding; ``fastint.py``: exact integer arithmetic in float;
``fastconv.py`` + ``fastconv.c``: the native convolution). The kernels import no op, so op files
can use them: the executor, which looks ops up, is imported on first use of its names.
"""
from __future__ import annotations

import importlib

__all__ = ["EmulationResult", "emulate", "run_layers"]


def __getattr__(name: str):
    if name in __all__:
        return getattr(importlib.import_module(".executor", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
