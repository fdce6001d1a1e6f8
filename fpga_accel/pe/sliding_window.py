"""``sliding_window.h``: the line buffer producing K x K windows in front of a convolution (MVAU
order) or a depthwise convolution or window pool (depthwise order).

Rows and windows follow the header's schedule (:func:`image_cycles`): per image, the prologue rows
not read ahead, then per output row max(OW·KH·KW·CF, rows read · IW·CF); an output row reads what
the next one needs (up to LAST(oy+1) = min(IH−1, (oy+1)·SH − PAD_T + SPAN_H − 1)) and up to SH rows
ahead while the line buffer has room, into the next image's first LAST(0)+1 rows, so in a batch
only the first image waits for its prologue. ``cycles`` is the steady-state image, ≈ OH·OW·KH·KW·CF;
CF = C/SIMD, SPAN_H = DH·(KH−1)+1.
Memory: one LB_ROWS·IW·CF-word buffer of SIMD·BITS bits, LB_ROWS = SPAN_H + SH.
Input FIFO: (LAST(0)+1)·IW·CF words beyond the default depth (the first image's prologue rows;
input_slack).
"""
from __future__ import annotations

import math

from .base import ProcessingElement, register
from .cost import Cost, Memory
from .stage import LoweringError, Port, Stage

#: the window's geometry members, shared by the config structs of sliding_window.h and pool.h
WINDOW = ("IH", "IW", "C", "KH", "KW", "SH", "SW", "DH", "DW", "PAD_T", "PAD_L", "PAD_B", "PAD_R")


def geometry(config: dict, in_shape) -> dict[str, int]:
    """Window parameters IH..PAD_R from an integer layer's kernel/strides/dilations/pads config.
    1D layers (N, W, C) become one row."""
    k, s, d, p = config["kernel"], config["strides"], config["dilations"], config["pads"]
    if len(k) == 1:
        k, s, d, p = [1, k[0]], [1, s[0]], [1, d[0]], [0, p[0], 0, p[1]]
        ih, iw = 1, int(in_shape[1])
    elif len(k) == 2:
        ih, iw = int(in_shape[1]), int(in_shape[2])
    else:
        raise LoweringError(f"{len(k)}-D windows have no processing element (1D and 2D only)")
    g = {"IH": ih, "IW": iw, "C": int(in_shape[-1]), "KH": int(k[0]), "KW": int(k[1]), "SH": int(s[0]),
         "SW": int(s[1]), "DH": int(d[0]), "DW": int(d[1]), "PAD_T": int(p[0]), "PAD_L": int(p[1]),
         "PAD_B": int(p[2]), "PAD_R": int(p[3])}
    span_h, span_w = g["DH"] * (g["KH"] - 1) + 1, g["DW"] * (g["KW"] - 1) + 1
    if max(g["PAD_T"], g["PAD_B"]) >= span_h or max(g["PAD_L"], g["PAD_R"]) >= span_w:
        raise LoweringError(f"padding {list(p)} is not smaller than the kernel span ({span_h}x{span_w}); the "
                            f"line buffer cannot produce windows made only of padding")
    g["OH"] = (ih + g["PAD_T"] + g["PAD_B"] - span_h) // g["SH"] + 1
    g["OW"] = (iw + g["PAD_L"] + g["PAD_R"] - span_w) // g["SW"] + 1
    return g


def is_identity(g: dict[str, int]) -> bool:
    """A 1x1, stride-1, unpadded window is the input stream itself."""
    return (g["KH"], g["KW"], g["SH"], g["SW"], g["PAD_T"], g["PAD_L"], g["PAD_B"], g["PAD_R"]) == (1, 1, 1, 1, 0, 0, 0, 0)


def window_stage(layer: str, src: Port, out_tensor: str, g: dict[str, int], pad_value: int,
                 depthwise: bool) -> Stage:
    """The window stage; its model reads the config struct as it is (the window pools after it too)."""
    lanes = src.lanes
    cfg = {k: g[k] for k in WINDOW}
    cfg.update({"SIMD": lanes, "BITS": src.bits, "PAD_VALUE": int(pad_value), "DEPTHWISE": bool(depthwise)})
    described = dict(cfg, OH=g["OH"], OW=g["OW"], DEPTHWISE=int(depthwise))
    out = Port(out_tensor, lanes, src.bits, src.signed)
    return Stage(layer, "sliding_window", dict(cfg), [src], [out], cfg, header_params=described,
                 folding={"simd": lanes})


def pool_config(g: dict[str, int], lanes: int, bits: int) -> dict[str, int]:
    """The window members pool.h's window pools share with sliding_window's config."""
    cfg = {k: g[k] for k in WINDOW}
    cfg.update({"SIMD": lanes, "BITS": bits})
    return cfg


