"""``eltwise.h``: residual add, lookup-table activation, channel concat.

add     : cycles/image = N_WORDS; per lane one product per input ((q − zp)·M), shared shift.
lut     : cycles/image = N_WORDS, plus 2^IN_BITS per call to copy the table into one ROM per lane.
concat  : cycles/image = N_PIXELS·(A_C + B_C)/LANES; per lane one product (each word's rescale).
The model reads IN_BITS, the wider of the inputs.
"""
from __future__ import annotations

import numpy as np

from .base import ProcessingElement, register
from .cost import Cost, Memory, dsps_per_product, requant_cost
from .stage import Array, Port, Stage, ints, pick

ELEMENTWISE = ("IN_BITS", "OUT_BITS", "N_WORDS", "LANES")


def add_stage(layer, a: Port, b: Port, out: Port, n_words: int, config: dict) -> Stage:
    (ma, mb), (za, zb) = config["multipliers"], config["zero_points"]
    cfg = {"N_WORDS": n_words, "LANES": out.lanes, "A_BITS": a.bits, "A_SIGNED": a.signed, "A_ZP": int(za),
           "A_M": int(ma), "B_BITS": b.bits, "B_SIGNED": b.signed, "B_ZP": int(zb), "B_M": int(mb),
           "SHIFT": int(config["shift"]), "OUT_BITS": out.bits, "OUT_ZP": int(config["zp_out"]),
           "OUT_LO": int(config["lo"]), "OUT_HI": int(config["hi"])}
    described = ints(cfg)
    model = {"IN_BITS": max(a.bits, b.bits), "OUT_BITS": described["OUT_BITS"], "N_INPUTS": 2,
             "ACC_BITS": int(config.get("acc_bits", 24)), "N_WORDS": described["N_WORDS"], "LANES": described["LANES"]}
    return Stage(layer, "add", model, [a, b], [out], cfg, header_params=described, folding={"pe": out.lanes})


def lut_stage(layer, src: Port, out: Port, n_words: int, table: np.ndarray) -> Stage:
    cfg = {"N_WORDS": n_words, "LANES": src.lanes, "IN_BITS": src.bits, "IN_SIGNED": src.signed,
           "OUT_BITS": out.bits}
    t = np.asarray(table, np.int64) & ((1 << out.bits) - 1)  # two's complement bit patterns
    described = ints(cfg)
    return Stage(layer, "lut", pick(described, ELEMENTWISE), [src], [out], cfg,
                 arrays=[Array("table", f"ap_uint<{out.bits}>", t)], header_params=described,
                 folding={"pe": src.lanes})


def concat_stage(layer, a: Port, b: Port, out: Port, n_pixels: int, a_c: int, b_c: int, ra: dict, rb: dict) -> Stage:
    cfg = {"N_PIXELS": n_pixels, "LANES": out.lanes,
           "A_C": a_c, "A_BITS": a.bits, "A_SIGNED": a.signed, "A_ZP": int(ra["zero_points"][0]),
           "A_M": int(ra["multipliers"][0]), "A_SHIFT": int(ra["shift"]),
           "B_C": b_c, "B_BITS": b.bits, "B_SIGNED": b.signed, "B_ZP": int(rb["zero_points"][0]),
           "B_M": int(rb["multipliers"][0]), "B_SHIFT": int(rb["shift"]),
           "OUT_BITS": out.bits, "OUT_ZP": int(ra["zp_out"]), "OUT_LO": int(ra["lo"]), "OUT_HI": int(ra["hi"])}
    described = ints(cfg)
    model = dict(pick(described, ("N_PIXELS",)), IN_BITS=max(a.bits, b.bits),
                 **pick(described, ("OUT_BITS", "A_C", "B_C", "LANES")))
    return Stage(layer, "concat", model, [a, b], [out], cfg, header_params=described, folding={"pe": out.lanes})


@register
class Add(ProcessingElement):
    kind = "add"
    headers = ("eltwise.h",)

    def cycles(self, p) -> int:
        return p["N_WORDS"]

    def cost(self, p, board) -> Cost:
        lanes, n_in = p["LANES"], p.get("N_INPUTS", 2)
        per = dsps_per_product(p["IN_BITS"] + 1, 18, board.dsp_port_bits)
        return Cost(dsp=lanes * n_in * per, lut=80 + lanes * (n_in * p["ACC_BITS"] + 2 * p["OUT_BITS"]),
                    ff=100 + lanes * (n_in * p["ACC_BITS"] + p["OUT_BITS"]))


@register
class Lut(ProcessingElement):
    kind = "lut"
    headers = ("eltwise.h",)

    def cycles(self, p) -> int:
        return p["N_WORDS"]

    def setup(self, p) -> int:
        return 2 ** p["IN_BITS"]

    def cost(self, p, board) -> Cost:
        lanes = p["LANES"]
        return Cost(lut=60 + lanes * p["OUT_BITS"], ff=80 + lanes * (p["IN_BITS"] + p["OUT_BITS"]),
                    memories=[Memory("table", 2 ** p["IN_BITS"], p["OUT_BITS"], lanes)])


@register
class Concat(ProcessingElement):
    kind = "concat"
    headers = ("eltwise.h",)

    def cycles(self, p) -> int:
        return p["N_PIXELS"] * (p["A_C"] + p["B_C"]) // p["LANES"]

    def cost(self, p, board) -> Cost:
        rq = requant_cost(p["LANES"], p["IN_BITS"] + 18, p["OUT_BITS"], board.dsp_port_bits)
        return Cost(dsp=rq.dsp, lut=100 + rq.lut, ff=120 + rq.ff)
