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
from ..tiled.interface import (ARGS, BUNDLES, CONTROL, CU, INSTANCE, IP_FAMILIES, KERNEL,  # noqa: F401 - re-exported
                               KERNEL_POINTERS, POINTER_BYTES, RETURN_OFFSET, SCALAR_BYTES, TOP, XCLBIN,
                               register_map, top_of)

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
