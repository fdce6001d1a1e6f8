"""The hardware names of segment k, in one place: its HLS tops, block-design instances and compute unit.

One bitstream holds every segment of a bundle, so each segment's tops carry its index: the Vitis
kernel ``fa_kernel_s<k>`` (compute unit ``fa_kernel_s<k>_1`` in the xclbin), the Zynq IP
``fa_axis_s<k>`` (instance ``fa_axis_s<k>_0`` in the block design) with its DMAs
``dma_s<k>_<stream>``. A one-part design keeps ``fa_kernel`` / ``fa_axis`` (:func:`tops` of a
manifest with no ``segment`` section). Only the index, an integer, goes into these names.
"""
from __future__ import annotations

from .split import MAX_SEGMENTS

KERNEL, AXIS = "fa_kernel", "fa_axis"
#: in an F2 custom logic of several kernels, each kernel's control registers sit in a window of this many
#: address bits on OCL (AppPF BAR0): the build (flow/aws_f2_cl.py) and the driver read the map from here
CONTROL_WINDOW_BITS = 12


def _index(k) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k < MAX_SEGMENTS:
        raise ValueError(f"segment index {str(k)[:40]!r} is not a small non-negative integer")
    return k


def kernel_top(k: int) -> str:
    return f"{KERNEL}_s{_index(k)}"


def axis_top(k: int) -> str:
    return f"{AXIS}_s{_index(k)}"


def ip_instance(k: int) -> str:
    """The block design's cell of segment k's streaming IP."""
    return f"{axis_top(k)}_0"


def dma_instance(k: int, stream: str) -> str:
    """The block design's AXI DMA of stream ``stream`` (``in0``, ``out0``, ...) of segment k."""
    return f"dma_s{_index(k)}_{stream}"


def compute_unit(k: int) -> str:
    return f"{kernel_top(k)}_1"


def tops(manifest: dict) -> tuple[str, str]:
    """``(kernel top, axis top)`` of the design ``manifest`` describes: a segment's own names, or
    ``fa_kernel`` / ``fa_axis`` for a one-part design."""
    seg = manifest.get("segment")
    if not isinstance(seg, dict):
        return KERNEL, AXIS
    k = _index(seg.get("index"))
    return kernel_top(k), axis_top(k)


def control_base(k: int) -> int:
    """OCL (AppPF BAR0) address of kernel k's control registers in an F2 custom logic of several kernels."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 0:
        raise ValueError(f"kernel index {k!r} is not a non-negative integer")
    return k << CONTROL_WINDOW_BITS
