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

from ..bundle_kernel import IP_VENDOR

TOP = "fa_tiled_top"
#: the cell of the engine in the Zynq block design
INSTANCE = "fa_tiled_0"
#: the compute unit in a Vitis link
CU = "fa_tiled_top_1"
XCLBIN = "fa_tiled.xclbin"
CONTROL = "ap_ctrl_hs"
#: (argument, kind) in the order of the top function; pointers are m_axi on their own bundle
ARGS = (("desc", "m_axi"), ("desc_words", "scalar"), ("weights", "m_axi"), ("weights_bytes", "scalar"),
        ("acts", "m_axi"), ("act_bytes", "scalar"))
BUNDLES = {"desc": "gmem0", "weights": "gmem1", "acts": "gmem2"}
RETURN_OFFSET = 0x10
POINTER_BYTES, SCALAR_BYTES = 12, 8


def register_map() -> dict[str, int]:
    """Predicted offsets: ``ap_return`` and every argument (a pointer's low word; its high word follows)."""
    regs, off = {"ap_return": RETURN_OFFSET}, RETURN_OFFSET + SCALAR_BYTES
    for name, kind in ARGS:
        regs[name] = off
        off += POINTER_BYTES if kind == "m_axi" else SCALAR_BYTES
    return regs


def interface() -> dict:
    """``manifest["scripts"]["ip"]``: what the drivers of the engine IP read."""
    return {"name": TOP, "vlnv": f"{IP_VENDOR}:hls:{TOP}:1.0", "instance": INSTANCE, "control": CONTROL,
            "registers": register_map(), "pointers": [n for n, k in ARGS if k == "m_axi"],
            "bundles": dict(BUNDLES), "offsets_source": "predicted"}
