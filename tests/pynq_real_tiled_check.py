"""Runs the pynq backend on a TILED bundle with the REAL pynq package, inside a venv of ``.ci/pynq_env.sh``.

    python tests/pynq_real_tiled_check.py WORK_DIR

WORK_DIR holds tiled bundles ``*.fpga`` (each with ``bitstream/fa_design.{bit,hwh}``), per bundle
``<name>.ref.npz`` (raw inputs ``in:<tensor>`` and the emulator's outputs ``out:<tensor>``, computed
outside the venv) and ``<name>.engine`` (the path of the engine's C simulation for the bundle's
configuration, built outside the venv, where g++ and the ap_types headers are). pynq's own Overlay,
.hwh parsing, DefaultIP, MMIO and allocate/PynqBuffer drive the emulated Zynq device of
``fakes.pynq_device`` whose engine IP is ``fakes.hw_tiled``. Prints one JSON report; exits non-zero
on any mismatch.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pynq
import pynq.ps
from fakes.pynq_device import EmulatedZynq, PsClocks  # registers the device through _probe_
from pynq.pl_server.device import Device


def check_bundle(bundle_dir: Path) -> dict:
    from fpga_accel import Session
    from fpga_accel.bundle import load_bundle
    from fpga_accel.flow.tiled_hwh import write_tiled_hwh
    from fpga_accel.runtime.pynq_driver import RegisterMapError

    ref = np.load(bundle_dir.with_suffix(".ref.npz"))
    feeds = {k[3:]: ref[k] for k in ref.files if k.startswith("in:")}
    want = {k[4:]: ref[k] for k in ref.files if k.startswith("out:")}
    dev = Device.active_device
    dev.board_options = {"library": bundle_dir.with_suffix(".engine").read_text().strip()}
    with Session(str(bundle_dir), backend="pynq", timeout=60) as s:
        got = s.run(feeds, raw=True)
        ol = s.backend.overlay
        entry = {
            "images": int(next(iter(feeds.values())).shape[0]),
            "bit_exact": all(np.array_equal(got[k], want[k]) for k in want),
            "overlay": f"{type(ol).__module__}.{type(ol).__qualname__}",
            "ip_driver": f"{type(ol.fa_tiled_0).__module__}.{type(ol.fa_tiled_0).__qualname__}",
            "buffer": f"{type(s.backend.tiled._acts).__module__}.{type(s.backend.tiled._acts).__qualname__}",
            "violations": list(dev.board.violations),
            "ap_starts": dev.board.ip.starts,
            "flushes": dev.board.memory.flushes, "invalidates": dev.board.memory.invalidates,
            "register_map": {k: v["address_offset"] for k, v in ol.ip_dict["fa_tiled_0"]["registers"].items()},
        }
    hwh = bundle_dir / "bitstream" / "fa_design.hwh"
    good = hwh.read_text()
    write_tiled_hwh(hwh, load_bundle(bundle_dir).manifest, registers={"weights": 0x30})
    try:
        Session(str(bundle_dir), backend="pynq")
        entry["mismatch_refused"] = False
    except RegisterMapError as e:
        entry["mismatch_refused"] = "'weights' is at 0x30" in str(e)
    finally:
        hwh.write_text(good)
    return entry


def main() -> int:
    work = Path(sys.argv[1])
    pynq.ps.Clocks._real_instance = PsClocks(1000.0)  # the Zynq-7000 IO PLL the .hwh divides
    dev = Device.active_device
    assert isinstance(dev, EmulatedZynq), f"active device is {dev!r}, not the emulated board"
    report = {"pynq": pynq.__version__, "numpy": np.__version__,
              "bundles": {d.name: check_bundle(d) for d in sorted(work.glob("*.fpga"))}}
    print(json.dumps(report, indent=1, sort_keys=True))
    ok = report["bundles"] and all(e["bit_exact"] and e["mismatch_refused"] and not e["violations"]
                                   for e in report["bundles"].values())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
