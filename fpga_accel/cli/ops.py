"""List the supported ONNX ops: where each runs, its attributes and limits.

The table is generated from the op registry; docs/ops.md is its --markdown output.
"""
from __future__ import annotations

import argparse
import sys

from ._output import Column, print_table

ORDER = 90

PLACEMENT_TEXT = {"hardware": "hardware", "host": "host", "removed": "removed by passes"}
HEADER = """# Supported ops

Generated from the op registry by `fpga-accel ops --markdown > docs/ops.md`; do not edit by hand.

Placement: **hardware** ops become processing elements of the accelerator; **host** ops run in
float on the host before or after the accelerated part; ops **removed by passes** are folded
into their neighbours by the compiler (e.g. BatchNormalization into the preceding Conv).
Attributes not listed are rejected at import, naming the node.
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--markdown", action="store_true", help="print a Markdown document (docs/ops.md)")


def run(args) -> int:
    rows = op_rows()
    if args.markdown:
        sys.stdout.write(markdown(rows))
        return 0
    cols = [Column("op"), Column("domain"), Column("placement"), Column("attributes", wrap=True),
            Column("notes", wrap=True)]
    print_table(cols, rows)
    print(_summary(rows))
    return 0


def op_rows() -> list[list[str]]:
    """One row per registered op: op, domain, placement, ONNX attributes, notes."""
    from ..ops import all_ops
    from ..ops.common import FUSED_CLIP, LAYOUT

    compiler_attrs = set(FUSED_CLIP) | set(LAYOUT)  # added by passes, not found in ONNX files
    rows = []
    for op in all_ops():
        attrs = ", ".join(sorted(a for a in op.attrs if a not in compiler_attrs)) or "-"
        rows.append([op.op_type, op.domain or "ai.onnx", PLACEMENT_TEXT.get(op.placement, op.placement),
                     attrs, op.notes or "-"])
    return rows


def markdown(rows: list[list[str]]) -> str:
    def cell(s: str) -> str:
        return s.replace("|", "\\|")

    lines = [HEADER, "| op | domain | placement | attributes | notes |", "|---|---|---|---|---|"]
    lines += ["| " + " | ".join(cell(c) for c in r) + " |" for r in rows]
    lines += ["", _summary(rows)]
    return "\n".join(lines) + "\n"


def _summary(rows) -> str:
    counts = {k: sum(r[2] == v for r in rows) for k, v in PLACEMENT_TEXT.items()}
    return (f"{len(rows)} ops: {counts['hardware']} hardware, {counts['host']} host, "
            f"{counts['removed']} removed by passes.")
