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
            Column("GB/s", "right"), Column("platform / attachment", wrap=True), Column("build -> runtime", wrap=True)]
    rows = [[b.name + (" (retired)" if b.retired else ""), b.part, b.family, fmt_int(b.dsp), fmt_int(b.bram18),
             fmt_int(b.uram), fmt_int(b.lut), fmt_int(b.ff), f"{b.clock_mhz:g}", _gbps(b),
             b.platform or _shell(b), works(b)] for b in boards]
    print_table(cols, rows, title="target boards (device totals; `fpga-accel boards NAME` for details)")
    for b in boards:
        if b.retired:
            print(f"{b.name}: {b.retired}")
    return 0


def _gbps(b) -> str:
    return "-" if b.ddr_gbps is None else f"{b.ddr_gbps:g}"


def _shell(b) -> str:
    """What a board without a Vitis platform attaches to."""
    return "Zynq PS + AXI DMA" if b.ps else f"{b.cloud.title} custom logic" if b.cloud else b.attachment


def works(b) -> str:
    """What `fpga-accel build` runs for the board (its steps and what they leave) and the backend that runs it."""
    if b.family in ("zynq", "zynqmp"):
        return "hls, vivado (.bit + .hwh) -> pynq"
    if b.family == "hdk":
        return "hls (IP), hdk (CL + DCP tarball), afi (S3 + create-fpga-image) -> f2"
    afi = ", afi (.awsxclbin)" if b.cloud else ""
    return f"hls (.xo), link (.xclbin){afi} -> opencl (XRT)"


def _details(b) -> None:
    print(f"{b.name}: {b.description}")
    print(f"  part        {b.part} ({b.family}, {b.dsp_type})")
    print(f"  clock       {b.clock_mhz:g} MHz (default)")
    print(f"  platform    {b.platform or '-'}")
    print(f"  attachment  {b.attachment}")
    print(f"  build       {works(b)}")
    print("  memory      " + ", ".join(f"{m['name']} {m['size_gib']:g} GiB" for m in b.memory)
          + f"; peak {_gbps(b)} GB/s")
    if b.ps:
        print(f"  PS          {b.ps.ip} ({b.ps.master} -> registers, {b.ps.hp} -> DDR); board part {b.board_part}")
    for k, label in (("dsp", "DSP"), ("bram18", "BRAM18"), ("uram", "URAM"), ("lut", "LUT"), ("ff", "FF")):
        print(f"  {label:<11} {fmt_int(b.total(k)):>10} total, {fmt_int(b.available(k)):>10} left "
              f"({b.reserved.get(k, 0.0):.1%} reserved)")
    print(f"  resources   {b.source}")
    print(f"  reserved    {b.reserved_source}")
    for key, text in b.sources.items():
        print(f"  {key:<11} {text}")
    if b.retired:
        print(f"  note        {b.retired}")


HEADER = """# Boards

Generated from the board files by `fpga-accel boards --markdown > docs/boards.md`; do not edit by
hand. One JSON file per board in `fpga_accel/fold/boards/` (package data); `fpga-accel boards
NAME` shows one board in full, `--json` the data. Resource counts are the device totals from the
vendors' product tables; the folder budgets against what remains after the share the shell /
platform (Vitis boards) or the PS glue (Zynq boards) takes (`reserved`).

| board | part | family | DSP | BRAM18 | URAM | LUT | FF | default MHz | memory GB/s | platform / attachment | build steps → runtime backend |
|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|
"""

FOOTER = """
Families: **zynq** / **zynqmp** boards run the AXI-Stream IP `fa_axis` behind an AXI DMA on the
PS (a PYNQ overlay: `.bit` + `.hwh`); **vitis** boards run the m_axi kernel `fa_kernel` in the
platform's dynamic region through XRT; **hdk** boards are custom logic in a cloud shell (aws-f2:
`fa_kernel` as Vivado IP inside the AWS HDK's small shell, run by the `f2` backend over
`libfpga_mgmt`; see [build.md](build.md)). The default clocks are what a build requests (100 MHz on
the Zynq-7000, 200 MHz on Zynq UltraScale+, 250 MHz on F1 and F2, 300 MHz on Alveo); `--clock` changes
them (not on F2: the shell's `clk_main_a0` is fixed at 250 MHz).

`max_clock_mhz` is the ceiling of the part's clock tree from its data sheet (`max_clock_source`:
464 MHz for the Zynq-7000 -1 grade, 667 MHz, the lowest grade's figure, for UltraScale+);
`compile --clock` above it warns. It is not a timing promise: designs close timing far below it.

"memory GB/s" (`ddr_gbps`) is the peak bandwidth of the off-chip memory the accelerator's data
moves through (DDR; HBM on the U50), data rate times bus width; the tiled engine's roofline reads
it. `sources.ddr_gbps` in each board file says where the figure comes from.

Every fact of a board is in its file, and the code reads it there: part, resources, clocks,
memory and bandwidth, the Vitis platform, the Vivado board part and the processing system (`ps`:
the PS IP, its master and HP ports, address windows, PL clock properties; the block design Tcl
and the `.hwh` are written from it), and a cloud flow (`cloud`: `aws-afi` adds the AFI step and
F1's retirement note; `aws-hdk` the HDK custom-logic and AFI steps of F2). To add a board, add one file,
`fpga_accel/fold/boards/NAME.json`, with the keys of `fpga_accel.fold.boards.Board` (a Zynq board
copies `ps` from a board of the same PS and checks it against its board files' preset); nothing
else changes. `tests/test_boards.py` checks that it loads and that this page is current; the
`ps` and `cloud` of a board come from its file only, never from a bundle's manifest.
"""


def markdown(boards) -> str:
    """The boards page: the table, notes on retired targets, and every figure's source."""
    rows = [f"| {b.name} | `{b.part}` | {b.family} | {b.dsp:,} | {b.bram18:,} | {b.uram:,} | {b.lut:,} | {b.ff:,} "
            f"| {b.clock_mhz:g} | {_gbps(b)} | {('`' + b.platform + '`') if b.platform else _shell(b)} | {works(b)} |"
            for b in boards]
    notes = [f"**{b.name}**: {b.retired}" for b in boards if b.retired]
    sources = [f"- **{b.name}** ({b.description}): resources from {b.source}. Attachment: {b.attachment}. "
               f"Reserved share: {b.reserved_source}." + "".join(f" {k}: {v}." for k, v in b.sources.items())
               for b in boards]
    return (HEADER + "\n".join(rows) + "\n" + FOOTER + ("\n" + "\n\n".join(notes) + "\n" if notes else "")
            + "\n## Sources\n\n" + "\n".join(sources) + "\n")
