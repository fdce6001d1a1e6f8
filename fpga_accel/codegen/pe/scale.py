"""``scale.h``: Mul / Div by a scalar or per-channel constant, and the product of two tensors."""
from __future__ import annotations

import numpy as np

from ..stage import Array, LoweringError, Port, Stage


def per_channel(values, shape, what: str) -> np.ndarray:
    """A constant of the tensor's rank as one value per channel (the last axis)."""
    v = np.asarray(values, np.int64)
    if v.ndim and any(n != 1 for n in v.shape[:-1]):
        raise LoweringError(f"the constant varies along an axis other than the channels (its {what} have shape "
                            f"{v.shape}); the scale PE works per channel (the last axis) only")
    return np.broadcast_to(v.reshape(-1), (int(shape[-1]),)) if v.size in (1, int(shape[-1])) else v.reshape(-1)


def scale_stage(layer, src: Port, out: Port, shape, config: dict, consts: dict) -> Stage:
    c = int(shape[-1])
    lanes = src.lanes
    cf = c // lanes
    n_pixels = int(np.prod(shape[1:-1])) if len(shape) > 2 else 1
    arr = {k: per_channel(consts[k], shape, k).reshape(cf, lanes).T for k in ("sign", "M", "shift")}
    cfg = {"N_PIXELS": n_pixels, "C": c, "LANES": lanes, "IN_BITS": src.bits, "IN_SIGNED": src.signed,
           "IN_ZP": int(config["zp_in"]), "OUT_BITS": out.bits, "OUT_ZP": int(config["zp_out"]),
           "OUT_LO": int(config["lo"]), "OUT_HI": int(config["hi"])}
    arrays = [Array("sign", "fa::sign_t", arr["sign"]), Array("m", "fa::mult_t", arr["M"]),
              Array("shift", "fa::shift_t", arr["shift"])]
    return Stage(layer, "scale", [src], [out], cfg, arrays=arrays, params={k: int(v) for k, v in cfg.items()},
                 folding={"pe": lanes})


def mul_stage(layer, a: Port, b: Port, out: Port, n_words: int, config: dict) -> Stage:
    za, zb = config["zero_points"]
    cfg = {"N_WORDS": n_words, "LANES": out.lanes, "A_BITS": a.bits, "A_SIGNED": a.signed, "A_ZP": int(za),
           "B_BITS": b.bits, "B_SIGNED": b.signed, "B_ZP": int(zb), "M": int(config["M"]),
           "SHIFT": int(config["shift"]), "OUT_BITS": out.bits, "OUT_ZP": int(config["zp_out"]),
           "OUT_LO": int(config["lo"]), "OUT_HI": int(config["hi"])}
    return Stage(layer, "mul", [a, b], [out], cfg, params={k: int(v) for k, v in cfg.items()},
                 folding={"pe": out.lanes})
