"""stream_utils.h, axis_io.h, maxi_io.h: stream plumbing and the I/O adapters.

width_convert : cycles/image = max(N_IN, N_OUT); buffers IN_LANES + OUT_LANES − 1 elements.
duplicate     : cycles/image = N (one fork of a tensor with several readers).
input / output: AXI-Stream (axis_io.h): cycles/image = N words, one beat each. m_axi (maxi_io.h):
                the burst loop and the (un)pack loop overlap in the DATAFLOW region, so the
                throughput is max(N, N_MEM) per image; counted loop iterations (C simulation)
                for a batch of n images are N_MEM + max(N_MEM, n·N) to read and
                max(N_MEM, n·N + 1) + N_MEM to write, N_MEM = ceil(n·N·LANES / E) memory words,
                E = MEM_BITS / container bits (8 for ≤ 8-bit elements, else 16).
reorder       : a layer that rewrites a tensor without arithmetic and has no library PE
                (Pad, a reordering Transpose): one element per cycle, through a whole-tensor
                buffer when it reorders (an estimate).
"""
from __future__ import annotations

import math

from ..resources import Cost, Memory
from ._model import pe_model


def _n_out(p) -> int:
    return p["N_OUT"] if "N_OUT" in p else p["N_IN"] * p["IN_LANES"] // p["OUT_LANES"]


def _wc_cycles(p) -> int:
    return max(p["N_IN"], _n_out(p))


def _wc_cost(p, board) -> Cost:
    bits = (p["IN_LANES"] + p["OUT_LANES"]) * p["BITS"]
    return Cost(lut=40 + bits, ff=60 + bits)


def _n(p) -> int:
    return p["N"] if "N" in p else p["N_WORDS"]


def _copy_cost(p, board) -> Cost:
    bits = p.get("LANES", 1) * p.get("BITS", 8)
    return Cost(lut=30 + bits, ff=40 + 2 * bits)


def _reorder_cost(p, board) -> Cost:
    c = _copy_cost(p, board)
    if p.get("BUFFER"):
        c.memories = [Memory("buffer", p["N"], p["LANES"] * p["BITS"])]
    return c


def mem_words(p, n_images: int) -> int:
    per_word = p.get("MEM_BITS", 512) // (8 if p["BITS"] <= 8 else 16)
    return math.ceil(n_images * p["N"] * p["LANES"] / per_word)


def input_batch_cycles(p, n_images: int) -> int:
    """m_axi read of a batch: the burst loop, then the unpack loop (maxi_io.h mem_to_stream)."""
    n_mem = mem_words(p, n_images)
    return n_mem + max(n_mem, n_images * p["N"])


def output_batch_cycles(p, n_images: int) -> int:
    """m_axi write of a batch: the pack loop, then the burst loop (maxi_io.h stream_to_mem)."""
    n_mem = mem_words(p, n_images)
    return max(n_mem, n_images * p["N"] + 1) + n_mem


def _io_cycles(p) -> int:
    if p.get("INTERFACE", "axis") == "m_axi":
        return max(p["N"], mem_words(p, 1))
    return p["N"]


KINDS = (
    pe_model("width_convert", _wc_cycles, _wc_cost),
    pe_model("duplicate", _n, _copy_cost),
    pe_model("input", _io_cycles, _copy_cost),
    pe_model("output", _io_cycles, _copy_cost),
    pe_model("reorder", _n, _reorder_cost, first_out=lambda p: p["N"] if p.get("BUFFER") else 1),
)
BATCH = {"input": input_batch_cycles, "output": output_batch_cycles}
