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
    """``count`` arrays of ``depth`` words of ``width`` bits (e.g. one weight memory per PE, or the
    bank arrays of packed weights, pe/weight_memory.py); ``held``: the bits they hold when less than
    their shape (a packed array's unused slots), 0 when they are full."""

    role: str  # "weights", "thresholds", "line_buffer", "buffer", "table"
    depth: int
    width: int
    count: int = 1
    held: int = 0

    @property
    def bits(self) -> int:
        return self.held or self.depth * self.width * self.count


@dataclass
class Cost:
    """Logic (DSP, LUT, FF) plus memories of one stage, before memory placement."""

    dsp: int = 0
    lut: int = 0
    ff: int = 0
    memories: list[Memory] = field(default_factory=list)


#: Memories of at most this many bits, or at most LUTRAM_DEPTH words deep, go to LUTRAM: a
#: quarter of a BRAM18 is where the tools stop spending a block on an array (an estimate).
LUTRAM_BITS = 4096
LUTRAM_DEPTH = 64
#: BRAM18 aspect ratios (depth, width) in simple dual-port mode, and the URAM288 shape.
BRAM18_SHAPES = ((16384, 1), (8192, 2), (4096, 4), (2048, 9), (1024, 18), (512, 36))
URAM_SHAPE = (4096, 72)
#: bits one block holds: a BRAM18 (18 Kbit, parity bits included: all of them in the x9/x18/x36
#: shapes), a URAM288, a LUT6 as 64 x 1 distributed RAM (AMD UG573 and UG474)
BRAM18_BITS = 18432
URAM_BITS = URAM_SHAPE[0] * URAM_SHAPE[1]
LUTRAM_BITS_PER_LUT = 64


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


def requantisers(lanes: int, period: int) -> int:
    """RQ of requant.h's requant_bank: ``lanes`` outputs completing together once every ``period``
    cycles need ceil(lanes / period) requantisers (``lanes`` when that shares none)."""
    return math.ceil(lanes / max(1, period))


def requant_steps(lanes: int, rq: int) -> int:
    """Loop iterations a shared bank adds to a call (its STEPS), and delays each word by; 0 unshared."""
    return math.ceil(lanes / rq) if rq < lanes else 0


def requant_cost(lanes: int, acc_bits: int, out_bits: int, port_bits: int, mult_bits: int = 17,
                 rq: int | None = None) -> Cost:
    """acc · M + round, shift, clamp per requantiser: one DSP product and about two adders' worth of
    LUTs. ``rq`` < ``lanes`` time-shares them (requant.h: requant_bank): its hold registers are
    STEPS·RQ slots of the accumulator, M, shift and output bits (FFs), each slot's hold bits behind a
    load-or-shift 2:1 multiplexer, two to a LUT6 (its two LUT5 outputs share the select, AMD UG474 /
    UG574; the top RQ slots, which nothing shifts into, only load: no multiplexer), plus the step
    counter."""
    rq = lanes if rq is None else rq
    c = Cost(dsp=rq * dsps_per_product(acc_bits, mult_bits + 1, port_bits),
             lut=rq * (acc_bits + 2 * out_bits + 8), ff=rq * (acc_bits + out_bits))
    if rq < lanes:
        slots, held = requant_steps(lanes, rq) * rq, acc_bits + mult_bits + 6
        c.lut += math.ceil((slots - rq) * held / 2) + 10
        c.ff += slots * (held + out_bits) + 8
    return c
