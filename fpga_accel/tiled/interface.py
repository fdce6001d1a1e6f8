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
#: what a *split* engine (built with FA_TILED_SPLIT=1 for a board with four HP ports: tiled/ports.py ``split``)
#: appends after ``act_bytes``: a second weights master and a second activations master, read only, to which
#: the host gives the weights arena's and the activation arena's addresses again
SPLIT_ARGS = (("weights_b", "m_axi"), ("acts_b", "m_axi"))
SPLIT_BUNDLES = {"weights_b": "gmem3", "acts_b": "gmem4"}
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


def args(split: bool = False) -> tuple[tuple[str, str], ...]:
    """The top's (argument, kind) in order: :data:`ARGS`, then :data:`SPLIT_ARGS` in a split engine."""
    return ARGS + SPLIT_ARGS if split else ARGS


def bundles(split: bool = False) -> dict[str, str]:
    """The m_axi bundle of each pointer of the top (of a split engine with ``split``)."""
    return {**BUNDLES, **SPLIT_BUNDLES} if split else dict(BUNDLES)


#: the arena each second master reads again: the host writes the same address into both registers
SPLIT_ALIASES = {"weights_b": "weights", "acts_b": "acts"}


def split_of(manifest: dict) -> bool:
    """The engine form a bundle records, ``manifest["tiled"]["array"]["split"]`` (absent, as in bundles
    written before the field: False); anything but a bool is refused, never guessed from."""
    from ..bundle_check import BundleError

    array = (manifest.get("tiled") or {}).get("array") or {}
    value = array.get("split", False) if isinstance(array, dict) else False
    if not isinstance(value, bool):
        raise BundleError(f"manifest key 'tiled.array.split' is {value!r}, not true or false: the bundle was not "
                          "written as compiled; recompile the model")
    return value


def register_map(split: bool = False) -> dict[str, int]:
    """Predicted offsets: ``ap_return`` and every argument (a pointer's low word; its high word follows);
    ``split``: of a split engine, whose two more pointers follow ``act_bytes`` (the others unchanged)."""
    regs, off = {"ap_return": RETURN_OFFSET}, RETURN_OFFSET + SCALAR_BYTES
    for name, kind in args(split):
        regs[name] = off
        off += POINTER_BYTES if kind == "m_axi" else SCALAR_BYTES
    return regs


def control_addr_bits(split: bool = False) -> int:
    """Width of the engine's s_axi_control address: its last register (8 bytes from the last offset)."""
    top = max(register_map(split).values()) + SCALAR_BYTES
    return max(6, (top - 1).bit_length())
