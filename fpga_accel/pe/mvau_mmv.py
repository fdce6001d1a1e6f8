"""``mvau_mmv.h``: the MVAU over PX vectors (pixels) per cycle, PE output channels x SIMD columns of
each, the weight words read once for all PX vectors.

cycles/image = N_VECTORS/PX · (MH/PE) · (MW/SIMD)   (NF = MH/PE neuron folds, SF = MW/SIMD).
Input: words of PX·IN_SIMD lanes, IN_SIMD columns of each vector (the window's SIMD = KP·C, or
whole pixels, MW, for a 1x1 convolution without a window), IN_SIMD a multiple of SIMD: each word
serves SPAN = IN_SIMD/SIMD synapse folds in SIMD-column slices (a mux of SPAN per lane bit).
Output: one word of PX whole pixels (PX·MH lanes) per group, whatever PE is, so the next layer sees
the NHWC stream of PX-pixel words; fold nf's PX·PE outputs wait in that held word.
Cost: :mod:`.mvau`'s model at the same PE, SIMD and multipliers (LUT products for narrow widths or
``mul="lut"``, two PEs per DSP with PACK = 2) with what is per vector taken PX times — the
products, adder trees, accumulators and input registers — and what is shared once: the weight
memories (PE memories of NF·SF words, packed by :mod:`.weight_memory`) and their slot mux, the
constant tables and the fold counters. With NF > 1 or SPAN > 1 a group's IF = MW/IN_SIMD input words
(PX·MW elements) are held for the slices and replayed folds: a buffer of IF words x PX·IN_SIMD·IN_BITS
bits (FFs when IF = 1); with NF > 1 the held output word's PX·(MH − PE) lanes of earlier folds (FFs;
each fold's lanes load when it completes, no mux).
Requantisers: a fold's PX·PE outputs complete once every SF cycles, so RQ = ceil(PX·PE / SF)
time-shared ones (requant.h's requant_bank): with SF > 1 they reach the held word STEPS =
ceil(PX·PE / RQ) cycles after the fold's last input and a call runs STEPS more iterations.
Input FIFO: as :mod:`.mvau`, ⌈(NF−1)·SF · (N_VECTORS/PX)·IF / interval⌉ words beyond the default
depth (what a producer spreading an image over the network's interval writes during the replays).
"""
from __future__ import annotations

import math

from .base import ProcessingElement, register
from .cost import Cost, Memory, requant_cost, requant_steps, requantisers
from .mvau import Mvau, mvau_stage, weight_layout
from .stage import Port, Stage
from .weight_memory import mux_luts

#: the control logic and counters of mvau.py's model, counted once
_LUT_ONCE, _FF_ONCE = 150, 200


def mmv_stage(layer, src: Port, out: Port, weights, consts: dict, config: dict, n_vectors: int, pe: int, simd: int,
              px: int, dsp_port_bits: int = 0, mul: str = "dsp") -> Stage:
    """The MMV MVAU of ``weights`` (MH, MW) at PE x SIMD: reads PX·IN_SIMD lanes (``src``, IN_SIMD =
    src.lanes/PX), writes PX·MH (``out``, PX whole pixels)."""
    st = mvau_stage(layer, src, out, weights, consts, config, n_vectors, pe, simd, dsp_port_bits=dsp_port_bits,
                    mul=mul)
    own = {"PX": int(px), "IN_SIMD": src.lanes // int(px), "RQ": requantisers(int(px) * pe, st.params["MW"] // simd)}
    return Stage(layer, "mvau_mmv", dict(st.params, **own), st.inputs, st.outputs, dict(st.config, **own),
                 arrays=st.arrays, header_params=dict(st.header_params, **own),
                 folding=dict(st.folding, px=int(px)))


@register
class MvauMmv(ProcessingElement):
    kind = "mvau_mmv"
    headers = ("mvau_mmv.h", "mvau.h", "weight_memory.h")

    def cycles(self, p) -> int:
        return p["N_VECTORS"] // p["PX"] * (p["MH"] // p["PE"]) * (p["MW"] // p["SIMD"])

    def input_slack(self, p, interval: int) -> int:
        # a group's SF words are read in fold 0; the producer goes on during the (NF-1)·SF replayed cycles
        nf, sf, words = p["MH"] // p["PE"], p["MW"] // p["SIMD"], p["MW"] // in_simd(p)
        return math.ceil((nf - 1) * sf * p["N_VECTORS"] // p["PX"] * words / interval) if nf > 1 else 0

    def setup(self, p) -> int:
        return drain(p)

    def first_out(self, p) -> int:
        # a group's word needs all NF folds of its SF words, then the adder tree and requantise
        nf, sf = p["MH"] // p["PE"], p["MW"] // p["SIMD"]
        return nf * sf + 4 + math.ceil(math.log2(p["SIMD"] + 1)) + drain(p)

    def cost(self, p, board) -> Cost:
        # one vector's datapath: mvau's model without its requantisers, memories, slot mux and control
        pe, simd, px = p["PE"], p["SIMD"], p["PX"]
        nf, sf = p["MH"] // pe, p["MW"] // simd
        one = Mvau().cost(dict(p, RQ=pe), board)
        own = requant_cost(pe, p["ACC_BITS"], p["OUT_BITS"], board.dsp_port_bits)
        mux = weight_layout(p, pe, nf * sf, simd * p["W_BITS"]).luts
        lanes = px * pe
        rq = requant_cost(lanes, p["ACC_BITS"], p["OUT_BITS"], board.dsp_port_bits, rq=p.get("RQ", lanes))
        held = px * (p["MH"] - pe) * p["OUT_BITS"]
        mems = [m for m in one.memories if m.role != "buffer"]
        span, words, word_bits = in_simd(p) // simd, p["MW"] // in_simd(p), px * in_simd(p) * p["IN_BITS"]
        if nf * span > 1 and words > 1:
            mems.append(Memory("buffer", words, word_bits))
        elif nf * span > 1:
            held += word_bits  # one word: a register
        slices = px * simd * p["IN_BITS"] * mux_luts(span)
        return Cost(dsp=px * (one.dsp - own.dsp) + rq.dsp,
                    lut=px * (one.lut - own.lut - mux - _LUT_ONCE) + mux + _LUT_ONCE + rq.lut + slices,
                    ff=px * (one.ff - own.ff - _FF_ONCE) + _FF_ONCE + rq.ff + held, memories=mems)


def in_simd(p) -> int:
    """The columns of a vector in one input word (SIMD without the member)."""
    return p.get("IN_SIMD", p["SIMD"])


def drain(p) -> int:
    """The iterations shared requantisers add to a call (0 without the member RQ, or unshared)."""
    lanes = p["PX"] * p["PE"]
    return requant_steps(lanes, p.get("RQ", lanes))
