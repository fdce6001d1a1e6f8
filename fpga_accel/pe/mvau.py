"""``mvau.h``: the folded matrix-vector unit of Conv (after the window), Gemm and MatMul.

cycles/image = N_VECTORS · (MH/PE) · (MW/SIMD)   (NF = MH/PE neuron folds, SF = MW/SIMD).
Multipliers: PE·SIMD products of W_BITS x IN_BITS per cycle, chosen by :func:`multipliers` into
the config (PACK, PACK_SHIFT, MUL_FABRIC) that both mvau.h and the cost model read. LUTs
(MUL_FABRIC) for products of at most 4 x 4 bits and for a layer folded with ``mul="lut"``;
otherwise two products that share an activation (PEs p and p+1, same SIMD lane) take one DSP
(PACK = 2) when the packed operand, 2·W_BITS + IN_BITS + 1 bits, fits the board's wide port
(27 bits on DSP48E2, 25 on DSP48E1: int8 packs on both); else one DSP per product. Packed, the
products of PACK_GROUP lanes are summed in the DSPs' post-adders before one separation
(:func:`.cost.pack_group`: 4 lanes of int8 x uint8 on DSP48E2, 1 on DSP48E1), so a pair's borrow
fix-up and its two adder-tree inputs are per group of lanes, not per product.
Requantise: RQ = ceil(PE / SF) time-shared requantisers (a fold's PE outputs complete once every SF
cycles; requant.h's requant_bank, config member RQ): with SF > 1 a word is written STEPS = ceil(PE / RQ)
cycles after its fold's last input and a call runs STEPS more iterations.
Memories: PE weight ROMs of NF·SF words x SIMD·W_BITS bits, packed into bank arrays by
:mod:`.weight_memory` (config WM_PES, WM_SLOTS; its slot mux in the LUTs); PE constant tables (bias, M,
shift) of NF words; the input buffer of SF words x SIMD·IN_BITS bits (replayed per fold).
Input FIFO: ⌈(NF−1)·SF · N_VECTORS·SF / interval⌉ words beyond the default depth: what a producer
spreading an image's words over the network's interval writes during the replayed folds.
"""
from __future__ import annotations

import math

import numpy as np

from ..quant.qtype import parse_qtype
from .base import ProcessingElement, register
from .cost import (
    Cost,
    Memory,
    dsp_packs,
    dsps_per_product,
    lut_multiplier,
    mult_luts,
    pack_group,
    requant_cost,
    requant_steps,
    requantisers,
)
from .packing import PackedLanes
from .stage import Array, Port, Stage, ints, pick
from .weight_memory import Layout, choose, impl, pack

#: what the model reads, in the manifest's order; a dense layer (Gemm, MatMul) lists its folding last
MULTIPLIERS = ("IN_SIGNED", "PACK", "PACK_SHIFT", "MUL_FABRIC", "PACK_GROUP")
#: the weight memories' packing (weight_memory.h)
PACKING = ("WM_PES", "WM_SLOTS")
MODEL = ("MW", "MH", "SIMD", "PE", "N_VECTORS", "IN_BITS", "W_BITS", "ACC_BITS", "OUT_BITS", *MULTIPLIERS, *PACKING,
         "RQ")
DENSE_MODEL = ("MW", "MH", "N_VECTORS", "IN_BITS", "W_BITS", "ACC_BITS", "OUT_BITS", *MULTIPLIERS, *PACKING, "RQ",
               "SIMD", "PE")
#: a layer's multiplier choice (fold key "mul"): the tools' DSPs, or LUTs to spare the DSPs
MUL_CHOICES = ("dsp", "lut")


