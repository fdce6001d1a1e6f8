"""Package a bundle and its bitstream as a pip-installable overlay wheel with a driver module.

`pip install DIR/NAME-1.0.0-py3-none-any.whl` on the board, then `import NAME; NAME.Session()`;
`pynq get-notebooks --from-package NAME` delivers its example notebook.
"""
from __future__ import annotations

import argparse

from ._output import echo

ORDER = 27


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("bundle", metavar="NAME.fpga", help="the bundle (with bitstream/ after `fpga-accel build`)")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="directory to write the wheel to")
    p.add_argument("--name", help="import name of the package (default: the bundle's name as an identifier)")
    p.add_argument("--pkg-version", default="1.0.0", metavar="X.Y.Z", help="the wheel's version (default 1.0.0)")


def run(args) -> int:
    from ..package import build_wheel

    pkg = build_wheel(args.bundle, args.output, name=args.name, version=args.pkg_version)
    binaries = [f for f in pkg.files if f.startswith("bitstream/")]
    echo(f"wrote {pkg.wheel}")
    echo(f"  import {pkg.name}; {pkg.name}.Session()  -> backend {pkg.backend}; "
         + (f"bitstream files: {', '.join(b.split('/', 1)[1] for b in binaries)}" if binaries else "no bitstream"))
    echo(f"  notebook: pynq get-notebooks --from-package {pkg.name}")
    return 0
