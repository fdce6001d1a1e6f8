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

Lowering: the processing elements (headers of `hls/`) a hardware op's layer becomes in the
generated HLS project; "none (stream rename)" ops cost nothing in the stream; **no PE** means the
op runs in the emulator but the HLS generator rejects a model using it, naming the layer.
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--markdown", action="store_true", help="print a Markdown document (docs/ops.md)")


def run(args) -> int:
    rows = op_rows()
    if args.markdown:
        sys.stdout.write(markdown(rows))
        return 0
    cols = [Column("op"), Column("domain"), Column("placement"), Column("attributes", wrap=True),
            Column("lowering", wrap=True), Column("notes", wrap=True)]
    print_table(cols, rows)
    print(_summary(rows))
    return 0


def op_rows() -> list[list[str]]:
    """One row per registered op: op, domain, placement, ONNX attributes, lowering, notes."""
    from ..ops import all_ops
    from ..ops.family.attrs import FUSED_CLIP, LAYOUT

    compiler_attrs = set(FUSED_CLIP) | set(LAYOUT)  # added by passes, not found in ONNX files
    rows = []
    for op in all_ops():
        attrs = ", ".join(sorted(a for a in op.attrs if a not in compiler_attrs)) or "-"
        rows.append([op.op_type, op.domain or "ai.onnx", PLACEMENT_TEXT.get(op.placement, op.placement),
                     attrs, lowering_text(op), op.notes or "-"])
    return rows


def lowering_text(op) -> str:
    """What the op's layers become in hardware: its PEs, "no PE", or "-" off the hardware."""
    if op.has_lowering():
        return op.lowering
    return "no PE" if op.placement == "hardware" else "-"


def markdown(rows: list[list[str]]) -> str:
    def cell(s: str) -> str:
        return s.replace("|", "\\|")

    lines = [HEADER, "| op | domain | placement | attributes | lowering | notes |", "|---|---|---|---|---|---|"]
    lines += ["| " + " | ".join(cell(c) for c in r) + " |" for r in rows]
    lines += ["", _summary(rows)]
    return "\n".join(lines) + "\n"


def _summary(rows) -> str:
    counts = {k: sum(r[2] == v for r in rows) for k, v in PLACEMENT_TEXT.items()}
    no_pe = sum(r[4] == "no PE" for r in rows)
    return (f"{len(rows)} ops: {counts['hardware']} hardware ({counts['hardware'] - no_pe} with a hardware "
            f"lowering, {no_pe} without), {counts['host']} host, {counts['removed']} removed by passes.")
