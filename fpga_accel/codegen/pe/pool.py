"""``pool.h``: max / average pooling after a DEPTHWISE-order window, and global pooling."""
from __future__ import annotations

import numpy as np

from ...quant.arith import signed_bits
from ..stage import Array, LoweringError, Port, Stage
from .sliding_window import pool_config


def sum_bits(n: int, src: Port, zp: int) -> int:
    """Width of -n*zp + (partial sums of n inputs): the accumulator pool.h starts from -n*zp."""
    qmin = -(1 << (src.bits - 1)) if src.signed else 0
    qmax = (1 << (src.bits - 1)) - 1 if src.signed else (1 << src.bits) - 1
    return signed_bits(-n * zp + min(0, n * qmin), -n * zp + max(0, n * qmax)) + 1


def max_pool_stage(layer, src: Port, out: Port, g: dict) -> Stage:
    cfg = pool_config(g, src.lanes, src.bits)
    lo, hi = (-(1 << (src.bits - 1)), (1 << (src.bits - 1)) - 1) if src.signed else (0, (1 << src.bits) - 1)
    cfg.update({"IN_SIGNED": src.signed, "OUT_LO": lo, "OUT_HI": hi})
    return Stage(layer, "max_pool", [src], [out], cfg, params=_params(cfg, g), folding={"pe": src.lanes})


def avg_pool_stage(layer, src: Port, out: Port, g: dict, config: dict, consts: dict) -> Stage:
    k = g["KH"] * g["KW"]
    table = {int(d): (int(m), int(s)) for d, m, s in consts["table"]}
    divisors = np.asarray(consts["divisors"]).reshape(g["OH"], g["OW"])
    include = None
    for flag in (True, False):  # which of pool.h's two divisor rules gives the layer's divisors
        if np.array_equal(divisors, _hls_divisors(g, flag)):
            include = flag
            break
    if include is None:
        raise LoweringError("its window divisors (ceil_mode overhang counted differently from padding) match "
                            "neither 'kernel size' nor 'taps inside the image'")
    m = [table.get(d, (0, 1))[0] for d in range(k + 1)]
    sh = [table.get(d, (0, 1))[1] for d in range(k + 1)]
    cfg = pool_config(g, src.lanes, src.bits)
    cfg.update({"IN_SIGNED": src.signed, "IN_ZP": int(config["zp_in"]),
                "ACC_BITS": sum_bits(k, src, int(config["zp_in"])), "OUT_BITS": out.bits,
                "OUT_ZP": int(config["zp_out"]), "OUT_LO": int(config["lo"]), "OUT_HI": int(config["hi"]),
                "COUNT_INCLUDE_PAD": include})
    arrays = [Array("m", "fa::mult_t", np.array(m, np.int64)), Array("shift", "fa::shift_t", np.array(sh, np.int64))]
    return Stage(layer, "avg_pool", [src], [out], cfg, arrays=arrays, params=_params(cfg, g),
                 folding={"pe": src.lanes})


def _hls_divisors(g: dict, include_pad: bool) -> np.ndarray:
    """Divisor per output pixel as pool.h computes it (0 for a window on padding only)."""
    if include_pad:
        return np.full((g["OH"], g["OW"]), g["KH"] * g["KW"])

    def inside(n, k, s, d, pad, o):
        return sum(1 for t in range(k) if 0 <= o * s - pad + t * d < n)

    rows = [inside(g["IH"], g["KH"], g["SH"], g["DH"], g["PAD_T"], o) for o in range(g["OH"])]
    cols = [inside(g["IW"], g["KW"], g["SW"], g["DW"], g["PAD_L"], o) for o in range(g["OW"])]
    d = np.outer(rows, cols)
    return np.maximum(d, 1)  # the layer's divisor of an all-padding window is 1 (its sum is 0 either way)


def global_max_stage(layer, src: Port, out: Port, n_pixels: int, c: int) -> Stage:
    lo, hi = (-(1 << (src.bits - 1)), (1 << (src.bits - 1)) - 1) if src.signed else (0, (1 << src.bits) - 1)
    cfg = {"N_PIXELS": n_pixels, "C": c, "SIMD": src.lanes, "BITS": src.bits, "IN_SIGNED": src.signed,
           "OUT_LO": lo, "OUT_HI": hi}
    return Stage(layer, "global_max_pool", [src], [out], cfg, params=_ints(cfg), folding={"pe": src.lanes})


def global_avg_stage(layer, src: Port, out: Port, n_pixels: int, c: int, config: dict) -> Stage:
    cfg = {"N_PIXELS": n_pixels, "C": c, "SIMD": src.lanes, "BITS": src.bits, "IN_SIGNED": src.signed,
           "IN_ZP": int(config["zp_in"]), "ACC_BITS": sum_bits(n_pixels, src, int(config["zp_in"])),
           "OUT_BITS": out.bits, "OUT_ZP": int(config["zp_out"]), "OUT_LO": int(config["lo"]),
           "OUT_HI": int(config["hi"])}
    scalars = [f"fa::mult_t({int(config['M'])})", f"fa::shift_t({int(config['shift'])})"]
    return Stage(layer, "global_avg_pool", [src], [out], cfg, scalars=scalars, params=_ints(cfg),
                 folding={"pe": src.lanes})


def _params(cfg, g):
    return _ints(dict(cfg, OH=g["OH"], OW=g["OW"]))


def _ints(d):
    return {k: int(v) for k, v in d.items()}
