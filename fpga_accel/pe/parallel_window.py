"""``parallel_window.h``: the sliding window of a convolution whose SIMD spans whole pixels,
SIMD = KP·C with KP kernel positions per word (KP a divisor of KH·KW; KP = KH·KW is one window per
word). It reads one pixel (C lanes) per cycle and emits NW = KH·KW/KP words per output pixel in the
MVAU column order, so the MVAU behind it is unchanged.

Images follow each other without a gap: an output row reads what the next output row needs and up
to SH rows ahead while the ring of line-buffer rows has room, into the next image's first rows, so
in a batch only the first image waits for its prologue rows. Per image: the prologue rows not yet
read, then Σ_{oy<OH} max(OW·NW, rows read during oy · IW) (:func:`.sliding_window.image_cycles`,
the schedule of the header; LAST as in :mod:`.sliding_window`); ``cycles`` is the steady-state image, about
max(OH·OW·NW, IH·IW).
Memory: LB_ROWS·SPAN_W banks of ⌈IW/SPAN_W⌉ pixels (C·BITS bits), LB_ROWS = SPAN_H + SH.
Registers: the KH·KW-pixel window and the output word.
Logic (estimate): each window register picks one of LB_ROWS·SPAN_W banks or the pad value, each
output lane one of NW window registers. A LUT6 is a 4:1 multiplexer (AMD UG474, 7 Series CLB:
"each LUT can implement a 4:1 multiplexer"; the same CLB LUT6 in UltraScale, UG574), so an n:1
multiplexer of one bit is a tree of ⌈(n−1)/3⌉ LUTs; plus an address adder and compare per bank.
Input FIFO: (LAST(0)+1)·IW words beyond the default depth (the prologue's rows; input_slack).
"""
from __future__ import annotations

import math

from .base import ProcessingElement, register
from .cost import Cost, Memory
from .sliding_window import WINDOW, _last, batch_cycles, dims, steady_cycles
from .stage import Port, Stage


def positions_options(channels: int, taps: int) -> list[int]:
    """The SIMD values a convolution's window can feed: divisors of C (channel groups, the line
    buffer of :mod:`.sliding_window`), then C·KP for every KP > 1 dividing KH·KW (this PE)."""
    return [d for d in range(1, channels + 1) if channels % d == 0] + \
        [channels * kp for kp in range(2, taps + 1) if taps % kp == 0]


def window_stage(layer: str, src: Port, out_tensor: str, g: dict[str, int], pad_value: int, simd: int) -> Stage:
    """The window of ``g`` (sliding_window.geometry) reading ``src`` (C lanes) and writing SIMD lanes."""
    cfg = {k: g[k] for k in WINDOW}
    cfg.update({"SIMD": int(simd), "BITS": src.bits, "PAD_VALUE": int(pad_value)})
    out = Port(out_tensor, int(simd), src.bits, src.signed)
    return Stage(layer, "parallel_window", dict(cfg), [src], [out], cfg,
                 header_params=dict(cfg, OH=g["OH"], OW=g["OW"]), folding={"simd": int(simd)})


def _mux_luts(n: int) -> int:
    return math.ceil((n - 1) / 3) if n > 1 else 0


def shape(p) -> dict[str, int]:
    """Derived sizes: KP, NW, SPAN_W, BANKS, BANK_DEPTH (and sliding_window's dims)."""
    d = dims(dict(p, SIMD=p["C"]))
    taps = p["KH"] * p["KW"]
    span_w = p["DW"] * (p["KW"] - 1) + 1
    kp = p["SIMD"] // p["C"]
    return dict(d, KP=kp, NW=taps // kp, SPAN_W=span_w, BANKS=d["LB_ROWS"] * span_w,
                BANK_DEPTH=math.ceil(p["IW"] / span_w))


@register
class ParallelWindow(ProcessingElement):
    kind = "parallel_window"
    headers = ("parallel_window.h",)

    def cycles(self, p) -> int:
        return steady_cycles(p, p["IW"], shape(p)["NW"])

    def batch_cycles(self, p, n_images: int, interface: str) -> int:
        return batch_cycles(p, n_images, p["IW"], shape(p)["NW"])

    def first_out(self, p) -> int:
        return (_last(p, shape(p), 0) + 1) * p["IW"] + 1

    def input_slack(self, p, interval: int) -> int:
        # the first image's prologue rows arrive while nothing is emitted (later images read theirs
        # ahead, at most SH rows per output row)
        return (_last(p, shape(p), 0) + 1) * p["IW"]

    def cost(self, p, board) -> Cost:
        d = shape(p)
        pixel = p["C"] * p["BITS"]
        taps = p["KH"] * p["KW"]
        addr = max(1, math.ceil(math.log2(d["BANK_DEPTH"] + 1)))
        load = taps * pixel * _mux_luts(d["BANKS"] + 1)  # window register <- a bank or the pad value
        emit = p["SIMD"] * p["BITS"] * _mux_luts(d["NW"])  # output lane <- one of NW registers
        banks = d["BANKS"] * (2 * addr + 4)  # per bank: address, inside test
        return Cost(lut=120 + load + emit + banks, ff=160 + taps * pixel + p["SIMD"] * p["BITS"],
                    memories=[Memory("line_buffer", d["BANK_DEPTH"], pixel, d["BANKS"])])
