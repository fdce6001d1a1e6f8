"""Runs a bundle in dataflow segments on the REAL pynq package, inside the venv of ``.ci/pynq_env.sh``.

    python tests/pynq_real_segments_check.py WORK_DIR

WORK_DIR holds bundles ``*.fpga`` in dataflow segments (each with ``bitstream/fa_design.{bit,hwh}``:
one overlay, an IP per segment) and ``<name>.ref.npz`` (raw inputs ``in:<tensor>``, the emulator's
outputs ``out:<tensor>``, computed outside the venv). pynq's own Overlay, hwh parser, DefaultIP, DMA
driver and PynqBuffer run against the emulated Zynq ``Device`` of tests/fakes/pynq_device.py. Prints
one JSON report; exits non-zero on any mismatch. The repository root must be on PYTHONPATH.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pynq
import pynq.ps
from fakes.pynq_device import EmulatedZynq, PsClocks  # registers the device through _probe_
from pynq.lib.dma import DMA
from pynq.pl_server.device import Device


def check(bundle_dir: Path) -> dict:
    from fpga_accel import Session

    ref = np.load(bundle_dir.with_suffix(".ref.npz"))
    feeds = {k[3:]: ref[k] for k in ref.files if k.startswith("in:")}
    want = {k[4:]: ref[k] for k in ref.files if k.startswith("out:")}
    dev = Device.active_device
    before = getattr(dev, "downloads", 0)
    with Session(str(bundle_dir), backend="pynq", timeout=60) as s:
        got = s.run(feeds, raw=True)
        ol = s.backend.device.overlay
        n = len(s.backend.segments)
        return {"segments": n, "images": int(next(iter(feeds.values())).shape[0]),
                "bit_exact": all(np.array_equal(got[k], want[k]) for k in want),
                "overlay": f"{type(ol).__module__}.{type(ol).__qualname__}",
                "dma_drivers": sorted({type(getattr(ol, f"dma_s{k}_in0")).__module__ for k in range(n)}),
                "pynq_dma": all(isinstance(getattr(ol, f"dma_s{k}_in0"), DMA) for k in range(n)),
                "ips": sorted(k for k in ol.ip_dict if k.startswith("fa_axis_s")),
                "register_maps": {k: ol.ip_dict[k]["registers"]["n_images"]["address_offset"]
                                  for k in ol.ip_dict if k.startswith("fa_axis_s")},
                "violations": list(dev.board.violations), "ap_starts": list(dev.board.started_with),
                "downloads": dev.downloads - before}


def main() -> int:
    pynq.ps.Clocks._real_instance = PsClocks(1500.0)  # the ZynqMP IOPLL the .hwh divides
    dev = Device.active_device
    assert isinstance(dev, EmulatedZynq), f"active device is {dev!r}, not the emulated board"
    report = {"pynq": pynq.__version__, "numpy": np.__version__,
              "bundles": {d.name: check(d) for d in sorted(Path(sys.argv[1]).glob("*.fpga"))}}
    print(json.dumps(report, indent=1, sort_keys=True))
    ok = report["bundles"] and all(e["bit_exact"] and not e["violations"] for e in report["bundles"].values())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
