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
    from ..build.registry import INDEX, read_index, registry_dir

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
    for e in entries:
        used = e.get("resources", {}).get("implemented") or {}
        fmax = (e.get("timing") or {}).get("fmax_mhz")
        tools = ", ".join(f"{k} {v}" for k, v in sorted((e.get("tools") or {}).items()))
        rows.append([e["id"], e.get("board") or "-", f"{e.get('clock_mhz'):g}" if e.get("clock_mhz") else "-",
                     "-" if fmax is None else f"{fmax:g}", str(used.get("lut", "-")), str(used.get("dsp", "-")),
                     str(used.get("bram18", "-")), (e.get("afi") or {}).get("agfi_id") or "-", tools or "-",
                     (e.get("date") or "-")[:10]])
    cols = [Column("id"), Column("board"), Column("MHz", "right"), Column("fmax", "right"), Column("LUT", "right"),
            Column("DSP", "right"), Column("BRAM18", "right"), Column("AGFI"), Column("tools", wrap=True),
            Column("date")]
    print_table(cols, rows, title=f"bitstreams in {where / INDEX}")
    return 0
