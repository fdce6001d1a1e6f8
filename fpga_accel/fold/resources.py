"""Where the memories of the PE models land, and resource totals (all estimates).

Each stage's :class:`~fpga_accel.pe.cost.Cost` lists the :class:`Memory` arrays it holds; where
each lands (LUTRAM, BRAM18 or URAM) is priced here (:func:`memory_cost`); ``fold/design.py`` places
them (small ones in LUTRAM, others in BRAM18; while BRAM18 is over budget large ones to URAM; while LUTs
are over budget the bindable ones and the LUTRAM stream FIFOs to BRAM18, then bindable ones to URAM), so
the same stage can be placed on boards with and without URAM. :func:`maxi_cost` prices the adapter
Vitis HLS builds behind each m_axi port.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

from ..pe.cost import (  # noqa: F401  (the block geometry lives beside the PE models; re-exported here)
    BRAM18_BITS,
    BRAM18_SHAPES,
    LUTRAM_BITS,
    LUTRAM_BITS_PER_LUT,
    LUTRAM_DEPTH,
    URAM_BITS,
    URAM_SHAPE,
    Memory,
    bram18_count,
    lutram_luts,
    small,
    uram_count,
)

#: Vitis HLS binds a FIFO (impl auto) to shift registers when it is at most auto_srl_max_depth words
#: deep or holds at most auto_srl_max_bits bits, else to a RAM (UG1399, config_storage / syn.storage:
#: defaults 2 and 1024). An SRLC32E holds 32 words of one bit per LUT (UG474, 7 series CLB).
SRL_MAX_DEPTH = 2
SRL_MAX_BITS = 1024
SRL_WORDS = 32

#: roles of the memories the generated top binds itself (codegen/top.py: storage_pragmas): the packed
#: weight banks (pe/weight_memory.py). A PE's other arrays (constant tables, buffers, line buffers)
#: are left to the tool, so the model may not move them out of LUTRAM.
BINDABLE = ("weights",)


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


@functools.lru_cache(maxsize=1 << 16)  # pure, and asked for again at every design the folder evaluates
def memory_cost(mem: Memory, where: str = "auto") -> Usage:
    """Resources of ``mem`` placed in ``where``: "auto" (LUTRAM when small, else BRAM18), "bram" (BRAM18
    whatever its size) or "uram". The result is shared: add to it, never change it."""
    if where == "uram":
        return Usage(uram=uram_count(mem.depth, mem.width) * mem.count)
    if where == "auto" and small(mem):
        return Usage(lut=lutram_luts(mem.depth, mem.width) * mem.count)
    return Usage(bram18=bram18_count(mem.depth, mem.width) * mem.count)


def lut_saved_per_bram18(mem: Memory) -> float:
    """LUTs a LUTRAM memory frees per BRAM18 it takes when bound to BRAM18 instead (the order in which
    the placement moves memories out of the LUTs, cheapest first)."""
    return memory_cost(mem).lut / max(1, memory_cost(mem, "bram").bram18)


def lut_saved_per_uram(mem: Memory) -> float:
    """LUTs a LUTRAM memory frees per URAM it takes when placed in URAM instead."""
    return memory_cost(mem).lut / max(1, memory_cost(mem, "uram").uram)


def fifo_srl(depth: int, width: int) -> bool:
    return depth <= SRL_MAX_DEPTH or depth * width <= SRL_MAX_BITS


@functools.lru_cache(maxsize=1 << 16)
def fifo_cost(depth: int, width: int, where: str = "auto") -> Usage:
    """Resources of one stream FIFO of ``depth`` words of ``width`` bits: shift registers (LUTs) under
    the Vitis HLS thresholds above, else a RAM placed as any other memory (LUTRAM when small, else
    BRAM18; ``where`` = "bram": BRAM18 whatever its size, as ``BIND_STORAGE type = fifo impl = bram``
    binds it). A FIFO the thresholds make shift registers is never moved (:func:`fifo_movable`).
    The FIFO's pointers and flags are left out (a few LUTs and FFs each)."""
    if fifo_srl(depth, width):
        return Usage(lut=width * math.ceil(depth / SRL_WORDS))
    return memory_cost(Memory("fifo", depth, width), where)


def fifo_movable(depth: int, width: int) -> bool:
    """A FIFO the tool would put in LUTRAM (a RAM FIFO, small): the ones the placement may bind to
    BRAM18 while LUTs are over budget."""
    return not fifo_srl(depth, width) and small(Memory("fifo", depth, width))


def block_bits(mem: Memory, where: str = "auto") -> int:
    """Bits of the blocks ``mem`` occupies placed in ``where`` (as :func:`memory_cost` counts them):
    against ``mem.bits``, what the arrays hold, the packing waste."""
    u = memory_cost(mem, where)
    return u.bram18 * BRAM18_BITS + u.uram * URAM_BITS + u.lut * LUTRAM_BITS_PER_LUT


def maxi_buffers(port) -> list[tuple[str, int, int]]:
    """(name, depth, width) of the data FIFOs of the adapter Vitis HLS builds for the m_axi ``port``
    (``pe.io.MaxiPort``). AMD UG1399, "M_AXI Resources": the read module buffers the returning data in
    ``buff_rdata``, the write module the outgoing data in ``buff_wdata``; "Controlling AXI4 Burst
    Behavior": num_read_outstanding "implies internal storage in the design: a FIFO of size
    num_read_outstanding*max_read_burst_length*word_size" (likewise for writes). A direction the port
    does not use has no module. The port's data width is its widened width where the pragma sets one."""
    width = port.widen or port.width
    out = []
    if port.read_burst:
        out.append(("buff_rdata", port.read_outstanding * port.read_burst, width))
    if port.write_burst:
        out.append(("buff_wdata", port.write_outstanding * port.write_burst, width))
    return out


def maxi_cost(port) -> Usage:
    """Resources of the m_axi adapter of ``port``: its data FIFOs (:func:`maxi_buffers`) placed as the
    stream FIFOs are (:func:`fifo_cost`: shift registers, LUTRAM or BRAM18). UG1399 names three more
    FIFOs (FIFO_rreq, FIFO_wreq: requests; FIFO_resp: write responses) but gives neither their width
    nor any LUT or FF figure for the adapter's control logic, so they are left out, as the stream
    FIFOs' pointers are: an estimate that counts the adapter's memories, not its logic."""
    return sum((fifo_cost(depth, width) for _, depth, width in maxi_buffers(port)), Usage())
