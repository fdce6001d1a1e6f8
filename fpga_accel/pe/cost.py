"""Resource arithmetic of the PE models: what one stage needs, and its multipliers (estimates).

A :class:`Cost` is DSP slices, LUTs and FFs for a stage's logic, and the :class:`Memory` arrays it
holds. Where each memory lands (LUTRAM, BRAM18 or URAM) is the folder's decision
(``fold/resources.py``), so the same stage can be placed on boards with and without URAM.
"""
from __future__ import annotations

import functools
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


#: width of a DSP slice's post-adder and P register (DSP48E1 and DSP48E2 alike, AMD UG479 / UG579)
DSP_P_BITS = 48


def product_range(w_bits: int, a_bits: int, a_signed: bool) -> tuple[int, int]:
    """(least, greatest) w·a over signed W-bit weights and A-bit activations, signed or not."""
    ws = (-(1 << (w_bits - 1)), (1 << (w_bits - 1)) - 1)
    xs = (-(1 << (a_bits - 1)), (1 << (a_bits - 1)) - 1) if a_signed else (0, (1 << a_bits) - 1)
    prods = [w * x for w in ws for x in xs]
    return min(prods), max(prods)


def packed_sum_fits(n: int, k: int, w_bits: int, a_bits: int, a_signed: bool) -> bool:
    """Whether any n products w·a sum within K bits signed (mvau.h packed_sum_fits): then the low PE's
    sum over a group is the packed sum's low K bits, sign-extended, exactly."""
    lo, hi = product_range(w_bits, a_bits, a_signed)
    return n * hi <= (1 << (k - 1)) - 1 and n * lo >= -(1 << (k - 1))


@functools.cache
def pack_group(w_bits: int, a_bits: int, a_signed: bool, port_bits: int, simd: int) -> tuple[int, int]:
    """(G, K) of mvau.h's PACK_GROUP and PACK_SHIFT: the most lanes G ≤ SIMD whose packed products
    (w_hi << K) + w_lo times x can be summed while packed, and the least shift K ≥ W + A that keeps
    their low sum apart from the high one (:func:`packed_sum_fits`). Bounded by the wide port (the
    packed operand, W + K + 1 bits) and the post-adder (its sum, W + K + 1 + A + 1 + bits(G), within
    48): on a 27-bit port (DSP48E2) K ≤ 18, so G = 4 for int8 × uint8 (4 · 32,640 < 2^17) and
    7 for int8 × int8 (7 · 16,384 < 2^17), the bound AMD WP486 states for its 18-bit field; on a
    25-bit port (DSP48E1) K = 16 and G = 1. The sums are a chain of post-adders, one per packed
    multiply's DSP (P = A·B + PCIN), so a group costs no adder in LUTs."""
    best = (1, pack_shift(w_bits, a_bits))
    for g in range(2, simd + 1):
        k = pack_shift(w_bits, a_bits)
        while not packed_sum_fits(g, k, w_bits, a_bits, a_signed):
            k += 1
        if packed_operand_bits(w_bits, a_bits) - pack_shift(w_bits, a_bits) + k > port_bits or \
                w_bits + k + 1 + a_bits + 1 + g.bit_length() > DSP_P_BITS:
            break
        best = (g, k)
    return best


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
