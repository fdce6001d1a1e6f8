"""Concat: each input requantised alone to the output's parameters, ``requantize((q − zp)·M, 1,
shift)``, and placed along the axis (an input with the output's parameters comes out unchanged)."""
from __future__ import annotations

import numpy as np

from .c import centred
from .registry import emitter
from .window import Code


@emitter("Concat")
def emit_concat(layer, ctx) -> str:
    c = layer.config
    axis = int(c["axis"])
    out = ctx.out_shape
    outer = int(np.prod(out[1:axis], dtype=np.int64))
    out_inner = int(np.prod(out[axis:], dtype=np.int64))
    code = Code()
    start = 0
    for k, (shape, r) in enumerate(zip(ctx.in_shapes, c["rescales"])):
        inner = int(np.prod(shape[axis:], dtype=np.int64))
        code.open(f"for (int o = 0; o < {outer}; o++)")
        code.open(f"for (int j = 0; j < {inner}; j++)")
        code.line(f"const long acc = {centred(f'x{k}[o * {inner} + j]', r['zero_points'][0])} * {int(r['multipliers'][0])}L;")
        code.line(f"y[o * {out_inner} + {start} + j] = ({ctx.out_ctype})fa_requantize(acc, 1, {r['shift']}, "
                  f"{r['zp_out']}, {r['lo']}, {r['hi']});")
        code.close(2)
        start += inner
    return code.text()
