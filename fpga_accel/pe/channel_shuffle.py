"""``channel_shuffle.h``: ShuffleNet's channel shuffle in G groups as a stream permutation (output
channel o = input channel (o mod G)·C/G + o div G).

channel_shuffle : cycles/call = (N_PIXELS·images + 1)·C/LANES: one word in and one out per cycle, the
                  output one pixel behind (setup = one pixel). A two-pixel register buffer (2·C·BITS
                  flip-flops) and, per lane, a C-input multiplexer of BITS bits (estimate: C/4 LUT6 per
                  bit, a LUT6 being a 4:1 mux).
"""
from __future__ import annotations

from .base import ProcessingElement, register
from .cost import Cost
from .stage import Port, Stage


def channel_shuffle_stage(layer, src: Port, out: Port, n_pixels: int, c: int, groups: int) -> Stage:
    cfg = {"N_PIXELS": n_pixels, "C": c, "G": groups, "LANES": src.lanes, "BITS": src.bits}
    return Stage(layer, "channel_shuffle", dict(cfg), [src], [out], cfg, folding={"pe": src.lanes})


@register
class ChannelShuffle(ProcessingElement):
    kind = "channel_shuffle"
    headers = ("channel_shuffle.h",)

    def cycles(self, p) -> int:
        return p["N_PIXELS"] * (p["C"] // p["LANES"])

    def setup(self, p) -> int:
        return p["C"] // p["LANES"]  # the last pixel drains after the last input word

    def first_out(self, p) -> int:
        return p["C"] // p["LANES"] + 1

    def cost(self, p, board) -> Cost:
        lanes, c, bits = p["LANES"], p["C"], p["BITS"]
        return Cost(lut=40 + lanes * bits * -(-c // 4), ff=60 + 2 * c * bits + lanes * bits)
