"""Pad: constant (the input's zero point, the integer of 0.0), edge or reflect; negative pads crop.
Every output element reads one input element (or the constant), axis by axis."""
from __future__ import annotations

from .c import numel, strides
from .registry import emitter
from .window import Code


@emitter("Pad")
def emit_pad(layer, ctx) -> str:
    c = layer.config
    x_shape, out = ctx.in_shapes[0], ctx.out_shape
    xs, mode = strides(x_shape), c["mode"]
    code = Code()
    code.open(f"for (int i = 0; i < {numel(out)}; i++)")
    code.line("int src = 0;")
    if mode == "constant":
        code.line("int fill = 0;")
    inner = 1
    for d in reversed(range(1, len(out))):
        b, e = (int(v) for v in c["pads"][d])
        crop_b, crop_e = max(-b, 0), max(-e, 0)
        n = x_shape[d] - crop_b - crop_e  # the axis after cropping
        j = "i" if inner == 1 else f"(i / {inner})"
        j = j if d == 1 else f"({j} % {out[d]})"
        code.open("")
        code.line(f"int u = {j} - {max(b, 0)};")
        if b > 0 or e > 0:
            if mode == "constant":
                code.line(f"if (u < 0 || u >= {n}) fill = 1;")
            elif mode == "edge":
                code.line(f"u = u < 0 ? 0 : (u >= {n} ? {n - 1} : u);")
            else:
                code.line(f"u = fa_reflect(u, {n});")
        code.line(f"src += (u + {crop_b}) * {xs[d]};")
        code.close()
        inner *= out[d]
    value = f"fill ? {int(c['value'])} : " if mode == "constant" else ""
    code.line(f"y[i] = ({ctx.out_ctype})({value}x0[src]);")
    code.close()
    return code.text()
