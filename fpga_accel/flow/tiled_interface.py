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

A *split* engine (``FA_TILED_SPLIT=1``, the bundle's ``tiled.array.split``) takes two more read-only
pointers after ``act_bytes``: ``weights_b`` (bundle gmem3) and ``acts_b`` (gmem4), each a register pair
of its own after ``act_bytes``'s; the others keep their offsets.
"""
from __future__ import annotations

import re

from ..bundle_kernel import IP_VENDOR
from ..errors import InputError
from ..tiled.interface import (  # noqa: F401 - re-exported
    ARGS,
    BUNDLES,
    CONTROL,
    CU,
    INSTANCE,
    IP_FAMILIES,
    KERNEL,
    KERNEL_POINTERS,
    POINTER_BYTES,
    RETURN_OFFSET,
    SCALAR_BYTES,
    SPLIT_ARGS,
    SPLIT_BUNDLES,
    TOP,
    XCLBIN,
    args,
    register_map,
    split_of,
    top_of,
)
from ..tiled.interface import bundles as top_bundles
from ..tiled.ports import SPLIT_MACRO, compiled
from .errors import BuildError


def interface(bundles: dict[str, str] | None = None, split: bool = False) -> dict:
    """``manifest["scripts"]["ip"]``: what the drivers of the engine IP read (of a split engine: ``split``)."""
    return {"name": TOP, "vlnv": f"{IP_VENDOR}:hls:{TOP}:1.0", "instance": INSTANCE, "control": CONTROL,
            "registers": register_map(split), "pointers": [n for n, k in args(split) if k == "m_axi"],
            "bundles": dict(bundles or top_bundles(split)), "offsets_source": "predicted"}


_SIGNATURE = re.compile(rf"\b{TOP}\s*\(([^)]*)\)\s*\{{")
_PARAM = re.compile(r"(\*)?\s*(\w+)\s*$")
_M_AXI = re.compile(r"#pragma\s+HLS\s+INTERFACE\s+mode\s*=\s*m_axi\s+port\s*=\s*(\w+)\b[^\n]*?\bbundle\s*=\s*(\w+)")


def configured(header: str, split: bool) -> str:
    """``header`` as the engine built with ``split`` sees it (tiled/ports.py :func:`~fpga_accel.tiled.ports.compiled`,
    its one reader of the FA_TILED_SPLIT switch), a form it does not read refused as a build error."""
    try:
        return compiled(header, split)
    except InputError as e:
        raise BuildError(str(e)) from None


def check_top(header: str, split: bool = False) -> dict[str, str]:
    """The m_axi bundle of each pointer, read from the top function's source (``tiled/top.h``) as the engine
    built with ``split`` (FA_TILED_SPLIT) sees it, after checking that its arguments are still
    :func:`~fpga_accel.tiled.interface.args` (names, order, pointer or scalar) — the register map and the
    block design are derived from them — and that a split engine's second masters only read."""
    header = configured(header, split)
    want = list(args(split))
    m = _SIGNATURE.search(header)
    params = [_PARAM.search(p.strip()) for p in m.group(1).split(",")] if m else []
    found = [(q.group(2), "m_axi" if q.group(1) else "scalar") for q in params if q]
    if found != want:
        raise BuildError(f"the engine's top function {TOP} takes {found or 'arguments that cannot be read'}"
                         f"{' with ' + SPLIT_MACRO + '=1' if split else ''}, not {want}: the register map and block "
                         "design of fpga_accel/flow/tiled_interface.py must follow it")
    expected = top_bundles(split)
    bundles = dict(_M_AXI.findall(header))
    if sorted(bundles) != sorted(expected):
        raise BuildError(f"the engine's top function puts m_axi bundles on {sorted(bundles)}, not on "
                         f"{sorted(expected)}")
    for name in SPLIT_BUNDLES if split else ():
        param = next(p.strip() for p, q in zip(m.group(1).split(","), params) if q and q.group(2) == name)
        writes = re.search(rf"port\s*=\s*{name}\b[^\n]*max_write_burst_length", header)
        if not param.startswith("const ") or writes or bundles[name] != expected[name]:
            raise BuildError(f"the split engine's {name} must be a read-only pointer (const, no write bursts) on "
                             f"bundle {expected[name]}, as the block design and the drivers take it; tiled/top.h "
                             f"declares '{param}' on {bundles[name]}")
    return {name: bundles[name] for name in expected}
