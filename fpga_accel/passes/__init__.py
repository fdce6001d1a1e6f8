"""Graph passes, one per module; importing this package registers them all.

Flows are the ordered pass lists the compiler runs.
"""
import importlib
import pkgutil

from .base import Pass, all_passes, get_pass, register_pass, run_passes

for _m in pkgutil.iter_modules(__path__):
    if _m.name not in ("base", "flows"):
        importlib.import_module(f"{__name__}.{_m.name}")

from .flows import FLOWS, run_flow  # noqa: E402

__all__ = ["FLOWS", "Pass", "all_passes", "get_pass", "register_pass", "run_flow", "run_passes"]
