"""``stream_utils.h``: width converters and the residual fork."""
from __future__ import annotations

from ..stage import Port, Stage


def width_convert_stage(layer, src: Port, out: Port, n_in_words: int) -> Stage:
    return Stage(layer, "width_convert", [src], [out], template=[str(src.lanes), str(out.lanes), str(src.bits)],
                 scalars=[str(n_in_words)],
                 params={"IN_LANES": src.lanes, "OUT_LANES": out.lanes, "BITS": src.bits, "N_IN": n_in_words})


def duplicate_stage(layer, src: Port, a: Port, b: Port, n_words: int) -> Stage:
    return Stage(layer, "duplicate", [src], [a, b], template=[src.ctype], scalars=[str(n_words)],
                 params={"N_WORDS": n_words, "WORD_BITS": src.word_bits})
