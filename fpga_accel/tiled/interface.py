"""The tiled engine's IP and kernel as the host sees them: names, arguments and the predicted
s_axilite register map (the rule :mod:`fpga_accel.flow.tiled_interface` documents, with the build's
checks). Here, below both the build flow and the runtime, so the PYNQ and F2 drivers read the same
constants the generated scripts were written with.
"""
from __future__ import annotations

TOP = "fa_tiled_top"
#: the engine as a Vitis kernel (``tiled/kernel.h``): kernels return nothing, so the status is a buffer
KERNEL = "fa_tiled_kernel"
#: the cell of the engine in the Zynq block design
INSTANCE = "fa_tiled_0"
#: the compute unit in a Vitis link
CU = f"{KERNEL}_1"
XCLBIN = "fa_tiled.xclbin"
CONTROL = "ap_ctrl_hs"
#: (argument, kind) in the order of the top function; pointers are m_axi on their own bundle
ARGS = (("desc", "m_axi"), ("desc_words", "scalar"), ("weights", "m_axi"), ("weights_bytes", "scalar"),
        ("acts", "m_axi"), ("act_bytes", "scalar"))
BUNDLES = {"desc": "gmem0", "weights": "gmem1", "acts": "gmem2"}
#: the kernel's m_axi arguments (the status word on the descriptors' bundle)
KERNEL_POINTERS = ("desc", "weights", "acts", "status")
RETURN_OFFSET = 0x10


#: board families whose engine is Vivado IP (the status on its ap_return register): Zynq block designs
#: and the AWS F2 custom logic (``hdk``)
IP_FAMILIES = ("zynq", "zynqmp", "hdk")


def top_of(family: str | None) -> str:
    """The top function a board family synthesises: the IP with its status register on Zynq boards and
    in the F2 custom logic, the Vitis kernel with its status buffer on Vitis platforms (aws-f1 included)."""
    return TOP if family in IP_FAMILIES else KERNEL
POINTER_BYTES, SCALAR_BYTES = 12, 8
#: where the engine's s_axi_control sits in the AWS F2 OCL window (AppPF BAR0): the custom logic passes the
#: low address bits straight through (flow/aws_f2_cl.py), so register offsets are the IP's own
CONTROL_BASE = 0x0


def register_map() -> dict[str, int]:
    """Predicted offsets: ``ap_return`` and every argument (a pointer's low word; its high word follows)."""
    regs, off = {"ap_return": RETURN_OFFSET}, RETURN_OFFSET + SCALAR_BYTES
    for name, kind in ARGS:
        regs[name] = off
        off += POINTER_BYTES if kind == "m_axi" else SCALAR_BYTES
    return regs


def control_addr_bits() -> int:
    """Width of the engine's s_axi_control address: its last register (8 bytes from the last offset)."""
    top = max(register_map().values()) + SCALAR_BYTES
    return max(6, (top - 1).bit_length())
