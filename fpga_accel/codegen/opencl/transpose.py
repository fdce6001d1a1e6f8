"""Transpose (the batch axis stays first): output element i reads the input at its permuted
coordinates."""
from __future__ import annotations

from .c import numel, strides
from .registry import emitter


@emitter("Transpose")
def emit_transpose(layer, ctx) -> str:
    perm = [int(p) for p in layer.config["perm"]]
    x_shape, out = ctx.in_shapes[0], ctx.out_shape
    xs = strides(x_shape)
    terms, inner = [], 1
    for d in reversed(range(1, len(out))):
        j = "i" if inner == 1 else f"(i / {inner})"
        j = j if d == 1 else f"({j} % {out[d]})"
        terms.append(f"{j} * {xs[perm[d]]}")
        inner *= out[d]
    return f"for (int i = 0; i < {numel(out)}; i++) y[i] = x0[{' + '.join(reversed(terms)) or '0'}];\n"
