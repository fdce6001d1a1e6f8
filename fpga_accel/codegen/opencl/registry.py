"""Emitters by layer kind: each file of this package registers the op types it writes.

An emitter is ``emit(layer, ctx) -> str``: the body of ``static void fa_L<i>(...)`` computing one
image of the layer's output ``y`` from its inputs ``x0``, ``x1``, ... ; constant arrays go through
``ctx.const``. Registration by declaration, as the ops themselves do.
"""
from __future__ import annotations

from collections.abc import Callable

EMITTERS: dict[str, Callable] = {}


def emitter(*op_types: str):
    """Decorator: ``fn`` writes the layers of these op types."""
    def add(fn):
        for t in op_types:
            if t in EMITTERS:
                raise RuntimeError(f"two OpenCL emitters for {t}")
            EMITTERS[t] = fn
        return fn
    return add
