"""depthwise.h: per-channel K x K dot products, PE channels in parallel, one tap per cycle.

cycles/image = OH·OW · (C/PE) · KH·KW   (N_VECTORS = OH·OW, K = KH·KW).
Multipliers: PE products per cycle, each with its own activation, so no two share an operand
and none are packed: one DSP each (LUTs at <= 4 x 4 bits). Requantise: one product per PE.
Memories: the weight ROM of CF·K words x PE·W_BITS bits; constant tables of CF words per PE.
"""
from __future__ import annotations

from ..resources import Cost, Memory, dsps_per_product, lut_multiplier, mult_luts, requant_cost

KIND = "depthwise"


def cycles(p) -> int:
    return p["N_VECTORS"] * (p["C"] // p["PE"]) * p["K"]


def first_out(p) -> int:
    return p["K"] + 4


def cost(p, board) -> Cost:
    pe, w, a, cf = p["PE"], p["W_BITS"], p["IN_BITS"], p["C"] // p["PE"]
    if lut_multiplier(w, a):
        dsp, lut = 0, pe * mult_luts(w, a)
    else:
        dsp, lut = pe * dsps_per_product(w, a, board.dsp_port_bits), 0
    lut += pe * (w + a + p["ACC_BITS"]) + 150
    ff = pe * (w + a + p["ACC_BITS"]) + 180
    rq = requant_cost(pe, p["ACC_BITS"], p["OUT_BITS"], board.dsp_port_bits)
    mems = [Memory("weights", cf * p["K"], pe * w), Memory("constants", cf, p["ACC_BITS"] + 17 + 6, pe)]
    return Cost(dsp=dsp + rq.dsp, lut=lut + rq.lut, ff=ff + rq.ff, memories=mems)
