"""``scale.h``: Mul / Div by a scalar or per-channel constant, and the product of two tensors.

scale : cycles/image = N_WORDS; per lane one requantise product.
mul   : cycles/image = N_WORDS; per lane the a·b product and its requantise product.
"""
from __future__ import annotations

import numpy as np

from .base import ProcessingElement, register
from .cost import Cost, dsps_per_product, requant_cost
from .stage import Array, LoweringError, Port, Stage, ints


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
    described = ints(cfg)
    model = {"IN_BITS": described["IN_BITS"], "OUT_BITS": described["OUT_BITS"], "N_WORDS": n_pixels * c // lanes,
             "LANES": lanes}
    return Stage(layer, "scale", model, [src], [out], cfg, arrays=arrays, header_params=described,
                 folding={"pe": lanes})


def mul_stage(layer, a: Port, b: Port, out: Port, n_words: int, config: dict) -> Stage:
    za, zb = config["zero_points"]
    cfg = {"N_WORDS": n_words, "LANES": out.lanes, "A_BITS": a.bits, "A_SIGNED": a.signed, "A_ZP": int(za),
           "B_BITS": b.bits, "B_SIGNED": b.signed, "B_ZP": int(zb), "M": int(config["M"]),
           "SHIFT": int(config["shift"]), "OUT_BITS": out.bits, "OUT_ZP": int(config["zp_out"]),
           "OUT_LO": int(config["lo"]), "OUT_HI": int(config["hi"])}
    described = ints(cfg)
    model = {"IN_BITS": max(a.bits, b.bits), "OUT_BITS": described["OUT_BITS"], "N_WORDS": described["N_WORDS"],
             "LANES": described["LANES"]}
    return Stage(layer, "mul", model, [a, b], [out], cfg, header_params=described, folding={"pe": out.lanes})


@register
class Scale(ProcessingElement):
    kind = "scale"
    headers = ("scale.h",)

    def cycles(self, p) -> int:
        return p["N_WORDS"]

    def cost(self, p, board) -> Cost:
        rq = requant_cost(p["LANES"], p["IN_BITS"] + 1, p["OUT_BITS"], board.dsp_port_bits)
        return Cost(dsp=rq.dsp, lut=60 + rq.lut, ff=80 + rq.ff)


@register
class Mul(ProcessingElement):
    kind = "mul"
    headers = ("scale.h",)

    def cycles(self, p) -> int:
        return p["N_WORDS"]

    def cost(self, p, board) -> Cost:
        lanes = p["LANES"]
        rq = requant_cost(lanes, 2 * p["IN_BITS"] + 2, p["OUT_BITS"], board.dsp_port_bits)
        dsp = lanes * dsps_per_product(p["IN_BITS"] + 1, p["IN_BITS"] + 1, board.dsp_port_bits)
        return Cost(dsp=dsp + rq.dsp, lut=60 + rq.lut, ff=80 + lanes * 2 * p["IN_BITS"] + rq.ff)
