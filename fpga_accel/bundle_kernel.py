"""The accelerator's interface as the host sees it: ``manifest["kernel"]``.

One description, written at compile time, that every driver reads: the Vitis/XRT kernel
``fa_kernel`` (one m_axi buffer per hardware input, then per hardware output, then the image
count, all behind an s_axilite ``control`` block), and the Zynq streaming IP ``fa_axis`` (one
AXI-Stream per hardware tensor and the image count). The OpenCL kernel a CPU device runs has the
same name and arguments as ``fa_kernel``, so one host program drives either.

Register offsets follow Vitis HLS's s_axilite layout (CTRL 0x00, GIE 0x04, IER 0x08, ISR 0x0C,
arguments from 0x10; a scalar of up to 32 bits takes 8 bytes, a 64-bit pointer 12). They are
predictions until a build replaces them with the offsets of the generated driver, which is why
``offsets_source`` says ``"predicted"``.

It is part of the bundle's format: code generation writes it, the backends read it (and derive it
here for a bundle whose generators wrote no ``kernel`` section).
"""
from __future__ import annotations

from typing import Any

#: the HLS IP's VLNV is ``IP_VENDOR:hls:AXIS_NAME:1.0`` (vitis_hls export_design -vendor)
IP_VENDOR = "fpga-accel.org"
KERNEL_NAME = "fa_kernel"
AXIS_NAME = "fa_axis"
CONTROL = "ap_ctrl_hs"
FIRST_ARG_OFFSET = 0x10
POINTER_STRIDE = 12
SCALAR_STRIDE = 8
#: the ``role`` of the two arguments of the URAM weight load (``wmem`` and ``load``)
LOAD_ROLE = "uram_load"
#: fa_kernel moves memory in whole words of this many bytes (the 512-bit DDR/HBM port width of
#: Vitis platforms), so every host buffer is allocated rounded up to a multiple of it
MEM_WORD_BYTES = 64


def kernel_interface(qmodel, lanes: dict[str, int] | None = None,
                     tops: tuple[str, str] = (KERNEL_NAME, AXIS_NAME), load: bool = False) -> dict[str, Any]:
    """``manifest["kernel"]`` for ``qmodel``. ``lanes`` gives the stream lanes per hardware
    tensor (elements per AXI-Stream beat; 1 when absent); ``tops`` the kernel's and the IP's names
    (a dataflow segment's carry its index: fpga_accel/segments/names.py). ``load``: the design keeps
    weights in URAM, filled at start (codegen/uram_load.py): after ``n_images`` both tops take the
    ``wmem`` pointer (m_axi bundle ``gmem_w``) and the ``load`` flag."""
    lanes = lanes or {}
    args, offset = [], FIRST_ARG_OFFSET
    streams = []
    for direction, tensors in (("in", qmodel.inputs), ("out", qmodel.outputs)):
        for i, t in enumerate(tensors):
            q = t.qparams.qtype
            name = f"{direction}{i}"
            args.append({"name": name, "tensor": t.name, "kind": "m_axi", "direction": direction,
                         "dtype": q.dtype.name, "offset": offset, "bundle": f"gmem{len(args)}"})
            offset += POINTER_STRIDE
            n_lanes = int(lanes.get(t.name, 1))
            elems = 1
            for d in t.shape[1:]:
                elems *= int(d)
            streams.append({"name": name, "tensor": t.name, "direction": direction, "lanes": n_lanes,
                            "elem_bits": q.bits, "tdata_bits": _ceil8(n_lanes * q.bits),
                            "beats_per_image": elems // n_lanes, "tlast": "batch"})
    args.append({"name": "n_images", "kind": "scalar", "dtype": "uint32", "offset": offset})
    registers = {"n_images": FIRST_ARG_OFFSET}
    if load:
        args += load_args(offset + SCALAR_STRIDE)
        registers.update(wmem=FIRST_ARG_OFFSET + SCALAR_STRIDE, load=FIRST_ARG_OFFSET + SCALAR_STRIDE + POINTER_STRIDE)
    return {"name": tops[0], "control": CONTROL, "args": args, "offsets_source": "predicted",
            "mem_word_bytes": MEM_WORD_BYTES,
            "axis": {"name": tops[1], "control": CONTROL, "registers": registers,
                     "streams": streams, "offsets_source": "predicted"}}


def load_args(offset: int) -> list[dict[str, Any]]:
    """The URAM weight load's two arguments from ``offset``: the weights buffer, then the flag."""
    return [{"name": "wmem", "kind": "m_axi", "direction": "in", "dtype": "uint8", "offset": offset,
             "bundle": "gmem_w", "role": LOAD_ROLE},
            {"name": "load", "kind": "scalar", "dtype": "uint32", "offset": offset + POINTER_STRIDE, "role": LOAD_ROLE}]


def image_args(args: list[dict]) -> list[dict]:
    """``args`` without the URAM weight load's (what an OpenCL twin, whose weights are constants, takes)."""
    return [a for a in args if a.get("role") != LOAD_ROLE]


def _ceil8(bits: int) -> int:
    return (bits + 7) // 8 * 8
