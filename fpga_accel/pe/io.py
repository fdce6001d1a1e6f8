"""``axis_io.h``, ``maxi_io.h``: the adapters between the network's streams and the outside.

AXI-Stream (axis_io.h, the Zynq IP): cycles/image = N words, one beat each. m_axi (maxi_io.h, the
Vitis kernel): the burst loop and the (un)pack loop overlap in the DATAFLOW region, so the
throughput is max(N, N_MEM) per image; counted loop iterations (C simulation) for a batch of n
images are N_MEM + max(N_MEM, n·N) to read and max(N_MEM, n·N + 1) + N_MEM to write,
N_MEM = ceil(n·N·LANES / E) memory words, E = MEM_BITS / container bits (8 for ≤ 8-bit elements,
else 16). The HLS writer places them around the network (codegen/top.py), not as stages.

Every m_axi port's INTERFACE options are a :class:`MaxiPort` (``KERNEL_IN``, ``KERNEL_OUT``,
``WEIGHT_LOAD``): the tops write the pragma from it and the fold prices its adapter from it
(``fold.resources.maxi_cost``), so the two cannot disagree.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from .base import ProcessingElement, register
from .cost import Cost
from .stream_utils import copy_cost

#: widest stream word an I/O adapter moves: the AXI DMA's widest stream (AMD PG021, "Stream Data
#: Width" up to 1024 bits) behind the Zynq IP; the m_axi kernel keeps the same rule
MAX_STREAM_BITS = 1024


#: Vitis HLS's default num_read_outstanding / num_write_outstanding and max_*_burst_length (AMD UG1399,
#: "Controlling AXI4 Burst Behavior" and the INTERFACE pragma's options)
DEFAULT_OUTSTANDING = 16
DEFAULT_BURST = 16


@dataclass(frozen=True)
class MaxiPort:
    """The options of one m_axi INTERFACE pragma: data width (bits), and per direction the longest burst
    (words; 0: the port does not move data that way) and the requests in flight. ``widen``: the
    pragma's max_widen_bitwidth (0: not written; the port is then ``width`` as declared)."""

    width: int
    read_burst: int = 0
    write_burst: int = 0
    read_outstanding: int = DEFAULT_OUTSTANDING
    write_outstanding: int = DEFAULT_OUTSTANDING
    widen: int = 0

    def options(self) -> str:
        """The pragma's burst options, every one the adapter's size depends on written out."""
        out = []
        if self.read_burst:
            out += [f"max_read_burst_length = {self.read_burst}", f"num_read_outstanding = {self.read_outstanding}"]
        if self.write_burst:
            out += [f"max_write_burst_length = {self.write_burst}",
                    f"num_write_outstanding = {self.write_outstanding}"]
        if self.widen:
            out.append(f"max_widen_bitwidth = {self.widen}")
        return " ".join(out)

    def pragma(self, port: str, bundle: str) -> str:
        return f"#pragma HLS INTERFACE mode = m_axi port = {port} offset = slave bundle = {bundle} {self.options()}"


#: fa_kernel's input and output buffers: 512-bit words (codegen/top.py MEM_BITS), bursts of 64 words
#: (64 x 64 B = 4 KiB, the AXI4 limit of one burst) with the default 16 in flight, so the stream of
#: images is not held up by the memory's latency
KERNEL_IN = MaxiPort(512, read_burst=64)
KERNEL_OUT = MaxiPort(512, write_burst=64)
#: the URAM weight load (codegen/uram_load.py, both tops): read once after configuration, so its
#: bandwidth does not matter; 16-word bursts, 4 in flight keep its read buffer at 64 words, which is
#: LUTRAM (64 deep) rather than the 29 BRAM18 of KERNEL_IN's 1,024 words
WEIGHT_LOAD = MaxiPort(512, read_burst=16, read_outstanding=4)


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
