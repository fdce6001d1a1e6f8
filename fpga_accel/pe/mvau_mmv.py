"""``mvau_mmv.h``: the MVAU over PX vectors (pixels) per cycle, every output channel in parallel
(PE = MH), the weights of a synapse fold read once for all PX vectors.

cycles/image = N_VECTORS/PX · MW/SIMD.
Cost: :mod:`.mvau`'s model at PE = MH with what is per vector taken PX times — the products (DSP
or LUT multipliers, packed as there), the adder trees, accumulators and requantisers — and what
is shared once: the weight ROMs (MW/SIMD words x SIMD·W_BITS bits per PE), the constant tables and
the fold counter. No input buffer (one neuron fold: nothing is replayed). Requantisers: the PX·MH
outputs of a group complete once every SF cycles, so RQ = ceil(PX·MH / SF) time-shared ones
(requant.h's requant_bank): with SF > 1 a word is written STEPS = ceil(PX·MH / RQ) cycles after the
group's last input and a call runs STEPS more iterations.
"""
from __future__ import annotations

import math

from .base import ProcessingElement, register
from .cost import Cost, requant_cost, requant_steps, requantisers
from .mvau import Mvau, mvau_stage
from .stage import Port, Stage

#: the control logic and counters of mvau.py's model, counted once
_LUT_ONCE, _FF_ONCE = 150, 200


def mmv_stage(layer, src: Port, out: Port, weights, consts: dict, config: dict, n_vectors: int, simd: int, px: int,
              dsp_port_bits: int = 0, mul: str = "dsp") -> Stage:
    """The MMV MVAU of ``weights`` (MH, MW): reads PX·SIMD lanes (``src``), writes PX·MH (``out``)."""
    mh = weights.shape[0]
    st = mvau_stage(layer, src, out, weights, consts, config, n_vectors, mh, simd, dsp_port_bits=dsp_port_bits,
                    mul=mul)
    own = {"PX": int(px), "RQ": requantisers(int(px) * mh, st.params["MW"] // simd)}
    return Stage(layer, "mvau_mmv", dict(st.params, **own), st.inputs, st.outputs, dict(st.config, **own),
                 arrays=st.arrays, header_params=dict(st.header_params, **own),
                 folding=dict(st.folding, px=int(px)))


@register
class MvauMmv(ProcessingElement):
    kind = "mvau_mmv"
    headers = ("mvau_mmv.h",)

    def cycles(self, p) -> int:
        return p["N_VECTORS"] // p["PX"] * (p["MW"] // p["SIMD"])

    def setup(self, p) -> int:
        return drain(p)

    def first_out(self, p) -> int:
        return p["MW"] // p["SIMD"] + 4 + math.ceil(math.log2(p["SIMD"] + 1)) + drain(p)

    def cost(self, p, board) -> Cost:
        # one vector's datapath without its requantisers, its memories and control; then the bank
        one = Mvau().cost(dict(p, RQ=p["PE"]), board)
        own = requant_cost(p["PE"], p["ACC_BITS"], p["OUT_BITS"], board.dsp_port_bits)
        px = p["PX"]
        lanes = px * p["PE"]
        rq = requant_cost(lanes, p["ACC_BITS"], p["OUT_BITS"], board.dsp_port_bits, rq=p.get("RQ", lanes))
        return Cost(dsp=px * (one.dsp - own.dsp) + rq.dsp, lut=px * (one.lut - own.lut - _LUT_ONCE) + _LUT_ONCE + rq.lut,
                    ff=px * (one.ff - own.ff - _FF_ONCE) + _FF_ONCE + rq.ff,
                    memories=[m for m in one.memories if m.role != "buffer"])


def drain(p) -> int:
    """The iterations shared requantisers add to a call (0 without the member RQ, or unshared)."""
    lanes = p["PX"] * p["PE"]
    return requant_steps(lanes, p.get("RQ", lanes))
