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


#: width of a DSP's narrow multiplier input (B port, DSP48E1 and DSP48E2 alike)
DSP_NARROW_BITS = 18


def pack_shift(w_bits: int, a_bits: int) -> int:
    """K of a packed multiply (mvau.h): the exact width of one W·A product, signed or unsigned A."""
    return w_bits + a_bits


def packed_operand_bits(w_bits: int, a_bits: int) -> int:
    """Bits of (w_hi << K) + w_lo: W + K, plus one because w_lo may carry the sum below -2^(W+K-1)
    (both weights at -2^(W-1)); tb_mvau fails with one bit less."""
    return w_bits + pack_shift(w_bits, a_bits) + 1


def dsp_packs(w_bits: int, a_bits: int, port_bits: int, a_signed: bool = True) -> bool:
    """Whether two products w1·a and w2·a sharing a fit one DSP exactly (AMD WP486/WP487, each
    product recovered after its multiply): the packed operand, 2·W + A + 1 bits, fits the wide
    port (25 bits on DSP48E1, 27 on DSP48E2) and a, as a signed number, the 18-bit one."""
    return packed_operand_bits(w_bits, a_bits) <= port_bits and a_bits + (not a_signed) <= DSP_NARROW_BITS


def lut_multiplier(w_bits: int, a_bits: int) -> bool:
    """Products of at most 4 x 4 bits are built from LUTs, not DSPs."""
    return max(w_bits, a_bits) <= 4


def mult_luts(w_bits: int, a_bits: int) -> int:
    """LUT6s of one W x A multiplier in the fabric, an estimate: about one LUT per partial-product
    bit, W·A (64 for 8 x 8). An array multiplier on LUT6s and the carry chain forms the W·A
    partial-product bits and adds them in rows, a LUT per bit and row (E. G. Walters, "Array
    Multipliers for High Throughput in Xilinx FPGAs with 6-Input LUTs", Computers 5(4):20, 2016,
    whose radix-4 design uses 42-52 % fewer LUTs than AMD's LogiCORE multipliers, i.e. the tools'
    own are nearer this figure). Not calibrated by synthesis here."""
    return w_bits * a_bits


def dsps_per_product(x_bits: int, y_bits: int, port_bits: int) -> int:
    """DSP slices of one x·y product: one when it fits port_bits x 18, more when wider."""
    wide, narrow = max(x_bits, y_bits), min(x_bits, y_bits)
    return math.ceil(wide / port_bits) * math.ceil(narrow / 18)


def requant_cost(lanes: int, acc_bits: int, out_bits: int, port_bits: int, mult_bits: int = 17) -> Cost:
    """acc · M + round, shift, clamp per lane: one DSP product and about two adders' worth of LUTs."""
    return Cost(dsp=lanes * dsps_per_product(acc_bits, mult_bits + 1, port_bits),
                lut=lanes * (acc_bits + 2 * out_bits + 8), ff=lanes * (acc_bits + out_bits))
