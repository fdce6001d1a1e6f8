"""``lrn.h``: local response normalisation across channels (AlexNet, GoogLeNet) in the integer form
of ops/lrn.py: the windowed sum of the centred squares indexes a 2^TABLE_BITS table of
(bias + alpha/size·sum)^−beta factors, the product requantised.

lrn : cycles/call = 2^TABLE_BITS (the table copied into one ROM per lane) + (N_PIXELS·images + 1)·CF:
      one word in and one out per cycle, the output one pixel behind. Per lane a square, a factor
      product and a requantise product; a two-pixel register buffer of centred values and prefix sums
      (2·C·(IN_BITS + 2 + S_BITS + 1) flip-flops) read through per-lane C-input multiplexers
      (estimate: C/4 LUT6 per bit and lane), one table ROM per lane.
"""
from __future__ import annotations

import numpy as np

from .base import ProcessingElement, register
from .cost import Cost, Memory, dsps_per_product, requant_cost
from .stage import Array, Port, Stage, ints

#: width of a table entry (ops/lrn.py FACTOR_BITS)
T_BITS = 16


def lrn_stage(layer, src: Port, out: Port, n_pixels: int, c: int, config: dict, table) -> Stage:
    t = np.asarray(table, np.int64)
    table_bits = int(t.size).bit_length() - 1
    cfg = {"N_PIXELS": n_pixels, "C": c, "LANES": src.lanes, "IN_BITS": src.bits, "IN_SIGNED": src.signed,
           "IN_ZP": int(config["zp_in"]), "SIZE": int(config["size"]), "S_BITS": int(config["s_bits"]),
           "IDX_SHIFT": int(config["idx_shift"]), "TABLE_BITS": table_bits, "T_BITS": T_BITS, "M": int(config["M"]),
           "SHIFT": int(config["shift"]), "OUT_BITS": out.bits, "OUT_ZP": int(config["zp_out"]),
           "OUT_LO": int(config["lo"]), "OUT_HI": int(config["hi"])}
    described = ints(cfg)
    model = {k: described[k] for k in ("N_PIXELS", "C", "LANES", "IN_BITS", "S_BITS", "TABLE_BITS", "OUT_BITS")}
    return Stage(layer, "lrn", model, [src], [out], cfg, arrays=[Array("table", f"ap_uint<{T_BITS}>", t)],
                 header_params=described, folding={"pe": src.lanes})


@register
class Lrn(ProcessingElement):
    kind = "lrn"
    headers = ("lrn.h",)

    def cycles(self, p) -> int:
        return p["N_PIXELS"] * (p["C"] // p["LANES"])

    def setup(self, p) -> int:
        return 2 ** p["TABLE_BITS"] + p["C"] // p["LANES"]

    def first_out(self, p) -> int:
        return p["C"] // p["LANES"] + 4

    def cost(self, p, board) -> Cost:
        lanes, c, in_bits, s_bits = p["LANES"], p["C"], p["IN_BITS"], p["S_BITS"]
        square = dsps_per_product(in_bits + 2, in_bits + 2, board.dsp_port_bits)
        factor = dsps_per_product(in_bits + 2, T_BITS + 1, board.dsp_port_bits)
        rq = requant_cost(lanes, in_bits + 2 + T_BITS, p["OUT_BITS"], board.dsp_port_bits)
        held = in_bits + 2 + s_bits + 1
        return Cost(dsp=lanes * (square + factor) + rq.dsp, lut=80 + rq.lut + lanes * held * -(-c // 4),
                    ff=100 + rq.ff + 2 * c * held,
                    memories=[Memory("table", 2 ** p["TABLE_BITS"], T_BITS, lanes)])
