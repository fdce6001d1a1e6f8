"""sliding_window.h: the line buffer in front of a convolution or window pooling.

cycles/image = (LAST(0)+1)·IW·CF + Σ_{oy<OH} max(OW·KH·KW·CF, READ(oy)·IW·CF), with
LAST(oy) = min(IH−1, oy·SH − PAD_T + SPAN_H − 1), READ(oy) = LAST(oy+1) − LAST(oy) and, for the
last output row, IH−1 − LAST(OH−1); CF = C/SIMD, SPAN_H = DH·(KH−1)+1.
Memory: one LB_ROWS·IW·CF-word buffer of SIMD·BITS bits, LB_ROWS = SPAN_H + SH.
"""
from __future__ import annotations

from ..resources import Cost, Memory

KIND = "sliding_window"


def dims(p) -> dict:
    span_h = p["DH"] * (p["KH"] - 1) + 1
    span_w = p["DW"] * (p["KW"] - 1) + 1
    oh = (p["IH"] + p["PAD_T"] + p["PAD_B"] - span_h) // p["SH"] + 1
    ow = (p["IW"] + p["PAD_L"] + p["PAD_R"] - span_w) // p["SW"] + 1
    return {"SPAN_H": span_h, "OH": oh, "OW": ow, "CF": p["C"] // p["SIMD"], "LB_ROWS": span_h + p["SH"]}


def _last(p, d, oy: int) -> int:
    return min(p["IH"] - 1, oy * p["SH"] - p["PAD_T"] + d["SPAN_H"] - 1)


def cycles(p) -> int:
    d = dims(p)
    row = p["IW"] * d["CF"]
    emit = d["OW"] * p["KH"] * p["KW"] * d["CF"]
    total = (_last(p, d, 0) + 1) * row
    for oy in range(d["OH"]):
        nxt = _last(p, d, oy + 1) if oy + 1 < d["OH"] else p["IH"] - 1
        total += max(emit, (nxt - _last(p, d, oy)) * row)
    return total


def first_out(p) -> int:
    d = dims(p)
    return (_last(p, d, 0) + 1) * p["IW"] * d["CF"] + 1


def cost(p, board) -> Cost:
    d = dims(p)
    width = p["SIMD"] * p["BITS"]
    # read/write address counters, the pad multiplexer on the output word, the output register
    return Cost(lut=120 + 2 * width, ff=160 + 2 * width,
                memories=[Memory("line_buffer", d["LB_ROWS"] * p["IW"] * d["CF"], width)])
