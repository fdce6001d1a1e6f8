"""Helpers of the split tiled engine's flow tests: a tiled bundle in the other engine form, its scripts
generated again as a compile would write them.

The form is the bundle's ``tiled.array.split``; a copy of a compiled bundle gets the field set and its
``hls/`` and ``scripts/`` regenerated, its file table and seal renewed, as the compile does. The engine
headers are the package's; where its ``tiled/top.h`` does not take the split arguments yet, the copy
gets them as the split rule states them (two read-only pointers after ``act_bytes`` under
``#if FA_TILED_SPLIT``, bundles gmem3 and gmem4).
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from unittest import mock

from fpga_accel.bundle import _listing, load_bundle, write_manifest
from fpga_accel.bundle_tiled import load_program
from fpga_accel.flow import BuildError, tiled_scripts
from fpga_accel.flow.tiled_hls import ENTRY, engine_headers
from fpga_accel.flow.tiled_interface import check_top

_SIGNATURE_END = "uint8_t* acts, uint32_t act_bytes"
_LAST_REGISTER = "#pragma HLS INTERFACE mode = s_axilite port = act_bytes\n"
SPLIT_PRAGMAS = (
    "#if FA_TILED_SPLIT\n"
    "#pragma HLS INTERFACE mode = m_axi port = weights_b offset = slave bundle = gmem3 max_read_burst_length = 64 "
    "max_widen_bitwidth = FA_TILED_AXI_BITS\n"
    "#pragma HLS INTERFACE mode = m_axi port = acts_b offset = slave bundle = gmem4 max_read_burst_length = 64 "
    "max_widen_bitwidth = FA_TILED_AXI_BITS\n"
    "#pragma HLS INTERFACE mode = s_axilite port = weights_b\n"
    "#pragma HLS INTERFACE mode = s_axilite port = acts_b\n"
    "#endif\n")


def split_top(top: str) -> str:
    """``tiled/top.h`` (unsplit) with the split arguments and pragmas of the rule added."""
    assert _SIGNATURE_END in top and _LAST_REGISTER in top, "tiled/top.h changed its signature or pragmas"
    top = top.replace(_SIGNATURE_END, _SIGNATURE_END + "\n#if FA_TILED_SPLIT\n    , const uint8_t* weights_b, "
                      "const uint8_t* acts_b\n#endif\n    ")
    return top.replace(_LAST_REGISTER, _LAST_REGISTER + SPLIT_PRAGMAS)


def rule_headers() -> dict[str, str]:
    """The package's engine headers, ``tiled/top.h`` in its split form where it lacks one."""
    headers = engine_headers()
    try:
        check_top(headers[ENTRY], split=True)
    except BuildError:
        headers[ENTRY] = split_top(headers[ENTRY])
    return headers


def with_form(bundle, dest: Path, split):
    """A copy of ``bundle`` at ``dest`` whose engine form is ``split`` (None: the field absent, as in bundles
    written before it), its scripts regenerated."""
    shutil.copytree(bundle.path, dest)
    m = json.loads((dest / "manifest.json").read_text())
    m["tiled"]["array"].pop("split", None)
    if split is not None:
        m["tiled"]["array"]["split"] = split
    program, _ = load_program(bundle)
    with mock.patch.object(tiled_scripts, "engine_headers", rule_headers if split is True else engine_headers):
        tiled_scripts.generate_tiled_scripts(dest, m, program)
    m["files"] = _listing(dest)
    write_manifest(dest, m)
    return load_bundle(dest)
