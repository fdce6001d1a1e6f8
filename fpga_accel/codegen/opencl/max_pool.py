"""MaxPool: the largest integer of each window; a window that touches padding (or ceil_mode's
overhang) also sees the padding value, the input type's qmin."""
from __future__ import annotations

from .registry import emitter
from .window import Code, Window


@emitter("MaxPool")
def emit_max_pool(layer, ctx) -> str:
    c = layer.config
    x_shape = ctx.in_shapes[0]
    win = Window.of(c, x_shape, ctx.out_shape)
    ch = x_shape[-1]
    pad = int(c.get("pad_value", ctx.qparams(layer.inputs[0]).qtype.min))
    code = Code()
    pos = win.open_positions(code)
    code.line(f"const int ybase = ({pos}) * {ch};")
    code.open(f"for (int c = 0; c < {ch}; c++)")
    code.line("int best = -2147483647 - 1;")
    inside, xpos, _ = win.open_taps(code)
    take = f"const int v = x0[({xpos}) * {ch} + c]; if (v > best) best = v;"
    if inside:
        code.line(f"if ({inside}) {{ {take} }} else if ({pad} > best) best = {pad};")
    else:
        code.line(take)
    code.close(win.n)
    code.line(f"y[ybase + c] = ({ctx.out_ctype})best;")
    code.close(1 + win.n)
    return code.text()
