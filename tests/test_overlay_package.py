"""`fpga-accel package`: a bundle and its bitstream as a pip-installable overlay wheel.

The wheel's structure (PEP 427 RECORD, entry points, deterministic bytes), names made from
untrusted text, refusal of a bundle or bitstream that does not verify; then the wheel installed
by pip into the pynq venvs (``.ci/pynq_env.sh VERSION``: pynq's own Overlay, DMA driver and
``pynq get-notebooks`` on the emulated Zynq) and into the plain old-numpy venv (emulator backend),
each reproducing this environment's emulator outputs bit for bit.
"""
from __future__ import annotations

import ast
import base64
import csv
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from pynq_util import ROOT, compile_axis_bundle, sample_images
from test_old_numpy import VENV as OLD_NUMPY_VENV
from test_pynq_real import VENVS as PYNQ_VENVS
from test_pynq_real import _raw_inputs

from fpga_accel import Session
from fpga_accel.bundle_check import BundleError
from fpga_accel.cli import main
from fpga_accel.package import PackageError, build_wheel, import_name
from fpga_accel.package.templates import notebook_cells


@pytest.fixture(scope="module")
def overlay(tmp_path_factory):
    """mnist_cnn with a Zynq streaming IP, its stand-in .bit and generated .hwh; its raw inputs and
    the emulator's outputs in ``ref.npz``."""
    d = tmp_path_factory.mktemp("overlay")
    b = compile_axis_bundle("mnist_cnn", d / "mnist_cnn.fpga")
    with Session(b, backend="emulator") as s:
        raw = _raw_inputs(s, sample_images("mnist_cnn", 40))
        want = s.run(raw, raw=True)
    np.savez(d / "ref.npz", **{f"in:{k}": v for k, v in raw.items()}, **{f"out:{k}": v for k, v in want.items()})
    return b


def _record_ok(z: zipfile.ZipFile, dist_info: str) -> list[str]:
    rows = list(csv.reader(io.StringIO(z.read(f"{dist_info}/RECORD").decode())))
    bad = []
    for path, digest, size in rows:
        if path == f"{dist_info}/RECORD":
            bad += [] if (digest, size) == ("", "") else [path]
            continue
        data = z.read(path)
        want = "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        bad += [] if (digest, int(size)) == (want, len(data)) else [path]
    assert sorted(r[0] for r in rows) == sorted(z.namelist())
    return bad


def test_the_wheel_holds_bundle_bitstream_driver_and_notebook(overlay, tmp_path):
    pkg = build_wheel(overlay.path, tmp_path / "a")
    assert pkg.name == "mnist_cnn" and pkg.backend == "pynq"
    assert pkg.wheel.name == "mnist_cnn-1.0.0-py3-none-any.whl"
    with zipfile.ZipFile(pkg.wheel) as z:
        names = set(z.namelist())
        for f in ("manifest.json", "weights.npz", "bitstream/fa_design.bit", "bitstream/fa_design.hwh"):
            assert f"mnist_cnn/mnist_cnn.fpga/{f}" in names
        assert not any("/build/" in n for n in names)
        assert _record_ok(z, "mnist_cnn-1.0.0.dist-info") == []
        assert z.read("mnist_cnn-1.0.0.dist-info/entry_points.txt").decode() == \
            "[pynq.notebooks]\nmnist_cnn = mnist_cnn.notebooks\n"
        meta = z.read("mnist_cnn-1.0.0.dist-info/METADATA").decode()
        assert "Name: mnist_cnn\nVersion: 1.0.0\n" in meta and "Requires-Dist: fpga-accel>=" in meta
        assert "Tag: py3-none-any" in z.read("mnist_cnn-1.0.0.dist-info/WHEEL").decode()
        driver = z.read("mnist_cnn/__init__.py").decode()
        ast.parse(driver, feature_version=(3, 10))
        assert "BACKEND = 'pynq'" in driver
        nb = json.loads(z.read("mnist_cnn/notebooks/mnist_cnn.ipynb"))
        assert [c["source"] for c in nb["cells"] if c["cell_type"] == "code"] == notebook_cells("mnist_cnn")
        assert z.read("mnist_cnn/mnist_cnn.fpga/manifest.json") == (overlay.path / "manifest.json").read_bytes()
    again = build_wheel(overlay.path, tmp_path / "b")
    assert again.wheel.read_bytes() == pkg.wheel.read_bytes()  # deterministic


