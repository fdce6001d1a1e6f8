"""The README's main command, `fpga-accel demo`: compile → emulate → C-simulate → report."""
import json
import re
import shutil

import pytest

from fpga_accel.cli import main

from conftest import ROOT

pytestmark = pytest.mark.skipif(shutil.which("g++") is None, reason="C-simulation needs g++")


def test_demo_runs_the_whole_flow_on_mnist(tmp_path, capsys):
    code = main(["demo", "-o", str(tmp_path), "--csim-images", "60"])
    out = capsys.readouterr().out
    assert code == 0, out
    registry = json.loads((ROOT / "models" / "registry.json").read_text())["models"]["mnist_cnn"]
    float_row = re.search(r"^float \(onnxruntime\) +([\d.]+)%", out, re.MULTILINE)
    assert float(float_row.group(1)) == pytest.approx(registry["test_accuracy"], abs=0.005)
    assert re.search(r"^integer emulator +[\d.]+% +[\d.]+% +1000 ", out, re.MULTILINE)
    assert re.search(r"^C-simulation \(g\+\+\) +[\d.]+% +[\d.]+% +60 ", out, re.MULTILINE)
    assert "C-simulation vs emulator: bit for bit identical (600 output integers of 60 images compared)" in out
    assert re.search(r"^throughput +[\d,.]+ frames/s", out, re.MULTILINE)
    bundle = tmp_path / "mnist_cnn.fpga"
    assert (bundle / "manifest.json").is_file() and (bundle / "hls" / "run_hls.tcl").is_file()
    assert f"bundle          {bundle}" in out


def test_demo_names_the_known_models(tmp_path, capsys):
    assert main(["demo", "--model", "nope", "-o", str(tmp_path)]) == 2
    assert "unknown example model 'nope'; models/ has" in capsys.readouterr().err
