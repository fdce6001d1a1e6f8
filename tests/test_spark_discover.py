"""The Spark discovery script: emulator slots from the environment, fake XRT and PYNQ device
trees (a GPU's render node and a lone UIO device are not FPGAs), xbutil's listing, the shell
wrapper Spark runs printing ResourceInformation JSON, and a script that reports instead of
failing. Needs neither pyspark nor Java."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fpga_accel.spark import discover

SCRIPT = Path(discover.__file__).with_name("discover-fpga.sh")


def test_emulator_slots_from_the_environment(tmp_path):
    assert discover.discover(tmp_path, env={"FPGA_ACCEL_SPARK_SLOTS": "3"}) == ["0", "1", "2"]
    assert discover.discover(tmp_path, env={"FPGA_ACCEL_SPARK_SLOTS": "0"}) == []
    with pytest.raises(ValueError, match="whole number"):
        discover.discover(tmp_path, env={"FPGA_ACCEL_SPARK_SLOTS": "-1"})
    with pytest.raises(ValueError, match="whole number"):
        discover.discover(tmp_path, env={"FPGA_ACCEL_SPARK_SLOTS": "99999"})


def test_a_host_without_devices_has_none(tmp_path):
    assert discover.discover(tmp_path, env={}) == []


def render_node(root, name: str, driver: str) -> None:
    (root / "dev" / "dri").mkdir(parents=True, exist_ok=True)
    (root / "dev" / "dri" / name).touch()
    dev = root / "sys" / "class" / "drm" / name / "device"
    dev.mkdir(parents=True)
    os.symlink(f"../../../bus/pci/drivers/{driver}", dev / "driver")


def test_xocl_render_nodes_count_and_a_gpu_does_not(tmp_path):
    render_node(tmp_path, "renderD128", "i915")
    render_node(tmp_path, "renderD129", "xocl")
    render_node(tmp_path, "renderD130", "xocl")
    assert discover.discover(tmp_path, env={}) == ["0", "1"]


def test_xclmgmt_and_zynq_boards(tmp_path):
    (tmp_path / "dev").mkdir()
    (tmp_path / "dev" / "xclmgmt1024").touch()
    assert discover.discover(tmp_path, env={}) == ["0"]
    board = tmp_path / "pynq"
    (board / "sys" / "class" / "fpga_manager" / "fpga0").mkdir(parents=True)
    (board / "dev").mkdir()
    (board / "dev" / "uio0").touch()
    assert discover.discover(board, env={}) == ["0"]
    old = tmp_path / "pynq26"
    (old / "dev").mkdir(parents=True)
    (old / "dev" / "xlnk").touch()
    assert discover.discover(old, env={}) == ["0"]
    (tmp_path / "uio_only" / "dev").mkdir(parents=True)
    (tmp_path / "uio_only" / "dev" / "uio0").touch()  # a UIO device alone is not an FPGA
    assert discover.discover(tmp_path / "uio_only", env={}) == []


def test_xbutil_examine_lists_the_cards(tmp_path):
    xbutil = tmp_path / "xbutil"
    xbutil.write_text("#!/bin/sh\necho 'Devices present'\necho 'BDF             :  Shell'\n"
                      "echo '[0000:3b:00.1]  :  xilinx_u250_gen3x16_xdma_shell_4_1  user(inst=128)'\n"
                      "echo '[0000:d8:00.1]  :  xilinx_u250_gen3x16_xdma_shell_4_1  user(inst=129)'\n")
    xbutil.chmod(0o755)
    assert discover.discover(tmp_path, env={}, xbutil=str(xbutil)) == ["0", "1"]
    broken = tmp_path / "broken"
    broken.write_text("#!/bin/sh\nexit 3\n")
    broken.chmod(0o755)
    assert discover.discover(tmp_path, env={}, xbutil=str(broken)) == []


def run_script(env_slots: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, FPGA_ACCEL_SPARK_SLOTS=env_slots, FPGA_ACCEL_PYTHON=sys.executable)
    return subprocess.run([str(SCRIPT)], check=False, capture_output=True, text=True, env=env, timeout=60)


def test_the_shell_wrapper_prints_resource_information_json():
    assert os.access(SCRIPT, os.X_OK)
    got = run_script("2")
    assert got.returncode == 0, got.stderr
    lines = got.stdout.strip().splitlines()
    assert len(lines) == 1
    info = json.loads(lines[0])
    assert info == {"name": "fpga", "addresses": ["0", "1"]}
    assert all(isinstance(a, str) for a in info["addresses"])


def test_the_script_never_fails_it_reports_nothing_found():
    got = run_script("lots")
    assert got.returncode == 0
    assert json.loads(got.stdout) == {"name": "fpga", "addresses": []}
    assert "FPGA_ACCEL_SPARK_SLOTS must be a whole number" in got.stderr


def test_script_path_option_names_the_wrapper(capsys):
    assert discover.main(["--script-path"]) == 0
    assert capsys.readouterr().out.strip() == str(SCRIPT)


@pytest.mark.slow
def test_the_wheel_ships_the_executable_wrapper_and_the_command(tmp_path):
    import zipfile

    root = SCRIPT.parents[2]
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", str(root), "--no-deps", "--no-build-isolation", "-q",
                        "-w", str(tmp_path)], check=False, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    (wheel,) = tmp_path.glob("fpga_accel-*.whl")
    with zipfile.ZipFile(wheel) as z:
        mode = z.getinfo("fpga_accel/spark/discover-fpga.sh").external_attr >> 16
        entry = next(n for n in z.namelist() if n.endswith("entry_points.txt"))
        assert mode & 0o111 == 0o111  # Spark runs the discoveryScript directly
        assert "fpga-accel-spark-discover = fpga_accel.spark.discover:main" in z.read(entry).decode()
