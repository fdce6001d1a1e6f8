"""Add, Sub, Sum: acc = Σ_i (q_i − zp_i)·M_i (+ the constant's offset), one rounding
``requantize(acc, 1, shift)``; a subtracted input carries a negative multiplier. Inputs broadcast."""
from __future__ import annotations

import numpy as np

from .c import centred, numel
from .elementwise import index_of
from .registry import emitter


@emitter("Add", "Sub", "Sum")
def emit_sum(layer, ctx) -> str:
    c = layer.config
    terms = []
    for k, (shape, zp, m) in enumerate(zip(ctx.in_shapes, c["zero_points"], c["multipliers"])):
        idx = index_of(layer, ctx, shape, f"input {k}")
        terms.append(f"{centred(f'x{k}[{idx}]', zp)} * {int(m)}L")
    if "offset" in layer.consts:
        off = np.asarray(layer.consts["offset"], np.int64)
        name = ctx.const("offset", off, "long")
        terms.append(f"{name}[{index_of(layer, ctx, off.shape, 'the constant')}]")
    acc = "\n        + ".join(terms)
    return (f"for (int i = 0; i < {numel(ctx.out_shape)}; i++) {{\n"
            f"    const long acc = {acc};\n"
            f"    y[i] = ({ctx.out_ctype})fa_requantize(acc, 1, {c['shift']}, {c['zp_out']}, {c['lo']}, {c['hi']});\n"
            f"}}\n")
