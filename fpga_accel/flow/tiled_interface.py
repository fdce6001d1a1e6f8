"""The tiled engine's IP as the host sees it: names and the s_axilite register map of ``fa_tiled_top``.

``hls/include/fpga_accel/tiled/top.h`` declares ``unsigned fa_tiled_top(desc, desc_words, weights,
weights_bytes, acts, act_bytes)``: three m_axi pointers (``offset = slave``: their addresses are
registers), three 32-bit sizes and the status as the return value, all on one s_axilite block
under ap_ctrl_hs. Vitis HLS lays that block out as its generated driver header (``x<top>_hw.h``)
documents: CTRL 0x00, GIE 0x04, IER 0x08, ISR 0x0C, then ``ap_return`` at 0x10 (read only, 8
bytes with its reserved word), then the arguments in declaration order, a 64-bit pointer taking 12
bytes (low word, high word, reserved) and a scalar of up to 32 bits 8 (data, reserved) — the same
rule :mod:`fpga_accel.bundle_kernel` predicts the dataflow IP's offsets with. The offsets are
predictions (``offsets_source: "predicted"``) until a build reads the generated header; the PYNQ
backend checks them against the ``.hwh`` of the bitstream before it writes any of them.
"""
from __future__ import annotations

import re

from ..bundle_kernel import IP_VENDOR
from .errors import BuildError

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


def register_map() -> dict[str, int]:
    """Predicted offsets: ``ap_return`` and every argument (a pointer's low word; its high word follows)."""
    regs, off = {"ap_return": RETURN_OFFSET}, RETURN_OFFSET + SCALAR_BYTES
    for name, kind in ARGS:
        regs[name] = off
        off += POINTER_BYTES if kind == "m_axi" else SCALAR_BYTES
    return regs


def interface(bundles: dict[str, str] | None = None) -> dict:
    """``manifest["scripts"]["ip"]``: what the drivers of the engine IP read."""
    return {"name": TOP, "vlnv": f"{IP_VENDOR}:hls:{TOP}:1.0", "instance": INSTANCE, "control": CONTROL,
            "registers": register_map(), "pointers": [n for n, k in ARGS if k == "m_axi"],
            "bundles": dict(bundles or BUNDLES), "offsets_source": "predicted"}


_SIGNATURE = re.compile(rf"\b{TOP}\s*\(([^)]*)\)\s*\{{")
_PARAM = re.compile(r"(\*)?\s*(\w+)\s*$")
_M_AXI = re.compile(r"#pragma\s+HLS\s+INTERFACE\s+mode\s*=\s*m_axi\s+port\s*=\s*(\w+)\b[^\n]*?\bbundle\s*=\s*(\w+)")


def check_top(header: str) -> dict[str, str]:
    """The m_axi bundle of each pointer, read from the top function's source (``tiled/top.h``), after
    checking that its arguments are still :data:`ARGS` (names, order, pointer or scalar) — the register
    map and the block design are derived from them."""
    m = _SIGNATURE.search(header)
    params = [_PARAM.search(p.strip()) for p in m.group(1).split(",")] if m else []
    found = [(q.group(2), "m_axi" if q.group(1) else "scalar") for q in params if q]
    if found != list(ARGS):
        raise BuildError(f"the engine's top function {TOP} takes {found or 'arguments that cannot be read'}, not "
                         f"{list(ARGS)}: the register map and block design of fpga_accel/flow/tiled_interface.py "
                         "must follow it")
    bundles = dict(_M_AXI.findall(header))
    if sorted(bundles) != sorted(BUNDLES):
        raise BuildError(f"the engine's top function puts m_axi bundles on {sorted(bundles)}, not on "
                         f"{sorted(BUNDLES)}")
    return {name: bundles[name] for name in BUNDLES}
