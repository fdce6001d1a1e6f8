"""Flatten, Reshape, Squeeze, Unsqueeze: the same integers in the same order (NHWC memory order
is what the emulator reshapes), copied to the output."""
from __future__ import annotations

from .c import numel
from .registry import emitter


@emitter("Flatten", "Reshape", "Squeeze", "Unsqueeze")
def emit_reshape(layer, ctx) -> str:
    return f"for (int i = 0; i < {numel(ctx.out_shape)}; i++) y[i] = x0[i];\n"