def multipliers(w_bits: int, in_bits: int, in_signed: bool, pe: int, dsp_port_bits: int,
                mul: str = "dsp", simd: int = 1) -> dict:
    """mvau.h's multiplier members for these widths on a board whose DSPs have a ``dsp_port_bits``
    wide port (0: no board, nothing packs): MUL_FABRIC for LUT products, else PACK = 2 when two PEs
    can share each DSP exactly, with PACK_GROUP lanes of ``simd`` summed while packed at PACK_SHIFT
    (:func:`.cost.pack_group`), else PACK = 1 (one DSP per product)."""
    fabric = mul == "lut" or lut_multiplier(w_bits, in_bits)
    pack = not fabric and pe >= 2 and dsp_packs(w_bits, in_bits, dsp_port_bits, bool(in_signed))
    group, shift = pack_group(w_bits, in_bits, bool(in_signed), dsp_port_bits, simd) if pack else (1, 0)
    return {"PACK": 2 if pack else 1, "PACK_SHIFT": shift, "MUL_FABRIC": fabric, "PACK_GROUP": group}


def mvau_stage(layer, src: Port, out: Port, weights: np.ndarray, consts: dict, config: dict,
               n_vectors: int, pe: int, simd: int, dense: bool = False, dsp_port_bits: int = 0,
               mul: str = "dsp") -> Stage:
    """``weights`` (MH, MW) in the MVAU column order; ``consts`` bias/M/shift per output channel;
    ``dsp_port_bits`` and ``mul`` choose the multipliers (:func:`multipliers`)."""
    mh, mw = weights.shape
    nf, sf = mh // pe, mw // simd
    wq = parse_qtype(config["weight_qtype"])
    acc_bits = int(config["acc_bits"])
    cfg = {"MW": mw, "MH": mh, "SIMD": simd, "PE": pe, "N_VECTORS": int(n_vectors), "IN_BITS": src.bits,
           "IN_SIGNED": src.signed, "W_BITS": wq.bits, "ACC_BITS": acc_bits, "OUT_BITS": out.bits,
           "OUT_ZP": int(config["zp_out"]), "OUT_LO": int(config["lo"]), "OUT_HI": int(config["hi"]),
           **multipliers(wq.bits, src.bits, src.signed, pe, dsp_port_bits, mul, simd), "RQ": requantisers(pe, sf)}
    layout = choose(pe, nf * sf, simd * wq.bits)
    cfg.update(layout.config())

    def lanes():  # memory p's word nf*SF + sf, lane s = W[nf*PE + p][sf*SIMD + s]; packed by weight_memory
        w = np.asarray(weights, np.int64).reshape(nf, pe, sf, simd).transpose(1, 0, 2, 3).reshape(pe, nf * sf, simd)
        return pack(w, layout)
    per_ch = lambda a: np.asarray(a, np.int64).reshape(-1)[: mh].reshape(nf, pe).T
    arrays = [weights_array(lanes, layout, wq.bits),
              Array("bias", f"ap_int<{acc_bits}>", per_ch(consts["bias"])),
              Array("m", "fa::mult_t", per_ch(np.broadcast_to(consts["M"], (mh,)))),
              Array("shift", "fa::shift_t", per_ch(np.broadcast_to(consts["shift"], (mh,))))]
    described = ints(dict(cfg, NF=nf, SF=sf))
    folding = {"pe": pe, "simd": simd, **({"mul": mul} if mul != "dsp" else {})}
    return Stage(layer, "mvau", pick(described, DENSE_MODEL if dense else MODEL), [src], [out], cfg,
                 arrays=arrays, header_params=described, folding=folding)


def weights_array(lanes, layout: Layout, w_bits: int) -> Array:
    """The packed weight banks: ``lanes()`` gives their W_BITS lanes, (banks, depth, lanes)."""
    return Array("weights", f"ap_uint<{layout.word_bits}>",
                 PackedLanes(lanes, w_bits, (layout.banks, layout.packed_depth)), layout.word_bits, impl(layout))


def weight_layout(p, mems: int, depth: int, width: int) -> Layout:
    """The packing the stage params ``p`` declare (none for params without WM_PES / WM_SLOTS)."""
    return Layout(mems, depth, width, int(p.get("WM_PES", 1)), int(p.get("WM_SLOTS", 1)))


