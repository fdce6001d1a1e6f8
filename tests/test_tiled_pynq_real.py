"""The pynq backend on a tiled bundle with the REAL pynq packages (3.0.1, 3.1.2, 4.0.0), in the venvs of
``.ci/pynq_env.sh`` (see tests/test_pynq_real.py for what each stands for).

The bundles, the emulator's answers and the engine's C simulation (g++ is not in the venvs) are
made here; ``tests/pynq_real_tiled_check.py`` then runs the session in the venv, where pynq's own
Overlay, hwh parsing, DefaultIP, MMIO and PynqBuffer drive the emulated Zynq device whose engine IP
computes with that C simulation on the buffers at the addresses the driver wrote.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from pynq_util import ROOT
from test_pynq_real import BOARDS, VENVS, _raw_inputs, pynq_python
from test_tiled_pynq import _compile, _inputs, place_overlay

from fpga_accel import Session
from fpga_accel.bundle_tiled import load_program
from fpga_accel.tiled.csim import EngineConfig, engine_library

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("version", sorted(VENVS))
def test_tiled_backend_on_real_pynq_matches_emulator(tmp_path, version):
    python = pynq_python(version)
    for name in ("mnist_cnn", "resnet_ds"):
        b = _compile(name, tmp_path / f"{name}.fpga", board=BOARDS[version])
        place_overlay(b)
        with Session(b, backend="emulator") as s:
            raw = _raw_inputs(s, next(iter(_inputs(b, 3).values())))
            want = s.run(raw, raw=True)
        np.savez(tmp_path / f"{name}.ref.npz", **{f"in:{k}": v for k, v in raw.items()},
                 **{f"out:{k}": v for k, v in want.items()})
        lib = engine_library(EngineConfig.of(load_program(b)[0]))
        (tmp_path / f"{name}.engine").write_text(str(lib.path))
    env = {k: v for k, v in os.environ.items() if k not in ("XILINX_XRT", "PYNQ_REMOTE_DEVICES", "PYTHONHOME")}
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.run([str(python), str(ROOT / "tests" / "pynq_real_tiled_check.py"), str(tmp_path)],
                          check=False, capture_output=True, text=True, env=env, timeout=600)
    sys.stdout.write(proc.stdout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    assert report["pynq"] == version and report["numpy"].startswith("1.")
    assert set(report["bundles"]) == {"mnist_cnn.fpga", "resnet_ds.fpga"}
    for entry in report["bundles"].values():
        assert entry["images"] == 3 and entry["bit_exact"] and entry["mismatch_refused"]
        assert entry["overlay"] == "pynq.overlay.Overlay" and entry["ip_driver"] == "pynq.overlay.DefaultIP"
        assert entry["buffer"] == "pynq.buffer.PynqBuffer"
        assert entry["violations"] == [] and entry["ap_starts"] == 3
        assert entry["register_map"]["ap_return"] == 0x10 and entry["register_map"]["desc_1"] == 0x18
