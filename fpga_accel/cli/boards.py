"""List the target boards: part, resources, default clock, platform or shell, how the design attaches.

Resource counts are the device totals from the vendors' product tables (each board file names
its source); "left" is what remains after the shell / platform or the PS glue takes its share.
docs/boards.md is the --markdown output.
"""
from __future__ import annotations

import argparse
import json

from ._output import Column, fmt_int, print_table

ORDER = 80


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", nargs="?", help="show one board in full")
    p.add_argument("--json", action="store_true", help="print the board data as JSON")
    p.add_argument("--markdown", action="store_true", help="print the boards page (docs/boards.md)")


def run(args) -> int:
    from ..fold.boards import board_names, get_board

    boards = [get_board(args.name)] if args.name else [get_board(n) for n in board_names()]
    if args.markdown:
        print(markdown(boards), end="")
        return 0
    if args.json:
        data = [b.to_dict() for b in boards]
        print(json.dumps(data[0] if args.name else data, indent=2))
        return 0
    if args.name:
        _details(boards[0])
        return 0
    cols = [Column("board"), Column("part"), Column("family"), Column("DSP", "right"), Column("BRAM18", "right"),
            Column("URAM", "right"), Column("LUT", "right"), Column("FF", "right"), Column("MHz", "right"),
            Column("platform / attachment", wrap=True)]
    rows = [[b.name + (" (retired)" if b.retired else ""), b.part, b.family, fmt_int(b.dsp), fmt_int(b.bram18),
             fmt_int(b.uram), fmt_int(b.lut), fmt_int(b.ff), f"{b.clock_mhz:g}",
             b.platform or "Zynq PS + AXI DMA"] for b in boards]
    print_table(cols, rows, title="target boards (device totals; `fpga-accel boards NAME` for details)")
    for b in boards:
        if b.retired:
            print(f"{b.name}: {b.retired}")
    return 0


def _details(b) -> None:
    print(f"{b.name}: {b.description}")
    print(f"  part        {b.part} ({b.family}, {b.dsp_type})")
    print(f"  clock       {b.clock_mhz:g} MHz (default)")
    print(f"  platform    {b.platform or '-'}")
    print(f"  attachment  {b.attachment}")
    print("  memory      " + ", ".join(f"{m['name']} {m['size_gib']:g} GiB" for m in b.memory))
    for k, label in (("dsp", "DSP"), ("bram18", "BRAM18"), ("uram", "URAM"), ("lut", "LUT"), ("ff", "FF")):
        print(f"  {label:<11} {fmt_int(b.total(k)):>10} total, {fmt_int(b.available(k)):>10} left "
              f"({b.reserved.get(k, 0.0):.1%} reserved)")
    print(f"  resources   {b.source}")
    print(f"  reserved    {b.reserved_source}")
    if b.retired:
        print(f"  note        {b.retired}")


HEADER = """# Boards

Generated from the board files by `fpga-accel boards --markdown > docs/boards.md`; do not edit by
hand. One JSON file per board in `fpga_accel/fold/boards/` (package data); `fpga-accel boards
NAME` shows one board in full, `--json` the data. Resource counts are the device totals from the
vendors' product tables; the folder budgets against what remains after the share the shell /
platform (Vitis boards) or the PS glue (Zynq boards) takes (`reserved`).

| board | part | family | DSP | BRAM18 | URAM | LUT | FF | default MHz | platform / attachment |
|---|---|---|---:|---:|---:|---:|---:|---:|---|
"""

FOOTER = """
Families: **zynq** / **zynqmp** boards run the AXI-Stream IP `fa_axis` behind an AXI DMA on the
PS (a PYNQ overlay: `.bit` + `.hwh`); **vitis** boards run the m_axi kernel `fa_kernel` in the
platform's dynamic region through XRT. The default clocks are what a build requests (100 MHz on
the Zynq-7000, 200 MHz on Zynq UltraScale+, 250 MHz on F1, 300 MHz on Alveo); `--clock` changes
them.

`max_clock_mhz` is the ceiling of the part's clock tree from its data sheet (`max_clock_source`:
464 MHz for the Zynq-7000 -1 grade, 667 MHz, the lowest grade's figure, for UltraScale+);
`compile --clock` above it warns. It is not a timing promise: designs close timing far below it.

To add a board, add `NAME.json` with the keys of `fpga_accel.fold.boards.Board`;
`tests/test_boards.py` checks that it loads and that this page is current.
"""


def markdown(boards) -> str:
    """The boards page: the table, notes on retired targets, and every figure's source."""
    rows = [f"| {b.name} | `{b.part}` | {b.family} | {b.dsp:,} | {b.bram18:,} | {b.uram:,} | {b.lut:,} | {b.ff:,} "
            f"| {b.clock_mhz:g} | {('`' + b.platform + '`') if b.platform else 'Zynq PS + AXI DMA'} |" for b in boards]
    notes = [f"**{b.name}**: {b.retired}" for b in boards if b.retired]
    sources = [f"- **{b.name}** ({b.description}): resources from {b.source}. Attachment: {b.attachment}. "
               f"Reserved share: {b.reserved_source}." for b in boards]
    return (HEADER + "\n".join(rows) + "\n" + FOOTER + ("\n" + "\n\n".join(notes) + "\n" if notes else "")
            + "\n## Sources\n\n" + "\n".join(sources) + "\n")
