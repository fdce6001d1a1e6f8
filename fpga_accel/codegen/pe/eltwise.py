"""``eltwise.h``: residual add, lookup table, channel concat."""
from __future__ import annotations

import numpy as np

from ..stage import Array, Port, Stage


def add_stage(layer, a: Port, b: Port, out: Port, n_words: int, config: dict) -> Stage:
    (ma, mb), (za, zb) = config["multipliers"], config["zero_points"]
    cfg = {"N_WORDS": n_words, "LANES": out.lanes, "A_BITS": a.bits, "A_SIGNED": a.signed, "A_ZP": int(za),
           "A_M": int(ma), "B_BITS": b.bits, "B_SIGNED": b.signed, "B_ZP": int(zb), "B_M": int(mb),
           "SHIFT": int(config["shift"]), "OUT_BITS": out.bits, "OUT_ZP": int(config["zp_out"]),
           "OUT_LO": int(config["lo"]), "OUT_HI": int(config["hi"])}
    return Stage(layer, "add", [a, b], [out], cfg, params={k: int(v) for k, v in cfg.items()},
                 folding={"pe": out.lanes})


def lut_stage(layer, src: Port, out: Port, n_words: int, table: np.ndarray) -> Stage:
    cfg = {"N_WORDS": n_words, "LANES": src.lanes, "IN_BITS": src.bits, "IN_SIGNED": src.signed,
           "OUT_BITS": out.bits}
    t = np.asarray(table, np.int64) & ((1 << out.bits) - 1)  # two's complement bit patterns
    return Stage(layer, "lut", [src], [out], cfg, arrays=[Array("table", f"ap_uint<{out.bits}>", t)],
                 params={k: int(v) for k, v in cfg.items()}, folding={"pe": src.lanes})


def concat_stage(layer, a: Port, b: Port, out: Port, n_pixels: int, a_c: int, b_c: int, ra: dict, rb: dict) -> Stage:
    cfg = {"N_PIXELS": n_pixels, "LANES": out.lanes,
           "A_C": a_c, "A_BITS": a.bits, "A_SIGNED": a.signed, "A_ZP": int(ra["zero_points"][0]),
           "A_M": int(ra["multipliers"][0]), "A_SHIFT": int(ra["shift"]),
           "B_C": b_c, "B_BITS": b.bits, "B_SIGNED": b.signed, "B_ZP": int(rb["zero_points"][0]),
           "B_M": int(rb["multipliers"][0]), "B_SHIFT": int(rb["shift"]),
           "OUT_BITS": out.bits, "OUT_ZP": int(ra["zp_out"]), "OUT_LO": int(ra["lo"]), "OUT_HI": int(ra["hi"])}
    return Stage(layer, "concat", [a, b], [out], cfg, params={k: int(v) for k, v in cfg.items()},
                 folding={"pe": out.lanes})
