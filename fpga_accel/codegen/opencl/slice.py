"""Slice (constant ranges, the batch axis whole): output element i reads the input at start + step ·
its coordinate along every axis."""
from __future__ import annotations

from .c import numel, strides
from .registry import emitter


@emitter("Slice")
def emit_slice(layer, ctx) -> str:
    ranges = layer.config["ranges"]
    xs, out = strides(ctx.in_shapes[0]), ctx.out_shape
    terms, inner = [], 1
    for d in reversed(range(1, len(out))):
        start, _, step = (int(v) for v in ranges[d])
        j = "i" if inner == 1 else f"(i / {inner})"
        j = j if d == 1 else f"({j} % {out[d]})"
        coord = j if step == 1 else f"{j} * {step}"
        terms.append(f"({start} + {coord}) * {xs[d]}" if start else f"{coord} * {xs[d]}")
        inner *= out[d]
    return f"for (int i = 0; i < {numel(out)}; i++) y[i] = x0[{' + '.join(reversed(terms)) or '0'}];\n"
