"""``axis_io.h``, ``maxi_io.h``: the adapters between the network's streams and the outside.

AXI-Stream (axis_io.h, the Zynq IP): cycles/image = N words, one beat each. m_axi (maxi_io.h, the
Vitis kernel): the burst loop and the (un)pack loop overlap in the DATAFLOW region, so the
throughput is max(N, N_MEM) per image; counted loop iterations (C simulation) for a batch of n
images are N_MEM + max(N_MEM, n·N) to read and max(N_MEM, n·N + 1) + N_MEM to write,
N_MEM = ceil(n·N·LANES / E) memory words, E = MEM_BITS / container bits (8 for ≤ 8-bit elements,
else 16). The HLS writer places them around the network (codegen/top.py), not as stages.
"""
from __future__ import annotations

import math

from .base import ProcessingElement, register
from .cost import Cost
from .stream_utils import copy_cost


#: widest stream word an I/O adapter moves: the AXI DMA's widest stream (AMD PG021, "Stream Data
#: Width" up to 1024 bits) behind the Zynq IP; the m_axi kernel keeps the same rule
MAX_STREAM_BITS = 1024


def io_lanes(lanes: int, bits: int) -> int:
    """Lanes of the adapter for a tensor its neighbour layer reads or writes ``lanes`` at a time:
    the same, or the largest divisor of them whose word fits MAX_STREAM_BITS (a width converter
    between them makes up the difference)."""
    if lanes * bits <= MAX_STREAM_BITS:
        return lanes
    return max(d for d in range(1, lanes + 1) if lanes % d == 0 and d * bits <= MAX_STREAM_BITS)


def mem_words(p, n_images: int) -> int:
    per_word = p.get("MEM_BITS", 512) // (8 if p["BITS"] <= 8 else 16)
    return math.ceil(n_images * p["N"] * p["LANES"] / per_word)


class _Adapter(ProcessingElement):
    headers = ("maxi_io.h", "axis_io.h")

    def cycles(self, p) -> int:
        if p.get("INTERFACE", "axis") == "m_axi":
            return max(p["N"], mem_words(p, 1))
        return p["N"]

    def cost(self, p, board) -> Cost:
        return copy_cost(p, board)


@register
class Input(_Adapter):
    kind = "input"

    def batch_cycles(self, p, n_images: int, interface: str) -> int:
        """m_axi read of a batch: the burst loop, then the unpack loop (maxi_io.h mem_to_stream)."""
        if interface != "m_axi":
            return super().batch_cycles(p, n_images, interface)
        n_mem = mem_words(p, n_images)
        return n_mem + max(n_mem, n_images * p["N"])


@register
class Output(_Adapter):
    kind = "output"

    def batch_cycles(self, p, n_images: int, interface: str) -> int:
        """m_axi write of a batch: the pack loop, then the burst loop (maxi_io.h stream_to_mem)."""
        if interface != "m_axi":
            return super().batch_cycles(p, n_images, interface)
        n_mem = mem_words(p, n_images)
        return max(n_mem, n_images * p["N"] + 1) + n_mem
