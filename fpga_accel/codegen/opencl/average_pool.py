"""AveragePool: Σ (q − zp_in) over the taps that see the input (padding holds zp_in and adds 0),
requantised with the (M, shift) of the output position's divisor."""
from __future__ import annotations

import numpy as np

from .registry import emitter
from .window import Code, Window


@emitter("AveragePool")
def emit_average_pool(layer, ctx) -> str:
    c, k = layer.config, layer.consts
    x_shape = ctx.in_shapes[0]
    win = Window.of(c, x_shape, ctx.out_shape)
    ch = x_shape[-1]
    table = np.asarray(k["table"], np.int64).reshape(-1, 3)  # rows (divisor, M, shift)
    divisors = np.asarray(k["divisors"], np.int64).reshape(-1)
    row = {int(d): i for i, d in enumerate(table[:, 0])}
    which = ctx.const("row", [row[int(d)] for d in divisors])
    M = ctx.const("M", table[:, 1])
    S = ctx.const("shift", table[:, 2])
    zp = int(c["zp_in"])
    code = Code()
    pos = win.open_positions(code)
    code.line(f"const int p = {pos};")
    code.line(f"const int t = {which}[p];")
    code.open(f"for (int c = 0; c < {ch}; c++)")
    code.line("long acc = 0;")
    inside, xpos, _ = win.open_taps(code)
    add = f"acc += x0[({xpos}) * {ch} + c] - {zp};"
    code.line(f"if ({inside}) {add}" if inside else add)
    code.close(win.n)
    code.line(f"y[p * {ch} + c] = ({ctx.out_ctype})fa_requantize(acc, {M}[t], {S}[t], {c['zp_out']}, {c['lo']}, {c['hi']});")
    code.close(1 + win.n)
    return code.text()
