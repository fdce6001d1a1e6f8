"""``depthwise.h``: per-channel K x K dot products, PE channels x KP kernel positions x PX pixels in
parallel. KP = PX = 1: after a DEPTHWISE-order sliding window (one tap per cycle); KP > 1 or PX > 1
(PE = C): after the parallel window, whose words of PX·KP·C lanes hold KP kernel positions of every
channel for PX adjacent output pixels. Each weight word is read once for the PX pixels.

cycles/image = OH·OW/PX · (C/PE) · KH·KW/KP   (N_VECTORS = OH·OW, K = KH·KW).
Multipliers: PX·PE·KP products per cycle. Kernel positions and channels share no operand, but the
PX pixels share each weight: with PACK = 2 pixels x and x+1 take one DSP multiply per weight, the
two activations packed on the wide port (2·A + W + 1 bits, signed or unsigned activations: 25 for
8 x 8, so on DSP48E1's 25-bit and DSP48E2's 27-bit ports, AMD UG479/UG579) and the weight on the 18-bit one
(:func:`pixel_packs`; AMD WP486 for the packing, here with the shared operand the weight). Else one
DSP per product (LUTs at <= 4 x 4 bits). An adder tree of KP products per channel and pixel.
Requantise: RQ = ceil(PX·PE / (K/KP)) time-shared requantisers (the word's PX·PE outputs complete
once every K/KP cycles; requant.h's requant_bank, config member RQ): with K/KP > 1 a word is written
STEPS = ceil(PX·PE / RQ) cycles after its last input and a call runs STEPS more iterations.
Memories: the weight ROM of CF·K/KP words x KP·PE·W_BITS bits (the same at any PX), WM_SLOTS words
per row (:mod:`.weight_memory`, its slot mux in the LUTs); constant tables of CF words per PE.
"""
from __future__ import annotations

import numpy as np

from ..quant.qtype import parse_qtype
from .base import ProcessingElement, register
from .cost import (
    DSP_NARROW_BITS,
    Cost,
    Memory,
    dsps_per_product,
    lut_multiplier,
    mult_luts,
    requant_cost,
    requant_steps,
    requantisers,
)
from .mvau import weight_layout, weights_array
from .stage import Array, Port, Stage, ints, pick
from .weight_memory import choose, pack

MODEL = ("C", "PE", "KP", "PX", "K", "N_VECTORS", "IN_BITS", "W_BITS", "ACC_BITS", "OUT_BITS", "PACK", "WM_PES",
         "WM_SLOTS", "RQ")


def pixel_packs(w_bits: int, a_bits: int, port_bits: int) -> bool:
    """Whether two pixels' products w·a1 and w·a2 fit one DSP multiply exactly (depthwise.h PACK = 2):
    the packed activations, A + K + 1 bits with K = W + A (one product's width, signed or unsigned A;
    unsigned activations pack as non-negative numbers), fit the wide port and the signed weight the
    18-bit one; never for LUT products."""
    return not lut_multiplier(w_bits, a_bits) and port_bits > 0 and 2 * a_bits + w_bits + 1 <= port_bits and \
        w_bits <= DSP_NARROW_BITS


def packed_pixel_dsps(p) -> int:
    """The DSPs pixel pairs share (PACK = 2): PX/2 pairs of PE·KP products, one DSP each."""
    return p["PX"] // 2 * p["PE"] * p["KP"] if p.get("PACK", 1) == 2 else 0


