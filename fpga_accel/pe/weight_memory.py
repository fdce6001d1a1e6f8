"""``weight_memory.h``: how a PE's weight memories are packed into blocks, one decision for the HLS
and the cost model.

A PE reads one word of ``width`` bits from each of its ``mems`` memories per cycle, all at the same
address, which runs through the ``depth`` words in order (mvau: a memory per PE of NF·SF words of
SIMD·W_BITS bits; depthwise: one memory of CF·K words of PE·W_BITS bits). Stored one array per
memory, a narrow or shallow memory wastes most of its block. :func:`choose` picks

- ``pes`` (P, config member ``WM_PES``): memories side by side in one word (the last bank holds
  what is left when P does not divide ``mems``);
- ``slots`` (R, ``WM_SLOTS``): consecutive words of one memory in one word, a power of two;

so the PE holds ⌈mems / P⌉ bank arrays of ⌈depth / R⌉ words of R·P·width bits (the header's
layout: slot r·P + j of word a of bank b is memory b·P + j at address a·R + r). The read stays one
word per cycle (II = 1, cycles unchanged); the slot costs a mux of R per output bit. The generated
top binds each bank array to LUTRAM or BRAM18 (``BIND_STORAGE``), as :func:`impl` says, and the cost
model prices exactly that shape (:meth:`Layout.memory`).
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from .cost import LUTRAM_BITS, LUTRAM_DEPTH, Memory, bram18_count, lutram_luts, small, uram_count

#: widest packed word the chooser builds (wider words make slow C simulation and long muxes)
MAX_WORD_BITS = 2048
#: most words of one memory per packed word (36 two-bit words fill a 72-bit URAM row; a mux of 64 is 21
#: LUT6 per output bit, which the chooser weighs)
MAX_SLOTS = 64
#: LUTs the chooser trades for one BRAM18 block (a heuristic: a ZCU104 has about 370 LUTs per BRAM18,
#: a U250 about 320 (board files); the mux must not cost more logic than the block it saves)
LUTS_PER_BRAM18 = 256


def mux_luts(n: int) -> int:
    """LUT6s of one bit of an n:1 multiplexer: a LUT6 is a 4:1 mux, and every 3 more inputs take one more
    LUT (AMD UG474 / UG574)."""
    return math.ceil((n - 1) / 3) if n > 1 else 0


@dataclass(frozen=True)
class Layout:
    """``mems`` memories of ``depth`` words of ``width`` bits, packed P side by side and R per word."""

    mems: int
    depth: int
    width: int
    pes: int = 1
    slots: int = 1

    @property
    def banks(self) -> int:
        return -(-self.mems // self.pes)

    @property
    def packed_depth(self) -> int:
        return -(-self.depth // self.slots)

    @property
    def word_bits(self) -> int:
        return self.slots * self.pes * self.width

    @property
    def bits(self) -> int:
        """What the memories hold (the packed arrays also hold the empty slots of a last word)."""
        return self.mems * self.depth * self.width

    def memory(self, role: str = "weights") -> Memory:
        """The bank arrays as the cost model places them."""
        return Memory(role, self.packed_depth, self.word_bits, self.banks, held=self.bits)

    @property
    def luts(self) -> int:
        """The slot mux: every bit a PE reads chooses one of R slots."""
        return self.mems * self.width * mux_luts(self.slots)

    def config(self) -> dict[str, int]:
        return {"WM_PES": self.pes, "WM_SLOTS": self.slots}


def impl(layout: Layout) -> str:
    """What the generated top binds each bank array to: LUTRAM when small (fold/resources.py), else
    BRAM18; the fold's placement may bind a small one to BRAM18 instead when LUTs are over budget
    (fold/design.py, ``estimate.bram_arrays``), and prices it there. A URAM cannot be initialised by the bitstream (AMD UG573: its contents are zero after
    configuration), so a constant weight ROM is never bound to URAM here."""
    return "lutram" if small(layout.memory()) else "bram"


def _blocks(layout: Layout) -> float:
    """The layout's price in blocks: its BRAM18 plus its URAM (the folder may place it in either),
    LUTRAM and the slot mux at LUTS_PER_BRAM18 LUTs a block."""
    m = layout.memory()
    mux = layout.luts / LUTS_PER_BRAM18
    if small(m):
        return lutram_luts(m.depth, m.width) * m.count / LUTS_PER_BRAM18 + mux
    return (bram18_count(m.depth, m.width) + uram_count(m.depth, m.width)) * m.count + mux


@functools.lru_cache(maxsize=65536)
def choose(mems: int, depth: int, width: int) -> Layout:
    """The packing with the lowest :func:`_blocks` price, then the plainest (fewest slots, fewest
    memories side by side). The same layout serves BRAM18 and URAM placement: a deep narrow array
    already fills BRAM18 (16K x 1 .. 2K x 9) but wastes a 72-bit URAM row, so slots that save URAM
    rarely cost a BRAM18. Deterministic: the same memories always get the same layout."""
    best, key = Layout(mems, depth, width), None
    for p in range(1, max(1, min(mems, MAX_WORD_BITS // width)) + 1):
        r = 1
        while r <= MAX_SLOTS and (r == 1 or r // 2 < depth):
            lay = Layout(mems, depth, width, p, r)
            # packing never makes an array shallow just to land in LUTRAM (fold/resources.py: small)
            plain = p == 1 and r == 1
            if plain or (lay.word_bits <= MAX_WORD_BITS and (lay.packed_depth > LUTRAM_DEPTH or lay.bits <= LUTRAM_BITS)):
                k = (round(_blocks(lay), 6), r, p)
                if key is None or k < key:
                    best, key = lay, k
            r *= 2
    return best


def pack(words: np.ndarray, layout: Layout) -> np.ndarray:
    """Lanes (mems, depth, lanes) of each memory's words -> lanes (banks, packed depth, R·P·lanes) of the
    packed words, in weight_memory.h's order; the slots past ``depth`` are zero."""
    w = np.asarray(words, np.int64)
    mems, depth, lanes = w.shape
    p, r, d, banks = layout.pes, layout.slots, layout.packed_depth, layout.banks
    padded = np.zeros((banks * p, d * r, lanes), np.int64)
    padded[:mems, :depth] = w
    return padded.reshape(banks, p, d, r, lanes).transpose(0, 2, 3, 1, 4).reshape(banks, d, r * p * lanes)


def unpack(packed: np.ndarray, layout: Layout) -> np.ndarray:
    """The inverse of :func:`pack`: (mems, depth, lanes)."""
    v = np.asarray(packed, np.int64)
    banks, d, n = v.shape
    p, r = layout.pes, layout.slots
    lanes = n // (r * p)
    out = v.reshape(banks, d, r, p, lanes).transpose(0, 3, 1, 2, 4).reshape(banks * p, d * r, lanes)
    return out[:layout.mems, :layout.depth]
