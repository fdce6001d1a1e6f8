"""Resource arithmetic of the PE models: what one stage needs, and its multipliers (estimates).

A :class:`Cost` is DSP slices, LUTs and FFs for a stage's logic, and the :class:`Memory` arrays it
holds. Where each memory lands (LUTRAM, BRAM18 or URAM) is the folder's decision
(``fold/resources.py``), so the same stage can be placed on boards with and without URAM.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field


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
class Cost:
    """Logic (DSP, LUT, FF) plus memories of one stage, before memory placement."""

    dsp: int = 0
    lut: int = 0
    ff: int = 0
    memories: list[Memory] = field(default_factory=list)


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
