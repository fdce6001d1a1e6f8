"""Resource arithmetic shared by the PE models: totals, memories, multipliers (all estimates).

A :class:`Cost` is what one stage needs: DSP slices, LUTs and FFs for its logic, and the
:class:`Memory` arrays it holds. Where each memory lands (LUTRAM, BRAM18 or URAM) is decided
later (:func:`memory_cost`, and the folder may move large ones to URAM), so the same stage can
be placed on boards with and without URAM.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

#: Memories of at most this many bits, or at most LUTRAM_DEPTH words deep, go to LUTRAM: a
#: quarter of a BRAM18 is where the tools stop spending a block on an array (an estimate).
LUTRAM_BITS = 4096
LUTRAM_DEPTH = 64
#: BRAM18 aspect ratios (depth, width) in simple dual-port mode, and the URAM288 shape.
BRAM18_SHAPES = ((16384, 1), (8192, 2), (4096, 4), (2048, 9), (1024, 18), (512, 36))
URAM_SHAPE = (4096, 72)


@dataclass(frozen=True)
class Memory:
    """``count`` arrays of ``depth`` words of ``width`` bits (e.g. one weight memory per PE)."""

    role: str  # "weights", "thresholds", "line_buffer", "buffer", "table"
    depth: int
    width: int
    count: int = 1

    @property
    def bits(self) -> int:
        return self.depth * self.width * self.count


@dataclass
class Usage:
    """Resource counts: the five budgets a board has."""

    dsp: int = 0
    bram18: int = 0
    uram: int = 0
    lut: int = 0
    ff: int = 0

    def __add__(self, o: Usage) -> Usage:
        return Usage(self.dsp + o.dsp, self.bram18 + o.bram18, self.uram + o.uram, self.lut + o.lut, self.ff + o.ff)

    def as_dict(self) -> dict[str, int]:
        return {"dsp": self.dsp, "bram18": self.bram18, "uram": self.uram, "lut": self.lut, "ff": self.ff}


@dataclass
class Cost:
    """Logic (DSP, LUT, FF) plus memories of one stage, before memory placement."""

    dsp: int = 0
    lut: int = 0
    ff: int = 0
    memories: list[Memory] = field(default_factory=list)


def bram18_count(depth: int, width: int) -> int:
    """BRAM18 blocks for one depth x width array: the best of the six aspect ratios."""
    return min(math.ceil(width / w) * math.ceil(depth / d) for d, w in BRAM18_SHAPES)


def uram_count(depth: int, width: int) -> int:
    d, w = URAM_SHAPE
    return math.ceil(width / w) * math.ceil(depth / d)


def lutram_luts(depth: int, width: int) -> int:
    """LUT6s as 64x1 distributed RAM (one LUT per bit column per 64 words)."""
    return width * math.ceil(depth / 64)


def small(mem: Memory) -> bool:
    return mem.depth <= LUTRAM_DEPTH or mem.depth * mem.width <= LUTRAM_BITS


def memory_cost(mem: Memory, where: str = "auto") -> Usage:
    """Resources of ``mem`` placed in ``where``: "auto" (LUTRAM when small, else BRAM18) or "uram"."""
    if where == "uram":
        return Usage(uram=uram_count(mem.depth, mem.width) * mem.count)
    if small(mem):
        return Usage(lut=lutram_luts(mem.depth, mem.width) * mem.count)
    return Usage(bram18=bram18_count(mem.depth, mem.width) * mem.count)


def dsp_packs(w_bits: int, a_bits: int, port_bits: int) -> bool:
    """Whether two products w1·a and w2·a sharing the operand a fit one DSP: the packed operand
    (w1 << k) + w2 with k = w + a + 2 guard bits must fit the wide port (25 or 27 bits)."""
    return 2 * w_bits + a_bits + 2 <= port_bits and a_bits <= 18


def lut_multiplier(w_bits: int, a_bits: int) -> bool:
    """Products of at most 4 x 4 bits are built from LUTs, not DSPs."""
    return max(w_bits, a_bits) <= 4


def mult_luts(w_bits: int, a_bits: int) -> int:
    """LUTs of one LUT-built multiplier (about one LUT per partial-product bit)."""
    return w_bits * a_bits


def dsps_per_product(x_bits: int, y_bits: int, port_bits: int) -> int:
    """DSP slices of one x·y product: one when it fits port_bits x 18, more when wider."""
    wide, narrow = max(x_bits, y_bits), min(x_bits, y_bits)
    return math.ceil(wide / port_bits) * math.ceil(narrow / 18)


def requant_cost(lanes: int, acc_bits: int, out_bits: int, port_bits: int, mult_bits: int = 17) -> Cost:
    """acc · M + round, shift, clamp per lane: one DSP product and about two adders' worth of LUTs."""
    return Cost(dsp=lanes * dsps_per_product(acc_bits, mult_bits + 1, port_bits),
                lut=lanes * (acc_bits + 2 * out_bits + 8), ff=lanes * (acc_bits + out_bits))
