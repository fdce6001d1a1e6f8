"""GlobalAveragePool: per channel Σ q over every position minus d·zp_in, requantised by the
(M, shift) of s_in / (s_out · d)."""
from __future__ import annotations

import numpy as np

from .registry import emitter
from .window import Code


@emitter("GlobalAveragePool")
def emit_global_average_pool(layer, ctx) -> str:
    c = layer.config
    x_shape = ctx.in_shapes[0]
    ch, n = x_shape[-1], int(np.prod(x_shape[1:-1], dtype=np.int64))
    code = Code()
    code.open(f"for (int c = 0; c < {ch}; c++)")
    code.line("long acc = 0;")
    code.line(f"for (int p = 0; p < {n}; p++) acc += x0[p * {ch} + c];")
    code.line(f"acc -= {int(c['divisor']) * int(c['zp_in'])}L;")
    code.line(f"y[c] = ({ctx.out_ctype})fa_requantize(acc, {c['M']}, {c['shift']}, {c['zp_out']}, {c['lo']}, {c['hi']});")
    code.close()
    return code.text()
