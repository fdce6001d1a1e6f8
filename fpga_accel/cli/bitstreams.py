"""List the bitstream registry: every recorded build with its model, board, clock, tools and resources.

The registry is index.json in the bitstreams directory (--registry, else FPGA_ACCEL_BITSTREAMS,
else ./bitstreams); `fpga-accel build` adds an entry for each finished bitstream.
"""
from __future__ import annotations

import argparse
import json

from ._output import Column, print_table

ORDER = 26


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--registry", metavar="DIR", help="bitstreams directory (default: FPGA_ACCEL_BITSTREAMS, "
                                                     "else ./bitstreams)")
    p.add_argument("--json", action="store_true", help="print the index as JSON")


def run(args) -> int:
    from ..flow.bitstream_registry import INDEX, read_index, registry_dir

    where = registry_dir(args.registry)
    index = read_index(where)
    entries = index["bitstreams"]
    if args.json:
        print(json.dumps(index, indent=2))
        return 0
    if not entries:
        print(f"no bitstreams recorded in {where / INDEX}; build one with `fpga-accel build NAME.fpga`")
        return 0
    rows = []
    for e in entries:  # read_index checked each entry is an object with an id; its other fields may be anything
        used = _obj(_obj(e.get("resources")).get("implemented"))
        tools = ", ".join(f"{k} {v}" for k, v in sorted(_obj(e.get("tools")).items()))
        rows.append([e["id"], _text(e.get("board")), _num(e.get("clock_mhz")), _num(_obj(e.get("timing")).get("fmax_mhz")),
                     _text(used.get("lut")), _text(used.get("dsp")), _text(used.get("bram18")),
                     _text(_obj(e.get("afi")).get("agfi_id")), tools or "-", _text(e.get("date"))[:10]])
    cols = [Column("id"), Column("board"), Column("MHz", "right"), Column("fmax", "right"), Column("LUT", "right"),
            Column("DSP", "right"), Column("BRAM18", "right"), Column("AGFI"), Column("tools", wrap=True),
            Column("date")]
    print_table(cols, rows, title=f"bitstreams in {where / INDEX}")
    return 0


def _obj(v) -> dict:
    return v if isinstance(v, dict) else {}


def _num(v) -> str:
    return f"{v:g}" if isinstance(v, (int, float)) and not isinstance(v, bool) else "-" if v is None else str(v)


def _text(v) -> str:
    return "-" if v is None or v == "" else str(v)