def test_a_bundle_without_bitstream_packages_for_the_emulator(tmp_path):
    import fpga_accel
    from models import data

    b = fpga_accel.compile(data.model_path("mlp"), tmp_path / "mlp.fpga", calib=data.load_calib("mlp"),
                           progress=False)
    pkg = build_wheel(b.path, tmp_path / "w")
    assert pkg.backend == "emulator" and not any(f.startswith("bitstream/") for f in pkg.files)


@pytest.mark.parametrize(("folder", "name"), [
    ("mnist_cnn.fpga", "mnist_cnn"), ("My Net-v2.fpga", "my_net_v2"), ("2x$(rm -rf ~).fpga", "m_2x_rm_rf"),
    ("import.fpga", "import_overlay"), ("numpy.fpga", "numpy_overlay"), ("json.fpga", "json_overlay"),
    ("..fpga", "model"), ("ü.fpga", "model")])
def test_import_names_from_untrusted_folder_names(folder, name):
    assert import_name(Path("/x") / folder) == name
    ast.parse(f"import {name}")


@pytest.mark.parametrize("bad", ["My", "os", "pynq", "a-b", "x" * 41, "1a", "class", "a.b"])
def test_a_bad_explicit_name_is_refused(bad):
    with pytest.raises(PackageError, match="not usable as the package's import name"):
        import_name(Path("/x/y.fpga"), bad)


def test_a_changed_bundle_or_version_is_refused(overlay, tmp_path):
    copy = tmp_path / "copy.fpga"
    shutil.copytree(overlay.path, copy)
    with pytest.raises(PackageError, match="release number"):
        build_wheel(copy, tmp_path / "w", version="1.0; rm")
    with open(copy / "weights.npz", "ab") as f:
        f.write(b"\0")
    with pytest.raises(BundleError, match="weights.npz"):
        build_wheel(copy, tmp_path / "w")
    assert not (tmp_path / "w").exists()


def test_the_command_writes_the_wheel(overlay, tmp_path, capsys):
    assert main(["package", str(overlay.path), "-o", str(tmp_path), "--name", "digits_fpga",
                 "--pkg-version", "2.1"]) == 0
    assert (tmp_path / "digits_fpga-2.1-py3-none-any.whl").is_file()
    out = capsys.readouterr().out
    assert "backend pynq" in out and "fa_design.bit" in out and "--from-package digits_fpga" in out


VENVS = {**{f"pynq-{v}": p for v, p in PYNQ_VENVS.items()}, "plain-old-numpy": OLD_NUMPY_VENV}


@pytest.mark.slow
@pytest.mark.parametrize("venv", sorted(VENVS))
def test_the_wheel_installs_and_runs(overlay, tmp_path, venv):
    python = VENVS[venv] / "bin" / "python"
    if not python.is_file():
        script = f".ci/pynq_env.sh {venv[5:]}" if venv.startswith("pynq-") else ".ci/old_numpy_env.sh"
        pytest.skip(f"no {venv} venv at {VENVS[venv]}; create it with {script}")
    pkg = build_wheel(overlay.path, tmp_path / "dist")
    target = tmp_path / "site"
    done = subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--target",
                           str(target), str(pkg.wheel)], check=False, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    backend = "pynq" if venv.startswith("pynq-") else "emulator"
    env = {k: v for k, v in os.environ.items() if k not in ("XILINX_XRT", "PYNQ_REMOTE_DEVICES", "PYTHONHOME")}
    env["PYTHONPATH"] = os.pathsep.join([str(target), str(ROOT)])  # the installed wheel; this checkout's fpga_accel
    proc = subprocess.run([str(python), str(ROOT / "tests" / "overlay_package_check.py"), pkg.name,
                           str(overlay.path.parent / "ref.npz"), backend, str(tmp_path)],
                          check=False, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    sys.stdout.write(proc.stdout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    assert report["module"] == str(target / "mnist_cnn" / "__init__.py")
    assert report["bundle"] == str(target / "mnist_cnn" / "mnist_cnn.fpga")
    assert report["backend"] == backend and report["default_backend"] == "pynq" and report["bit_exact"]
    assert "mnist_cnn = mnist_cnn.notebooks" in report["notebook_entry_points"]
    assert report["notebook_ran"] == {"logits": [8, 10]}
    if backend == "pynq":
        assert report["pynq"] == venv[5:] and report["numpy"].startswith("1.")
        assert report["get_notebooks_rc"] == 0 and report["delivered"] == ["mnist_cnn/mnist_cnn.ipynb"]
