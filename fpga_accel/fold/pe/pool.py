"""pool.h: max / average pooling after the sliding window, global max / average pooling.

window pools: cycles/image = OH·OW · CF · KH·KW      (CF = C/SIMD; the window's stream)
global pools: cycles/image = N_PIXELS · CF + CF
Logic per lane: a comparator (max) or an accumulator and a requantise product (average).
Memories: global pools keep CF words of SIMD running values.
"""
from __future__ import annotations

from ..resources import Cost, Memory, requant_cost
from ._model import pe_model
from .sliding_window import dims


def _window_cycles(p) -> int:
    d = dims(p)
    return d["OH"] * d["OW"] * d["CF"] * p["KH"] * p["KW"]


def _max_cost(p, board) -> Cost:
    return Cost(lut=80 + 2 * p["SIMD"] * p["BITS"], ff=100 + 2 * p["SIMD"] * p["BITS"])


def _avg_cost(p, board) -> Cost:
    rq = requant_cost(p["SIMD"], p["ACC_BITS"], p["OUT_BITS"], board.dsp_port_bits)
    return Cost(dsp=rq.dsp, lut=100 + p["SIMD"] * p["ACC_BITS"] + rq.lut,
                ff=120 + p["SIMD"] * p["ACC_BITS"] + rq.ff)


def _global_cycles(p) -> int:
    cf = p["C"] // p["SIMD"]
    return p["N_PIXELS"] * cf + cf


def _global_max_cost(p, board) -> Cost:
    c = _max_cost(p, board)
    c.memories = [Memory("buffer", p["C"] // p["SIMD"], p["SIMD"] * p["BITS"])]
    return c


def _global_avg_cost(p, board) -> Cost:
    c = _avg_cost(p, board)
    c.memories = [Memory("buffer", p["C"] // p["SIMD"], p["SIMD"] * p["ACC_BITS"])]
    return c


KINDS = (
    pe_model("max_pool", _window_cycles, _max_cost, first_out=lambda p: p["KH"] * p["KW"] * (p["C"] // p["SIMD"])),
    pe_model("avg_pool", _window_cycles, _avg_cost, first_out=lambda p: p["KH"] * p["KW"] * (p["C"] // p["SIMD"])),
    pe_model("global_max_pool", _global_cycles, _global_max_cost, first_out=_global_cycles),
    pe_model("global_avg_pool", _global_cycles, _global_avg_cost, first_out=_global_cycles),
)
