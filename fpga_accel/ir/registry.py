"""The op registry: which op implements a node, by (domain, op type).

The table lives here, below the ops, so the IR (shape inference, the verifier, the float
executor) can look ops up without importing them. The ops fill it by declaration: each op file's
class is decorated with :func:`register` (re-exported by ``fpga_accel.ops``), and importing
``fpga_accel.ops`` imports every op file, then calls :func:`mark_complete`. The frontend, the
compiler and the emulator import ``fpga_accel.ops`` once at their top; a lookup before that
raises :class:`RegistryNotLoaded` instead of answering from an empty table.
"""
from __future__ import annotations

from typing import Any

from ..errors import ModelError, Problem

#: (domain, op type) -> the one instance of its ``fpga_accel.ops.Op`` subclass
_REGISTRY: dict[tuple[str, str], Any] = {}
_complete = False


class RegistryNotLoaded(RuntimeError):
    """An op was looked up before ``fpga_accel.ops`` registered the ops (a missing import)."""


def register(cls: type) -> type:
    """Class decorator: add an op to the registry (one instance per op type)."""
    key = (cls.domain, cls.op_type)
    if key in _REGISTRY:
        raise RuntimeError(f"op {key} registered twice")
    _REGISTRY[key] = cls()
    return cls


def mark_complete() -> None:
    """Called by ``fpga_accel.ops`` once every op file is imported: lookups may start."""
    global _complete
    _complete = True


def _loaded() -> dict[tuple[str, str], Any]:
    if not _complete:
        raise RegistryNotLoaded("the op registry is not filled yet: import fpga_accel.ops (it registers every "
                                "op) before looking ops up, running or verifying a graph")
    return _REGISTRY


def lookup(op_type: str, domain: str = ""):
    """The op registered for ``op_type`` in ``domain`` (``""`` and ``"ai.onnx"`` are ONNX), or None."""
    domain = "" if domain in ("", "ai.onnx") else domain
    return _loaded().get((domain, op_type))


def get_op(node):
    """The op of ``node``; a :class:`ModelError` naming the node when none is registered."""
    op = lookup(node.op_type, node.domain)
    if op is None:
        raise ModelError(str(Problem(node.name, node.op_type, "op is not supported")))
    return op


def all_ops() -> list:
    """Every registered op, ordered by domain and op type."""
    return sorted(_loaded().values(), key=lambda o: (o.domain, o.op_type))
