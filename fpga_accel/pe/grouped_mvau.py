"""``grouped_mvau.h``: a grouped convolution (1 < group) after an MVAU-order window: output
channel r reads only the K·C/G columns of its group.

Folding rule: PE output channels within one group (PE | MH/G), SIMD input channels within one
group (SIMD | C/G). NF = MH/PE folds, SFG = K·(C/G)/SIMD words per fold, TILES = NF·SFG.
cycles/image = N_VECTORS · TILES; setup = TILES per call (the two-bank buffer computes window v-1
while window v is read, so a call ends with one window computed and none read).
Multipliers, requantise and weight ROMs as :mod:`.mvau` with MW = K·C/G (its multipliers() too).
Memories: PE weight ROMs of TILES words x SIMD·W_BITS bits, packed as the MVAU's (:mod:`.weight_memory`); PE constant tables of NF words; the
two-bank window buffer, 2 x SF_ALL words x SIMD·IN_BITS bits (SF_ALL = K·C/SIMD, the whole window).
Input FIFO: the window's SF_ALL words are read in the first SF_ALL of its TILES iterations, so a
producer spreading an image's words over the interval writes ⌈(TILES − SF_ALL) · N_VECTORS·SF_ALL /
interval⌉ words meanwhile.
"""
from __future__ import annotations

import math

import numpy as np

from ..quant.qtype import parse_qtype
from .base import ProcessingElement, register
from .cost import Cost, Memory
from .mvau import Mvau, multipliers, weights_array
from .stage import Array, Port, Stage, ints, pick
from .weight_memory import choose, pack

MODEL = ("C", "G", "K", "MH", "SIMD", "PE", "N_VECTORS", "IN_BITS", "W_BITS", "ACC_BITS", "OUT_BITS",
         "IN_SIGNED", "PACK", "PACK_SHIFT", "MUL_FABRIC", "PACK_GROUP", "WM_PES", "WM_SLOTS")


def dims(p) -> dict[str, int]:
    """The header's grouped_mvau_dims for the stage params ``p``."""
    cg, mg = p["C"] // p["G"], p["MH"] // p["G"]
    nf, sfg = p["MH"] // p["PE"], p["K"] * cg // p["SIMD"]
    return {"CG": cg, "MG": mg, "NF": nf, "SFG": sfg, "SF_ALL": p["K"] * p["C"] // p["SIMD"], "TILES": nf * sfg}


def grouped_mvau_stage(layer, src: Port, out: Port, weights: np.ndarray, consts: dict, config: dict,
                       n_vectors: int, channels: int, groups: int, pe: int, simd: int, dsp_port_bits: int = 0,
                       mul: str = "dsp") -> Stage:
    """``weights`` (MH, K·C/G): each output channel's own columns in window order (t·C/G + c);
    ``channels`` C, the input channels of the whole window."""
    mh, kcg = weights.shape
    wq = parse_qtype(config["weight_qtype"])
    acc_bits = int(config["acc_bits"])
    cfg = {"C": channels, "G": groups, "K": kcg * groups // channels, "MH": mh, "SIMD": simd, "PE": pe,
           "N_VECTORS": int(n_vectors), "IN_BITS": src.bits, "IN_SIGNED": src.signed, "W_BITS": wq.bits,
           "ACC_BITS": acc_bits, "OUT_BITS": out.bits, "OUT_ZP": int(config["zp_out"]), "OUT_LO": int(config["lo"]),
           "OUT_HI": int(config["hi"]), **multipliers(wq.bits, src.bits, src.signed, pe, dsp_port_bits, mul, simd)}
    d = dims(cfg)
    nf, sfg = d["NF"], d["SFG"]
    layout = choose(pe, nf * sfg, simd * wq.bits)
    cfg.update(layout.config())

    def lanes():  # memory p's word nf*SFG + sf, lane s = W[nf*PE + p][sf*SIMD + s]; packed by weight_memory
        w = np.asarray(weights, np.int64).reshape(nf, pe, sfg, simd).transpose(1, 0, 2, 3).reshape(pe, nf * sfg, simd)
        return pack(w, layout)
    per_ch = lambda a: np.asarray(np.broadcast_to(a, (mh,)), np.int64).reshape(nf, pe).T
    arrays = [weights_array(lanes, layout, wq.bits),
              Array("bias", f"ap_int<{acc_bits}>", per_ch(consts["bias"])),
              Array("m", "fa::mult_t", per_ch(consts["M"])),
              Array("shift", "fa::shift_t", per_ch(consts["shift"]))]
    described = ints(dict(cfg, **d))
    folding = {"pe": pe, "simd": simd, **({"mul": mul} if mul != "dsp" else {})}
    return Stage(layer, "grouped_mvau", pick(described, MODEL), [src], [out], cfg, arrays=arrays,
                 header_params=described, folding=folding)


@register
class GroupedMvau(ProcessingElement):
    kind = "grouped_mvau"
    headers = ("grouped_mvau.h", "mvau.h", "weight_memory.h")

    def cycles(self, p) -> int:
        return p["N_VECTORS"] * dims(p)["TILES"]

    def setup(self, p) -> int:
        return dims(p)["TILES"]

    def input_slack(self, p, interval: int) -> int:
        d = dims(p)
        idle = d["TILES"] - d["SF_ALL"]
        return math.ceil(idle * p["N_VECTORS"] * d["SF_ALL"] / interval) if idle else 0

    def first_out(self, p) -> int:
        d = dims(p)
        return d["TILES"] + d["SFG"] + 4 + math.ceil(math.log2(p["SIMD"] + 1))

    def cost(self, p, board) -> Cost:
        # the logic and ROMs of an MVAU over one group's columns; the buffer holds two whole windows;
        # + 60 LUT / 40 FF (estimate) for the tap, group and bank counters the MVAU does not have
        d = dims(p)
        mv = Mvau().cost(dict(p, MW=p["K"] * d["CG"]), board)
        mems = [m for m in mv.memories if m.role != "buffer"]
        mems.append(Memory("buffer", 2 * d["SF_ALL"], p["SIMD"] * p["IN_BITS"]))
        return Cost(dsp=mv.dsp, lut=mv.lut + 60, ff=mv.ff + 40, memories=mems)