def depthwise_stage(layer, src: Port, out: Port, weights: np.ndarray, consts: dict, config: dict,
                    n_vectors: int, pe: int, kp: int = 1, px: int = 1, dsp_port_bits: int = 0) -> Stage:
    """``weights`` (C, 1, KH, KW); ``src`` carries PX·KP·PE lanes (KP kernel positions of PX pixels per
    word); pixel pairs pack when ``dsp_port_bits`` (the board's wide DSP port; 0: none) allows."""
    c = weights.shape[0]
    k = int(np.prod(weights.shape[2:]))
    cf, nk = c // pe, k // kp
    wq = parse_qtype(config["weight_qtype"])
    acc_bits = int(config["acc_bits"])
    packed = px >= 2 and pixel_packs(wq.bits, src.bits, dsp_port_bits)
    cfg = {"C": c, "PE": pe, "KP": kp, "PX": int(px), "K": k, "N_VECTORS": int(n_vectors), "IN_BITS": src.bits,
           "IN_SIGNED": src.signed, "W_BITS": wq.bits, "ACC_BITS": acc_bits, "OUT_BITS": out.bits,
           "OUT_ZP": int(config["zp_out"]), "OUT_LO": int(config["lo"]), "OUT_HI": int(config["hi"]),
           "PACK": 2 if packed else 1, "PACK_SHIFT": wq.bits + src.bits if packed else 0,
           "RQ": requantisers(px * pe, nk)}
    layout = choose(1, cf * nk, kp * pe * wq.bits)
    cfg.update(layout.config())

    def lanes():  # the one memory's word cf*NK + j, lane q*PE + p = w[cf*PE + p][j*KP + q]; packed by weight_memory
        w = np.asarray(weights, np.int64).reshape(cf, pe, nk, kp).transpose(0, 2, 3, 1).reshape(1, cf * nk, kp * pe)
        return pack(w, layout)
    per_ch = lambda a: np.asarray(np.broadcast_to(a, (c,)), np.int64).reshape(cf, pe).T
    arrays = [weights_array(lanes, layout, wq.bits),
              Array("bias", f"ap_int<{acc_bits}>", per_ch(consts["bias"])),
              Array("m", "fa::mult_t", per_ch(consts["M"])),
              Array("shift", "fa::shift_t", per_ch(consts["shift"]))]
    described = ints(dict(cfg, CF=cf))
    return Stage(layer, "depthwise", pick(described, MODEL), [src], [out], cfg, arrays=arrays,
                 header_params=described, folding={"pe": pe, **({"simd": kp * pe} if kp > 1 or px > 1 else {}),
                                                   **({"px": int(px)} if px > 1 else {})})


def drain(p) -> int:
    """The iterations shared requantisers add to a call (0 without the member RQ, or unshared)."""
    return requant_steps(p.get("PX", 1) * p["PE"], p.get("RQ", p.get("PX", 1) * p["PE"]))


@register
class Depthwise(ProcessingElement):
    kind = "depthwise"
    headers = ("depthwise.h", "weight_memory.h")

    def cycles(self, p) -> int:
        return p["N_VECTORS"] // p.get("PX", 1) * (p["C"] // p["PE"]) * (p["K"] // p.get("KP", 1))

    def setup(self, p) -> int:
        return drain(p)

    def first_out(self, p) -> int:
        return p["K"] + 4 + drain(p)

    def cost(self, p, board) -> Cost:
        pe, w, a, cf = p["PE"], p["W_BITS"], p["IN_BITS"], p["C"] // p["PE"]
        kp, px = p.get("KP", 1), p.get("PX", 1)
        lanes = pe * kp  # products per pixel
        pairs = px // 2 if p.get("PACK", 1) == 2 else 0  # pixel pairs sharing one multiply per weight
        singles = (px - 2 * pairs) * lanes
        if lut_multiplier(w, a):
            dsp, lut = 0, singles * mult_luts(w, a)
        else:
            dsp, lut = packed_pixel_dsps(p) + singles * dsps_per_product(w, a, board.dsp_port_bits), 0
        layout = weight_layout(p, 1, cf * (p["K"] // kp), kp * pe * w)
        # operand registers per product; the accumulator and its adder (a tree of KP products) per
        # channel and pixel; the packed pairs' sign fix-up, an adder of one product's width; the slot mux
        lut += px * lanes * (w + a) + px * lanes * p["ACC_BITS"] + pairs * lanes * (w + a) + 150 + layout.luts
        ff = px * lanes * (w + a) + px * pe * p["ACC_BITS"] + 180
        rq = requant_cost(px * pe, p["ACC_BITS"], p["OUT_BITS"], board.dsp_port_bits, rq=p.get("RQ"))
        mems = [layout.memory(), Memory("constants", cf, p["ACC_BITS"] + 17 + 6, pe)]
        return Cost(dsp=dsp + rq.dsp, lut=lut + rq.lut, ff=ff + rq.ff, memories=mems)
