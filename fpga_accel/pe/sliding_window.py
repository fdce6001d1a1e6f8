"""``sliding_window.h``: the line buffer producing K x K windows in front of a convolution (MVAU
order) or a depthwise convolution or window pool (depthwise order).

cycles/image = (LAST(0)+1)·IW·CF + Σ_{oy<OH} max(OW·KH·KW·CF, READ(oy)·IW·CF), with
LAST(oy) = min(IH−1, oy·SH − PAD_T + SPAN_H − 1), READ(oy) = LAST(oy+1) − LAST(oy) and, for the
last output row, IH−1 − LAST(OH−1); CF = C/SIMD, SPAN_H = DH·(KH−1)+1.
Memory: one LB_ROWS·IW·CF-word buffer of SIMD·BITS bits, LB_ROWS = SPAN_H + SH.
Input FIFO: (LAST(0)+1)·IW·CF words beyond the default depth (the prologue's rows; input_slack).
"""
from __future__ import annotations

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


@register
class SlidingWindow(ProcessingElement):
    kind = "sliding_window"
    headers = ("sliding_window.h",)

    def cycles(self, p) -> int:
        d = dims(p)
        row = p["IW"] * d["CF"]
        emit = d["OW"] * p["KH"] * p["KW"] * d["CF"]
        total = (_last(p, d, 0) + 1) * row
        for oy in range(d["OH"]):
            nxt = _last(p, d, oy + 1) if oy + 1 < d["OH"] else p["IH"] - 1
            total += max(emit, (nxt - _last(p, d, oy)) * row)
        return total

    def first_out(self, p) -> int:
        d = dims(p)
        return (_last(p, d, 0) + 1) * p["IW"] * d["CF"] + 1

    def input_slack(self, p, interval: int) -> int:
        # The prologue reads LAST(0)+1 rows without emitting, and the last output rows read fewer
        # rows than they take: as many rows as the prologue, which a producer running evenly at the
        # network's pace delivers meanwhile. Reads within a row are spread evenly (sliding_window.h).
        d = dims(p)
        return (_last(p, d, 0) + 1) * p["IW"] * d["CF"]

    def cost(self, p, board) -> Cost:
        d = dims(p)
        width = p["SIMD"] * p["BITS"]
        # read/write address counters, the pad multiplexer on the output word, the output register
        return Cost(lut=120 + 2 * width, ff=160 + 2 * width,
                    memories=[Memory("line_buffer", d["LB_ROWS"] * p["IW"] * d["CF"], width)])
