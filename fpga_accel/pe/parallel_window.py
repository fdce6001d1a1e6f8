"""``parallel_window.h``: the sliding window of a convolution whose SIMD spans whole pixels,
SIMD = KP·C with KP kernel positions per word (KP a divisor of KH·KW; KP = KH·KW is one window per
word), and PX adjacent output pixels per word (PX dividing IW and OW). It reads PX pixels (PX·C
lanes) per cycle and emits NW = KH·KW/KP words of PX·SIMD lanes per group of PX output pixels,
each PX-th of a word in the MVAU column order, so the MVAU (PX = 1) or MMV MVAU (PX > 1) behind it
reads the weight layout of :mod:`.mvau`.

Images follow each other without a gap: an output row reads what the next output row needs and up
to SH rows ahead while the ring of line-buffer rows has room, into the next image's first rows, so
in a batch only the first image waits for its prologue rows. Per image: the prologue rows not yet
read, then Σ_{oy<OH} max(OW/PX·NW, rows read during oy · IW/PX) (:func:`.sliding_window.image_cycles`,
the schedule of the header; LAST as in :mod:`.sliding_window`); ``cycles`` is the steady-state
image, about max(OH·OW/PX·NW, IH·IW/PX).
Memory: LB_ROWS·NB banks of ⌈(IW/PX)/NB⌉ words of PX pixels (PX·C·BITS bits), LB_ROWS = SPAN_H + SH,
NB = ⌈(GW−1)/PX⌉ + 1 the most words GW = (PX−1)·SW + SPAN_W columns touch (SPAN_W at PX = 1).
Registers: the window pixels the output reads (KH rows of the distinct columns (−PAD_L mod PX) +
x·SW + kx·DW; KH·KW at PX = 1) and the output word.
Logic (estimate): each window register picks one of LB_ROWS·NB banks or the pad value, each
output lane one of NW window registers. A LUT6 is a 4:1 multiplexer (AMD UG474, 7 Series CLB:
"each LUT can implement a 4:1 multiplexer"; the same CLB LUT6 in UltraScale, UG574), so an n:1
multiplexer of one bit is a tree of ⌈(n−1)/3⌉ LUTs; plus an address adder and compare per bank.
Input FIFO: (LAST(0)+1)·IW/PX words beyond the default depth (the prologue's rows; input_slack).
"""
from __future__ import annotations

import math

from .base import ProcessingElement, register
from .cost import Cost, Memory
from .sliding_window import WINDOW, _last, batch_cycles, dims, steady_cycles
from .stage import Port, Stage

#: the most output pixels per word the folder tries (the register window and its multiplexers grow
#: with PX)
MAX_PX = 8


def positions_options(channels: int, taps: int) -> list[int]:
    """The SIMD values a convolution's window can feed: divisors of C (channel groups, the line
    buffer of :mod:`.sliding_window`), then C·KP for every KP > 1 dividing KH·KW (this PE)."""
    return [d for d in range(1, channels + 1) if channels % d == 0] + \
        [channels * kp for kp in range(2, taps + 1) if taps % kp == 0]


def pixel_options(in_width: int, out_width: int) -> list[int]:
    """The PX values > 1 a window (or a 1x1 convolution's stream) can take: divisors of both widths,
    at most MAX_PX."""
    g = math.gcd(int(in_width), int(out_width))
    return [d for d in range(2, min(g, MAX_PX) + 1) if g % d == 0]


def window_stage(layer: str, src: Port, out_tensor: str, g: dict[str, int], pad_value: int, simd: int,
                 px: int = 1) -> Stage:
    """The window of ``g`` (sliding_window.geometry) reading ``src`` (PX·C lanes) and writing PX·SIMD lanes."""
    cfg = {k: g[k] for k in WINDOW}
    cfg.update({"SIMD": int(simd), "PX": int(px), "BITS": src.bits, "PAD_VALUE": int(pad_value)})
    out = Port(out_tensor, int(px) * int(simd), src.bits, src.signed)
    return Stage(layer, "parallel_window", dict(cfg), [src], [out], cfg,
                 header_params=dict(cfg, OH=g["OH"], OW=g["OW"]),
                 folding={"simd": int(simd), **({"px": int(px)} if px > 1 else {})})


def _mux_luts(n: int) -> int:
    return math.ceil((n - 1) / 3) if n > 1 else 0


def shape(p) -> dict[str, int]:
    """Derived sizes: PX, KP, NW, WPR, NB, BANKS, BANK_DEPTH, COLUMNS (the registered window columns)
    and sliding_window's dims."""
    d = dims(dict(p, SIMD=p["C"]))
    px = p.get("PX", 1)
    taps = p["KH"] * p["KW"]
    span_w = p["DW"] * (p["KW"] - 1) + 1
    gw = (px - 1) * p["SW"] + span_w
    nb = (gw + px - 2) // px + 1
    wpr = p["IW"] // px
    kp = p["SIMD"] // p["C"]
    off = -p["PAD_L"] % px
    columns = len({off + x * p["SW"] + kx * p["DW"] for x in range(px) for kx in range(p["KW"])})
    return dict(d, PX=px, KP=kp, NW=taps // kp, SPAN_W=span_w, WPR=wpr, NB=nb, BANKS=d["LB_ROWS"] * nb,
                BANK_DEPTH=math.ceil(wpr / nb), COLUMNS=columns)


@register
class ParallelWindow(ProcessingElement):
    kind = "parallel_window"
    headers = ("parallel_window.h",)

    def cycles(self, p) -> int:
        d = shape(p)
        return steady_cycles(p, d["WPR"], d["NW"], d["OW"] // d["PX"])

    def batch_cycles(self, p, n_images: int, interface: str) -> int:
        d = shape(p)
        return batch_cycles(p, n_images, d["WPR"], d["NW"], d["OW"] // d["PX"])

    def first_out(self, p) -> int:
        d = shape(p)
        return (_last(p, d, 0) + 1) * d["WPR"] + 1

    def input_slack(self, p, interval: int) -> int:
        # the first image's prologue rows arrive while nothing is emitted (later images read theirs
        # ahead, at most SH rows per output row)
        d = shape(p)
        return (_last(p, d, 0) + 1) * d["WPR"]

    def cost(self, p, board) -> Cost:
        d = shape(p)
        pixel = p["C"] * p["BITS"]
        regs = p["KH"] * d["COLUMNS"]
        out_bits = d["PX"] * p["SIMD"] * p["BITS"]
        addr = max(1, math.ceil(math.log2(d["BANK_DEPTH"] + 1)))
        load = regs * pixel * _mux_luts(d["BANKS"] + 1)  # window register <- a bank or the pad value
        emit = out_bits * _mux_luts(d["NW"])  # output lane <- one of NW registers
        banks = d["BANKS"] * (2 * addr + 4)  # per bank: address, inside test
        return Cost(lut=120 + load + emit + banks, ff=160 + regs * pixel + out_bits,
                    memories=[Memory("line_buffer", d["BANK_DEPTH"], d["PX"] * pixel, d["BANKS"])])