def packed_pairs(p) -> int:
    """PE pairs that share DSPs (mvau.h PACK = 2); a stage priced without the member packs none."""
    return p["PE"] // 2 if p.get("PACK", 1) == 2 else 0


def fabric(p) -> bool:
    """Whether the products are LUTs (MUL_FABRIC; without the member, the widths decide)."""
    return bool(p.get("MUL_FABRIC", lut_multiplier(p["W_BITS"], p["IN_BITS"])))


def drain(p) -> int:
    """The iterations shared requantisers add to a call (0 without the member RQ, or unshared)."""
    return requant_steps(p["PE"], p.get("RQ", p["PE"]))


@register
class Mvau(ProcessingElement):
    kind = "mvau"
    headers = ("mvau.h", "weight_memory.h")

    def cycles(self, p) -> int:
        return p["N_VECTORS"] * (p["MH"] // p["PE"]) * (p["MW"] // p["SIMD"])

    def input_slack(self, p, interval: int) -> int:
        # A vector's SF words are read in fold 0; during the NF-1 replayed folds ((NF-1)·SF cycles)
        # a producer delivering the N_VECTORS·SF words of an image evenly over ``interval`` cycles
        # goes on writing: that many words must fit in front.
        nf, sf = p["MH"] // p["PE"], p["MW"] // p["SIMD"]
        return math.ceil((nf - 1) * sf * p["N_VECTORS"] * sf / interval) if nf > 1 else 0

    def setup(self, p) -> int:
        return drain(p)

    def first_out(self, p) -> int:
        # the first output word needs one whole vector (SF words) plus the adder tree and requantise
        return p["MW"] // p["SIMD"] + 4 + math.ceil(math.log2(p["SIMD"] + 1)) + drain(p)

    def cost(self, p, board) -> Cost:
        pe, simd, w, a = p["PE"], p["SIMD"], p["W_BITS"], p["IN_BITS"]
        nf, sf = p["MH"] // pe, p["MW"] // simd
        prod_bits = w + a
        pairs = 0 if fabric(p) else packed_pairs(p)
        group = p.get("PACK_GROUP", 1) if pairs else 1
        groups, sum_bits = math.ceil(simd / group), prod_bits + (group - 1).bit_length()
        if fabric(p):
            dsp, lut = 0, pe * simd * mult_luts(w, a)
        else:
            # a packed multiply is P (W + K + 1 bits) x a (A + 1 bits when unsigned): one DSP where it
            # fits the port; a group's packed products add in those DSPs' post-adders (mvau.h
            # PACK_GROUP), and its borrow fix-up is one adder of the high sum's width in LUTs
            x_bits = a + (not p.get("IN_SIGNED", True))
            port = board.dsp_port_bits
            k = p.get("PACK_SHIFT") or prod_bits
            dsp = simd * (pairs * dsps_per_product(w + k + 1, x_bits, port)
                          + (pe - 2 * pairs) * dsps_per_product(w, x_bits, port))
            lut = pairs * groups * sum_bits
        # adder tree per PE (SIMD products; a packed pair's PEs: one group sum per group), the
        # accumulator, fold counters; FFs: the tree's inputs, the accumulators, the input word
        layout = weight_layout(p, pe, nf * sf, simd * w)
        inputs = 2 * pairs * groups + (pe - 2 * pairs) * simd  # the adder trees' inputs, over all PEs
        terms = 2 * pairs * groups * sum_bits + (pe - 2 * pairs) * simd * prod_bits  # their bits
        lut += 2 * inputs + terms + pe * p["ACC_BITS"] + 150 + layout.luts
        ff = terms + pe * p["ACC_BITS"] + simd * a + 200
        rq = requant_cost(pe, p["ACC_BITS"], p["OUT_BITS"], board.dsp_port_bits, rq=p.get("RQ"))
        mems = [layout.memory(),
                Memory("constants", nf, p["ACC_BITS"] + 17 + 6, pe),
                Memory("buffer", sf, simd * a)]
        return Cost(dsp=dsp + rq.dsp, lut=lut + rq.lut, ff=ff + rq.ff, memories=mems)
