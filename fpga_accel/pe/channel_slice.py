"""``channel_slice.h``: a contiguous channel range [START, START + LEN) out of an NHWC stream.

channel_slice : cycles/image = N_PIXELS·C/LANES (every input word is read; those outside the range
                are dropped). Logic: a word counter and a write enable, no memory.
"""
from __future__ import annotations

import math

from .base import ProcessingElement, register
from .cost import Cost
from .stage import Port, Stage


def slice_lanes(pe: int, c: int, start: int, length: int) -> int:
    """Lanes of the slice: the folding's PE where it divides the channels and both ends of the range,
    else the largest count that does (the PE moves whole words; width converters adapt the rest)."""
    return math.gcd(pe, c, start, length)


def channel_slice_stage(layer, src: Port, out: Port, n_pixels: int, c: int, start: int, length: int) -> Stage:
    cfg = {"N_PIXELS": n_pixels, "C": c, "START": start, "LEN": length, "LANES": src.lanes, "BITS": src.bits}
    return Stage(layer, "channel_slice", dict(cfg), [src], [out], cfg, folding={"pe": src.lanes})


@register
class ChannelSlice(ProcessingElement):
    kind = "channel_slice"
    headers = ("channel_slice.h",)

    def cycles(self, p) -> int:
        return p["N_PIXELS"] * (p["C"] // p["LANES"])

    def cost(self, p, board) -> Cost:
        bits = p["LANES"] * p["BITS"]
        return Cost(lut=30 + bits // 4, ff=40 + bits)
