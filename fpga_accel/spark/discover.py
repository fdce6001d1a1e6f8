"""Spark's resource discovery script for FPGAs: prints ``{"name": "fpga", "addresses": [...]}``.

Spark runs the script named by ``spark.{worker,executor}.resource.fpga.discoveryScript`` on each
worker and reads one line of ResourceInformation JSON. The addresses are device indices
``"0".."N-1"``: the value a task's Session gets in ``FPGA_ACCEL_DEVICE_INDEX`` (which of several
identical cards a backend opens). What counts as a device, first match wins:

1. ``FPGA_ACCEL_SPARK_SLOTS=N``: N emulator / csim slots, for clusters without boards (tests, CI).
2. Alveo / XRT: the user functions listed by ``xbutil examine`` (PCIe BDFs), else the
   ``/dev/dri/renderD*`` nodes whose driver is ``xocl`` (a GPU's render nodes are not counted),
   else the management functions ``/dev/xclmgmt*``.
3. Zynq / PYNQ: ``/dev/xlnk`` (PYNQ up to 2.6) or an entry of ``/sys/class/fpga_manager``
   (PYNQ 2.7+, whose PL devices appear as ``/dev/uio*``): one device, the board's fabric.

A host with none of them prints an empty list. The script never fails: whatever goes wrong is
told on stderr and the list is empty, so Spark reports too few devices rather than a crash.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

SLOTS_ENV = "FPGA_ACCEL_SPARK_SLOTS"
#: more slots than any host has cards; bounds what an environment variable can ask for
MAX_SLOTS = 1024
BDF = re.compile(r"\[([0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7])\]")
XBUTIL_TIMEOUT = 20.0  # seconds: a wedged driver must not hold up the executor's start


def emulator_slots(value: str) -> int:
    """The slot count of ``FPGA_ACCEL_SPARK_SLOTS`` (a whole number 0..MAX_SLOTS)."""
    if not value.strip().isdigit() or int(value) > MAX_SLOTS:
        raise ValueError(f"{SLOTS_ENV} must be a whole number 0..{MAX_SLOTS}, got {value!r}")
    return int(value)


def xrt_devices(root: Path, xbutil: str | None) -> int:
    """Alveo cards seen by XRT: ``xbutil examine``'s BDFs, else xocl render nodes, else xclmgmt."""
    if xbutil:
        try:
            out = subprocess.run([xbutil, "examine"], capture_output=True, text=True, timeout=XBUTIL_TIMEOUT,
                                 check=False).stdout
            found = sorted(set(BDF.findall(out)))
            if found:
                return len(found)
        except (OSError, subprocess.SubprocessError) as e:
            print(f"fpga discovery: {xbutil} examine failed ({e}); looking in /dev", file=sys.stderr)
    render = [p for p in sorted((root / "dev" / "dri").glob("renderD*"))
              if _driver(root / "sys" / "class" / "drm" / p.name / "device") == "xocl"]
    if render:
        return len(render)
    return len(list((root / "dev").glob("xclmgmt*")))


def zynq_devices(root: Path) -> int:
    """1 on a Zynq / PYNQ board (its programmable logic), else 0."""
    managers = (root / "sys" / "class" / "fpga_manager")
    if (root / "dev" / "xlnk").exists() or (managers.is_dir() and any(managers.iterdir())):
        return 1
    return 0


def _driver(device: Path) -> str:
    link = device / "driver"
    try:
        return Path(os.readlink(link)).name
    except OSError:
        return ""


def discover(root: Path = Path("/"), env: dict | None = None, xbutil: str | None = None) -> list[str]:
    """The device addresses of this host (``root``: where ``/dev`` and ``/sys`` are looked up)."""
    env = os.environ if env is None else env
    if env.get(SLOTS_ENV, "").strip():
        n = emulator_slots(env[SLOTS_ENV])
    else:
        n = xrt_devices(root, xbutil) or zynq_devices(root)
    return [str(i) for i in range(n)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m fpga_accel.spark.discover",
                                 description="Print this host's FPGA devices as Spark ResourceInformation JSON.")
    ap.add_argument("--name", default="fpga", help="the resource name (default: fpga)")
    ap.add_argument("--script-path", action="store_true",
                    help="print the path of the shell wrapper to give Spark as discoveryScript, and exit")
    args = ap.parse_args(argv)
    if args.script_path:
        print(Path(__file__).with_name("discover-fpga.sh"))
        return 0
    try:
        addresses = discover(xbutil=shutil.which("xbutil"))
    except Exception as e:  # noqa: BLE001 - a discovery script reports, it does not crash the executor
        print(f"fpga discovery failed: {type(e).__name__}: {e}", file=sys.stderr)
        addresses = []
    print(json.dumps({"name": args.name, "addresses": addresses}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
