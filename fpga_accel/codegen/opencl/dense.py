"""Gemm and MatMul by a constant matrix: x · Wᵀ over the last axis plus the folded bias,
requantised per output feature (rows of a higher-rank MatMul input run one after another)."""
from __future__ import annotations

import numpy as np

from .conv import acc_type
from .registry import emitter
from .window import Code


@emitter("Gemm", "MatMul")
def emit_dense(layer, ctx) -> str:
    c, k = layer.config, layer.consts
    w = np.asarray(k["weights"], np.int64)  # (N, K)
    n, kk = w.shape
    rows = int(np.prod(ctx.in_shapes[0][1:-1], dtype=np.int64))
    W = ctx.const("w", w)
    B = ctx.const("bias", k["bias"])
    M = ctx.const("M", k["M"])
    S = ctx.const("shift", k["shift"])
    acc = acc_type(c)
    code = Code()
    code.open(f"for (int r = 0; r < {rows}; r++)")
    code.open(f"for (int n = 0; n < {n}; n++)")
    code.line(f"{acc} acc = {B}[n];")
    code.line(f"for (int k = 0; k < {kk}; k++) acc += ({acc})x0[r * {kk} + k] * {W}[n * {kk} + k];")
    code.line(f"y[r * {n} + n] = ({ctx.out_ctype})fa_requantize(acc, {M}[n], {S}[n], {c['zp_out']}, {c['lo']}, {c['hi']});")
    code.close(2)
    return code.text()
