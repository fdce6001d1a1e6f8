"""``stream_utils.h``: width converters and the residual fork.

width_convert : cycles/image = max(N_IN, N_OUT); buffers IN_LANES + OUT_LANES − 1 elements.
duplicate     : cycles/image = N (one fork of a tensor with several readers).
"""
from __future__ import annotations

from .base import ProcessingElement, register
from .cost import Cost
from .stage import Port, Stage


def width_convert_stage(layer, src: Port, out: Port, n_in_words: int) -> Stage:
    params = {"IN_LANES": src.lanes, "OUT_LANES": out.lanes, "BITS": src.bits, "N_IN": n_in_words}
    return Stage(layer, "width_convert", params, [src], [out], template=[str(src.lanes), str(out.lanes), str(src.bits)],
                 scalars=[str(n_in_words)])


def duplicate_stage(layer, src: Port, a: Port, b: Port, n_words: int) -> Stage:
    return Stage(layer, "duplicate", {"N_WORDS": n_words, "WORD_BITS": src.word_bits}, [src], [a, b],
                 template=[src.ctype], scalars=[str(n_words)])


def copy_cost(p, board) -> Cost:
    """A stage that moves words without arithmetic: counters and a register of LANES x BITS."""
    bits = p.get("LANES", 1) * p.get("BITS", 8)
    return Cost(lut=30 + bits, ff=40 + 2 * bits)


def _n_out(p) -> int:
    return p["N_OUT"] if "N_OUT" in p else p["N_IN"] * p["IN_LANES"] // p["OUT_LANES"]


@register
class WidthConvert(ProcessingElement):
    kind = "width_convert"
    headers = ("stream_utils.h",)

    def cycles(self, p) -> int:
        return max(p["N_IN"], _n_out(p))

    def cost(self, p, board) -> Cost:
        bits = (p["IN_LANES"] + p["OUT_LANES"]) * p["BITS"]
        return Cost(lut=40 + bits, ff=60 + bits)


@register
class Duplicate(ProcessingElement):
    kind = "duplicate"
    headers = ("stream_utils.h",)

    def cycles(self, p) -> int:
        return p["N"] if "N" in p else p["N_WORDS"]

    def cost(self, p, board) -> Cost:
        return copy_cost(p, board)
