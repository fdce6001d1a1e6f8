"""Conv (1D/2D; group 1, depthwise, other groups): Σ q·w over each window plus the folded bias,
requantised per output channel. Padding holds zp_in, so a tap on padding adds zp_in·Σ_c w.

Per output position the accumulators of all output channels are a private array; each input
value of a tap is read once and multiplied into every output channel it feeds, with the weights
stored (taps, C/group, M) so the innermost loop runs over contiguous output channels.
"""
from __future__ import annotations

import numpy as np

from .c import int_ctype
from .registry import emitter
from .window import Code, Window


def acc_type(config: dict) -> str:
    """``int`` when the accumulator (bias included) fits 32 bits, else ``long``."""
    return "int" if max(config["acc_bits"], config["dot_bits"]) <= 32 else "long"


@emitter("Conv")
def emit_conv(layer, ctx) -> str:
    c, k = layer.config, layer.consts
    x_shape, y_shape = ctx.in_shapes[0], ctx.out_shape
    win = Window.of(c, x_shape, y_shape)
    w = np.asarray(k["weights"], np.int64)
    m, cg = w.shape[0], w.shape[1]
    mg = m // c["group"]
    ch = x_shape[-1]
    wt = w.reshape(m, cg, win.taps).transpose(2, 1, 0)  # (taps, C/group, M): contiguous in the output channel
    W = ctx.const("w", wt)
    B = ctx.const("bias", k["bias"])
    M = ctx.const("M", k["M"])
    S = ctx.const("shift", k["shift"])
    acc = acc_type(c)
    zp = int(c["zp_in"])
    # input channel read by output channel m at channel c of its group
    if c["group"] == 1:
        xc = "c"
    elif mg == 1:
        xc = "m" if cg == 1 else f"m * {cg} + c"
    else:
        xc = f"(m / {mg}) * {cg} + c" if cg > 1 else f"m / {mg}"
    code = Code()
    pos = win.open_positions(code)
    code.line(f"{acc} acc[{m}];")
    code.line(f"for (int m = 0; m < {m}; m++) acc[m] = {B}[m];")
    inside, xpos, tap = win.open_taps(code)
    code.line(f"const int t = {tap};")
    if inside:
        code.open(f"if ({inside})")
    code.line(f"const int xb = ({xpos}) * {ch};")
    code.open(f"for (int c = 0; c < {cg}; c++)")
    code.line(f"__constant {int_ctype(wt)}* wr = {W} + (t * {cg} + c) * {m};")
    if c["group"] == 1:
        code.line(f"const {acc} v = x0[xb + c];")
        code.line(f"for (int m = 0; m < {m}; m++) acc[m] += v * wr[m];")
    else:
        code.line(f"for (int m = 0; m < {m}; m++) acc[m] += ({acc})x0[xb + {xc}] * wr[m];")
    code.close()
    if inside:
        code.close()
        if zp:
            ws = ctx.const("wsum", wt.sum(axis=1))  # (taps, M): Σ_c w of each tap
            code.line(f"else for (int m = 0; m < {m}; m++) acc[m] += ({acc}){zp} * {ws}[t * {m} + m];")
    code.close(win.n)
    code.line(f"const int ybase = ({pos}) * {m};")
    code.line(f"for (int m = 0; m < {m}; m++) y[ybase + m] = ({ctx.out_ctype})fa_requantize(acc[m], {M}[m], {S}[m], "
              f"{c['zp_out']}, {c['lo']}, {c['hi']});")
    code.close(win.n)
    return code.text()

