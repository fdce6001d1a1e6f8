"""Mul and Div. By a constant (scalar or per channel): acc = sign·(q − zp_in), requantised by the
(M, shift) of |m|. Mul of two tensors: acc = (q_a − zp_a)·(q_b − zp_b), requantised."""
from __future__ import annotations

import numpy as np

from .c import centred, numel
from .elementwise import index_of
from .registry import emitter


def _per_element(layer, ctx, key: str) -> str:
    """A per-channel constant at the flat index i, or its value when it is one number."""
    v = np.asarray(layer.consts[key], np.int64)
    if v.size == 1:
        return str(int(v.reshape(-1)[0]))
    return f"{ctx.const(key, v)}[{index_of(layer, ctx, v.shape, f'constant {key}')}]"


@emitter("Mul", "Div")
def emit_mul(layer, ctx) -> str:
    c = layer.config
    n = numel(ctx.out_shape)
    tail = f"{c['zp_out']}, {c['lo']}, {c['hi']}"
    if len(layer.inputs) == 1:  # by a constant
        sign, M, S = (_per_element(layer, ctx, key) for key in ("sign", "M", "shift"))
        ix = index_of(layer, ctx, ctx.in_shapes[0], "input 0")
        return (f"for (int i = 0; i < {n}; i++) {{\n"
                f"    const long acc = {centred(f'x0[{ix}]', c['zp_in'])} * {sign};\n"
                f"    y[i] = ({ctx.out_ctype})fa_requantize(acc, {M}, {S}, {tail});\n"
                f"}}\n")
    za, zb = (int(z) for z in c["zero_points"])
    ia, ib = (index_of(layer, ctx, s, f"input {k}") for k, s in enumerate(ctx.in_shapes))
    return (f"for (int i = 0; i < {n}; i++) {{\n"
            f"    const long acc = {centred(f'x0[{ia}]', za)} * {centred(f'x1[{ib}]', zb)};\n"
            f"    y[i] = ({ctx.out_ctype})fa_requantize(acc, {c['M']}, {c['shift']}, {tail});\n"
            f"}}\n")
