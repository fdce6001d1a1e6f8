"""Supported ops, one per module; importing this package registers them all.

Beside the op files: ``base.py`` (the op interface) and ``family/`` (the base classes of op
families and the attribute rules op files share). The registry they enter lives in
``fpga_accel/ir/registry.py``; it answers lookups once every op file here is imported.
"""
import importlib
import pkgutil

from ..ir import registry as _registry
from .base import HARDWARE, HOST, REMOVED, Example, Op, all_ops, get_op, lookup, register

for _m in pkgutil.iter_modules(__path__):
    if _m.name not in ("base", "family"):
        importlib.import_module(f"{__name__}.{_m.name}")
_registry.mark_complete()

__all__ = ["HARDWARE", "HOST", "REMOVED", "Example", "Op", "all_ops", "get_op", "lookup", "register"]
