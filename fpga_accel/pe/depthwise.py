"""``depthwise.h``: per-channel K x K dot products, PE channels x KP kernel positions in parallel.
KP = 1: after a DEPTHWISE-order sliding window (one tap per cycle); KP > 1 (PE = C): after the
parallel window, whose words of KP·C lanes hold KP kernel positions of every channel.

cycles/image = OH·OW · (C/PE) · KH·KW/KP   (N_VECTORS = OH·OW, K = KH·KW).
Multipliers: PE·KP products per cycle, each with its own activation, so no two share an operand
and none are packed: one DSP each (LUTs at <= 4 x 4 bits); an adder tree of KP products per
channel. Requantise: one product per PE.
Memories: the weight ROM of CF·K/KP words x KP·PE·W_BITS bits, WM_SLOTS words per row
(:mod:`.weight_memory`, its slot mux in the LUTs); constant tables of CF words per PE.
"""
from __future__ import annotations

import numpy as np

from ..quant.qtype import parse_qtype
from .base import ProcessingElement, register
from .cost import Cost, Memory, dsps_per_product, lut_multiplier, mult_luts, requant_cost
from .mvau import weight_layout, weights_array
from .stage import Array, Port, Stage, ints, pick
from .weight_memory import choose, pack

MODEL = ("C", "PE", "KP", "K", "N_VECTORS", "IN_BITS", "W_BITS", "ACC_BITS", "OUT_BITS", "WM_PES", "WM_SLOTS")


def depthwise_stage(layer, src: Port, out: Port, weights: np.ndarray, consts: dict, config: dict,
                    n_vectors: int, pe: int, kp: int = 1) -> Stage:
    """``weights`` (C, 1, KH, KW); ``src`` carries KP·PE lanes (KP kernel positions per word)."""
    c = weights.shape[0]
    k = int(np.prod(weights.shape[2:]))
    cf, nk = c // pe, k // kp
    wq = parse_qtype(config["weight_qtype"])
    acc_bits = int(config["acc_bits"])
    cfg = {"C": c, "PE": pe, "KP": kp, "K": k, "N_VECTORS": int(n_vectors), "IN_BITS": src.bits, "IN_SIGNED": src.signed,
           "W_BITS": wq.bits, "ACC_BITS": acc_bits, "OUT_BITS": out.bits, "OUT_ZP": int(config["zp_out"]),
           "OUT_LO": int(config["lo"]), "OUT_HI": int(config["hi"])}
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
                 header_params=described, folding={"pe": pe, **({"simd": kp * pe} if kp > 1 else {})})


@register
class Depthwise(ProcessingElement):
    kind = "depthwise"
    headers = ("depthwise.h", "weight_memory.h")

    def cycles(self, p) -> int:
        return p["N_VECTORS"] * (p["C"] // p["PE"]) * (p["K"] // p.get("KP", 1))

    def first_out(self, p) -> int:
        return p["K"] + 4

    def cost(self, p, board) -> Cost:
        pe, w, a, cf = p["PE"], p["W_BITS"], p["IN_BITS"], p["C"] // p["PE"]
        kp = p.get("KP", 1)
        products = pe * kp
        if lut_multiplier(w, a):
            dsp, lut = 0, products * mult_luts(w, a)
        else:
            dsp, lut = products * dsps_per_product(w, a, board.dsp_port_bits), 0
        layout = weight_layout(p, 1, cf * (p["K"] // kp), kp * pe * w)
        # operand registers per product; the accumulator and its adder (a tree of KP products) per channel
        lut += products * (w + a) + pe * kp * p["ACC_BITS"] + 150 + layout.luts
        ff = products * (w + a) + pe * p["ACC_BITS"] + 180
        rq = requant_cost(pe, p["ACC_BITS"], p["OUT_BITS"], board.dsp_port_bits)
        mems = [layout.memory(), Memory("constants", cf, p["ACC_BITS"] + 17 + 6, pe)]
        return Cost(dsp=dsp + rq.dsp, lut=lut + rq.lut, ff=ff + rq.ff, memories=mems)