def dims(p) -> dict:
    span_h = p["DH"] * (p["KH"] - 1) + 1
    span_w = p["DW"] * (p["KW"] - 1) + 1
    oh = (p["IH"] + p["PAD_T"] + p["PAD_B"] - span_h) // p["SH"] + 1
    ow = (p["IW"] + p["PAD_L"] + p["PAD_R"] - span_w) // p["SW"] + 1
    return {"SPAN_H": span_h, "OH": oh, "OW": ow, "CF": p["C"] // p["SIMD"], "LB_ROWS": span_h + p["SH"]}


def _last(p, d, oy: int) -> int:
    return min(p["IH"] - 1, oy * p["SH"] - p["PAD_T"] + d["SPAN_H"] - 1)


def image_cycles(p, ahead: int, more: bool, row_words: int, window_words: int,
                 groups: int | None = None) -> tuple[int, int]:
    """(iterations of one image whose first ``ahead`` rows were read during the previous one, rows of
    the next image this one reads ahead); ``more``: another image follows. A row is ``row_words``
    input words, an output row ``groups`` (default OW) windows of ``window_words`` output words
    (window_read_target in the header)."""
    d = dims(p)
    first = _last(p, d, 0) + 1
    cycles, read = max(0, first - ahead) * row_words, max(ahead, first)
    for oy in range(d["OH"]):
        need = _last(p, d, oy + 1) if oy + 1 < d["OH"] else p["IH"] - 1
        cap = max(0, oy * p["SH"] - p["PAD_T"]) + d["LB_ROWS"] - 1
        limit = p["IH"] + first - 1 if more else p["IH"] - 1
        target = max(need, min(read - 1 + p["SH"], cap, limit))
        cycles += max((d["OW"] if groups is None else groups) * window_words, (target + 1 - read) * row_words)
        read = target + 1
    return cycles, read - p["IH"]


def steady_cycles(p, row_words: int, window_words: int, groups: int | None = None) -> int:
    """Iterations of an image in the middle of a long batch: the schedule repeats once the rows read
    ahead repeat (they are at most the prologue's rows); the mean over a longer period, rounded up."""
    ahead, seen = 0, {}
    while ahead not in seen:
        seen[ahead] = image_cycles(p, ahead, True, row_words, window_words, groups)
        ahead = seen[ahead][1]
    period, a = [], ahead
    while not period or a != ahead:
        period.append(seen[a][0])
        a = seen[a][1]
    return math.ceil(sum(period) / len(period))


def batch_cycles(p, n_images: int, row_words: int, window_words: int, groups: int | None = None) -> int:
    """Iterations of one call on ``n_images`` images: the first with its whole prologue, the last
    reading nothing ahead."""
    total, ahead = 0, 0
    for k in range(n_images):
        c, nxt = image_cycles(p, ahead, k + 1 < n_images, row_words, window_words, groups)
        total += c
        if k + 1 < n_images and nxt == ahead:  # a fixed point: every later middle image is the same
            return total + (n_images - 2 - k) * c + image_cycles(p, ahead, False, row_words, window_words, groups)[0]
        ahead = nxt
    return total


@register
class SlidingWindow(ProcessingElement):
    kind = "sliding_window"
    headers = ("sliding_window.h",)

    def cycles(self, p) -> int:
        d = dims(p)
        return steady_cycles(p, p["IW"] * d["CF"], p["KH"] * p["KW"] * d["CF"])

    def batch_cycles(self, p, n_images: int, interface: str) -> int:
        d = dims(p)
        return batch_cycles(p, n_images, p["IW"] * d["CF"], p["KH"] * p["KW"] * d["CF"])

    def first_out(self, p) -> int:
        d = dims(p)
        return (_last(p, d, 0) + 1) * p["IW"] * d["CF"] + 1

    def input_slack(self, p, interval: int) -> int:
        # The first image's prologue reads LAST(0)+1 rows without emitting, which a producer running
        # evenly at the network's pace delivers meanwhile; later images read theirs ahead, at most SH
        # rows per output row. Reads within a row are spread evenly (sliding_window.h).
        d = dims(p)
        return (_last(p, d, 0) + 1) * p["IW"] * d["CF"]

    def cost(self, p, board) -> Cost:
        d = dims(p)
        width = p["SIMD"] * p["BITS"]
        # read/write address counters, the pad multiplexer on the output word, the output register
        return Cost(lut=120 + 2 * width, ff=160 + 2 * width,
                    memories=[Memory("line_buffer", d["LB_ROWS"] * p["IW"] * d["CF"], width)])
