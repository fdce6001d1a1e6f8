"""GlobalMaxPool: per channel the largest integer over every position."""
from __future__ import annotations

import numpy as np

from .registry import emitter
from .window import Code


@emitter("GlobalMaxPool")
def emit_global_max_pool(layer, ctx) -> str:
    x_shape = ctx.in_shapes[0]
    ch, n = x_shape[-1], int(np.prod(x_shape[1:-1], dtype=np.int64))
    code = Code()
    code.open(f"for (int c = 0; c < {ch}; c++)")
    code.line("int best = x0[c];")
    code.line(f"for (int p = 1; p < {n}; p++) {{ const int v = x0[p * {ch} + c]; if (v > best) best = v; }}")
    code.line(f"y[c] = ({ctx.out_ctype})best;")
    code.close()
    return code.text()
