"""The pynq backend on the REAL pynq packages (3.0.1, 3.1.2, 4.0.0), in the venvs ``.ci/pynq_env.sh VERSION``
creates (3.1.2 on Python 3.10 with numpy 1.21.5 as on the Pynq-Z2 image, 4.0.0 on Python 3.12 with
numpy 1.26.4 as on PYNQ 4.0, when those interpreters exist).

pynq needs numpy < 2, so it cannot live in the dev environment: this test compiles the bundles
and computes the emulator's answers here, then runs ``tests/pynq_real_check.py`` in the venv.
There pynq's own Overlay, hwh parsing (pynqmetadata), DefaultIP, MMIO, allocate/PynqBuffer and
DMA driver run against an emulated Zynq ``Device`` serving the register/DMA model.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from pynq_util import ROOT, compile_axis_bundle, sample_images

from fpga_accel import Session
from fpga_accel.ir.execute import run_graph
from fpga_accel.quant.arith import quantize

CACHE = Path.home() / ".cache" / "fpga-accel"
#: pynq release -> its venv (.ci/pynq_env.sh VERSION); FPGA_ACCEL_PYNQ_VENV overrides the 3.0.1 one
VENVS = {"3.0.1": Path(os.environ.get("FPGA_ACCEL_PYNQ_VENV", CACHE / "pynq-venv")),
         "3.1.2": CACHE / "pynq-3.1.2-venv", "4.0.0": CACHE / "pynq-4.0.0-venv"}
#: the board each release's image runs: PYNQ 4.0 has no Zynq-7000 image (and pynq 4.0.0 reads the PL
#: clock rate from the ZynqMP parameter PSU__CRL_APB__PL0_REF_CTRL__ACT_FREQMHZ, which a Zynq-7000
#: handoff does not have: Overlay.download would ask for a clock of None MHz)
BOARDS = {"3.0.1": "pynq-z2", "3.1.2": "pynq-z2", "4.0.0": "kv260"}

pytestmark = pytest.mark.slow


def _raw_inputs(session, x):
    qm = session.qmodel
    feeds = {session.input_names[0]: x}
    pre = run_graph(qm.host_before, feeds) if qm.host_before.nodes else feeds
    return {t.name: quantize(pre[t.name], t.qparams, name=t.name) for t in qm.inputs}


def pynq_python(version: str) -> Path:
    """The venv interpreter for pynq ``version``; skips the test when the venv is absent."""
    python = VENVS[version] / "bin" / "python"
    if not python.is_file():
        pytest.skip(f"no pynq {version} venv at {VENVS[version]}; create it with .ci/pynq_env.sh {version}")
    return python


@pytest.mark.parametrize("version", sorted(VENVS))
def test_backend_on_real_pynq_matches_emulator(tmp_path, version):
    python = pynq_python(version)
    # the third: 7 and 5 elements per beat, 56/40-bit streams on 64-bit DMAs through width converters
    for name, model, lanes in (("mnist_cnn", "mnist_cnn", None), ("resnet_ds", "resnet_ds", None),
                               ("mnist_lanes", "mnist_cnn", {0: 7, 1: 5})):
        b = compile_axis_bundle(model, tmp_path / f"{name}.fpga", lanes=lanes, board=BOARDS[version])
        with Session(b, backend="emulator") as s:
            raw = _raw_inputs(s, sample_images(model, 100))
            want = s.run(raw, raw=True)
        np.savez(tmp_path / f"{name}.ref.npz", **{f"in:{k}": v for k, v in raw.items()},
                 **{f"out:{k}": v for k, v in want.items()})
    env = {k: v for k, v in os.environ.items() if k not in ("XILINX_XRT", "PYNQ_REMOTE_DEVICES", "PYTHONHOME")}
    env["PYTHONPATH"] = str(ROOT)  # this checkout's fpga_accel, ahead of the venv's installed copy
    proc = subprocess.run([str(python), str(ROOT / "tests" / "pynq_real_check.py"), str(tmp_path)],
                          check=False, capture_output=True, text=True, env=env, timeout=600)
    sys.stdout.write(proc.stdout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    assert report["pynq"] == version and report["numpy"].startswith("1.")
    assert set(report["bundles"]) == {"mnist_cnn.fpga", "resnet_ds.fpga", "mnist_lanes.fpga"}
    for entry in report["bundles"].values():
        assert entry["images"] == 100 and entry["bit_exact"]
        assert entry["overlay"] == "pynq.overlay.Overlay"
        assert entry["ip_driver"] == "pynq.overlay.DefaultIP"
        assert entry["dma_driver"] == "pynq.lib.dma.DMA"
        assert entry["buffer"] == "pynq.buffer.PynqBuffer"
        assert entry["parser"] == ("pynqmetadata.views.runtime" if version >= "4" else "pynq.metadata") \
            + ".runtime_metadata_parser.RuntimeMetadataParser"  # pynq 4.0 moved it into pynqmetadata
        assert entry["violations"] == [] and entry["ap_starts"] == [100]
        assert entry["pynq_dma_api_bit_exact"] and entry["legacy_parser_agrees"] and entry["mismatch_refused"]
        # pynq-z2: 100 MHz asked and met; kv260: 200 MHz asked, 1500 MHz IOPLL / 8 = 187.5 recorded as met
        assert entry["pl_clock_mhz"] == {"pynq-z2": 100.0, "kv260": 187.5}[BOARDS[version]]
        assert entry["register_map"]["n_images"] == 0x10
    zu = report["zynqmp_handoff"]
    assert zu["fa_axis_0_addr"] == "0xa0000000" and zu["n_images"] == 0x10 and zu["legacy_parser_agrees"]
    assert zu["pl0_clock"] == {"enable": 1, "divisor0": 15, "divisor1": 1}  # 1500 MHz IOPLL / 15
