"""Accept hand edits of a bundle's generated HLS project or build scripts, recorded in its manifest.

After editing files under NAME.fpga/hls/ or NAME.fpga/scripts/ (pragmas, FIFO depths, build
options), `fpga-accel adopt NAME.fpga [FILE ...]` records each edited file in the manifest's
"overrides" (the compiled and the edited sha256, when), updates the file list, seals the manifest
again and prints the lines added and removed per file. Without FILE every differing file of hls/
and scripts/ is adopted. The manifest, weights.npz and the OpenCL kernel cannot be adopted;
symlinks, removed files and new files (unless --add) are refused. `fpga-accel check` then compares
the edited design (C simulation) with the emulator; `report` and `check` list the hand edits.
"""
from __future__ import annotations

import argparse

from ._output import echo

ORDER = 32


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("bundle", metavar="NAME.fpga", help="a compiled bundle whose hls/ or scripts/ you edited")
    p.add_argument("files", nargs="*", metavar="FILE",
                   help="files to adopt (NAME.fpga/hls/... or hls/...; default: every edited file of hls/ and scripts/)")
    p.add_argument("--add", action="store_true", help="also adopt new files under hls/ or scripts/")
    p.add_argument("--diff", action="store_true", help="print the unified diff of each file against the compiled one")


def run(args) -> int:
    from ..overrides import adopt

    res = adopt(args.bundle, args.files, add=args.add)
    if not res.edits:
        echo(f"nothing to adopt: no file of hls/ or scripts/ in {res.path} differs from its manifest")
    for e in res.edits:
        if e.kind == "restored":
            what = "back to its compiled text; no longer a hand edit"
        elif e.added is None:
            what = "lines not counted (its compiled text cannot be regenerated here)"
        else:
            what = f"+{e.added} -{e.removed} lines against the {'empty file' if e.kind == 'added' else 'compiled text'}"
        echo(f"{'adopted':<16}{e.file}: {what}")
        if args.diff and e.diff:
            echo("".join(e.diff).rstrip("\n"), keep_newlines=True)
    if res.edits:
        from ..bundle import load_bundle

        n = len(load_bundle(res.path, verify=False).manifest.get("overrides") or [])
        echo(f"{'manifest':<16}{res.path}/manifest.json sealed again; the bundle carries {n} hand-edited file(s)")
    if res.rebuild:
        echo(f"{'note':<16}the bitstream was built before these edits; rebuild it with `fpga-accel build {res.path}`")
    for f in res.left:
        echo(f"{'still differs':<16}{f} (not adopted; the bundle does not load until it matches)")
    return 0
