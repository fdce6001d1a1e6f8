"""mvau.h: the folded matrix-vector unit of Conv (after the window), Gemm and MatMul.

cycles/image = N_VECTORS · (MH/PE) · (MW/SIMD)   (NF = MH/PE neuron folds, SF = MW/SIMD).
Multipliers: PE·SIMD products of W_BITS x IN_BITS per cycle. Products of at most 4 x 4 bits
are LUTs; two products that share an activation (two PEs, same SIMD lane) fit one DSP when
2·W_BITS + IN_BITS + 2 <= the DSP's wide port (27 bits on DSP48E2, 25 on DSP48E1), e.g. int8
on UltraScale+; otherwise one DSP per product. Requantise: one acc·M product per PE.
Memories: PE weight ROMs of NF·SF words x SIMD·W_BITS bits; PE constant tables (bias, M,
shift) of NF words; the input buffer of SF words x SIMD·IN_BITS bits (replayed per fold).
"""
from __future__ import annotations

import math

from ..resources import Cost, Memory, dsp_packs, lut_multiplier, mult_luts, requant_cost

KIND = "mvau"


def cycles(p) -> int:
    return p["N_VECTORS"] * (p["MH"] // p["PE"]) * (p["MW"] // p["SIMD"])


def first_out(p) -> int:
    # the first output word needs one whole vector (SF words) plus the adder tree and requantise
    return p["MW"] // p["SIMD"] + 4 + math.ceil(math.log2(p["SIMD"] + 1))


def packing(p, board) -> int:
    """Products per DSP: 2 when packable and there is a partner PE, else 1 (0: LUT multipliers)."""
    if lut_multiplier(p["W_BITS"], p["IN_BITS"]):
        return 0
    return 2 if p["PE"] >= 2 and dsp_packs(p["W_BITS"], p["IN_BITS"], board.dsp_port_bits) else 1


def cost(p, board) -> Cost:
    pe, simd, w, a = p["PE"], p["SIMD"], p["W_BITS"], p["IN_BITS"]
    nf, sf = p["MH"] // pe, p["MW"] // simd
    prod_bits = w + a
    pack = packing(p, board)
    if pack == 0:
        dsp, lut = 0, pe * simd * mult_luts(w, a)
    else:
        dsp, lut = math.ceil(pe / pack) * simd, (pe * simd * prod_bits // 2 if pack == 2 else 0)
    # adder tree of SIMD products per PE, the accumulator, fold counters
    lut += pe * (simd * (prod_bits + 2) + p["ACC_BITS"]) + 150
    ff = pe * (simd * prod_bits + p["ACC_BITS"]) + simd * a + 200
    rq = requant_cost(pe, p["ACC_BITS"], p["OUT_BITS"], board.dsp_port_bits)
    mems = [Memory("weights", nf * sf, simd * w, pe),
            Memory("constants", nf, p["ACC_BITS"] + 17 + 6, pe),
            Memory("buffer", sf, simd * a)]
    return Cost(dsp=dsp + rq.dsp, lut=lut + rq.lut, ff=ff + rq.ff, memories=mems)
