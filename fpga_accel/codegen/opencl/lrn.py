"""LRN across the channels (the last axis): per element the sum of the centred squares over its
channel window, the rounded table index, ``requantize((q − zp)·T[idx], M, shift)``."""
from __future__ import annotations

from .c import numel
from .registry import emitter


@emitter("LRN")
def emit_lrn(layer, ctx) -> str:
    c = layer.config
    ch = int(ctx.out_shape[-1])
    before = (int(c["size"]) - 1) // 2
    table = ctx.const("table", layer.consts["table"])
    n_table, k = int(layer.consts["table"].size), int(c["idx_shift"])
    return (f"for (int i = 0; i < {numel(ctx.out_shape)}; i++) {{\n"
            f"    const int c = i % {ch}, base = i - c;\n"
            f"    const int first = max(c - {before}, 0), last = min(c - {before} + {int(c['size']) - 1}, {ch - 1});\n"
            f"    long s = 0;\n"
            f"    for (int d = first; d <= last; d++) {{\n"
            f"        const long v = (long)x0[base + d] - ({int(c['zp_in'])});\n"
            f"        s += v * v;\n"
            f"    }}\n"
            f"    long idx = (s + ({1 << k} >> 1)) >> {k};\n"
            f"    if (idx > {n_table - 1}) idx = {n_table - 1};\n"
            f"    const long acc = ((long)x0[i] - ({int(c['zp_in'])})) * {table}[idx];\n"
            f"    y[i] = ({ctx.out_ctype})fa_requantize(acc, {c['M']}, {c['shift']}, {c['zp_out']}, {c['lo']}, "
            f"{c['hi']});\n"
            f"}}\n")
