"""The fa-host command under valgrind's memcheck on a small model: no invalid access and no
leaked block (definite or possible) from the host's own code. Suppressions
(host/valgrind/opencl.supp) cover only PoCL / LLVM internals and glibc's loader loading them."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from test_native_host import built_host

import fpga_accel
from fpga_accel.compiler import load_qmodel
from fpga_accel.emulator import run_layers
from fpga_accel.runtime.backends import native
from models import data

MODEL = "digits_cnn"  # 8x8 images: the smallest kernel
SUPPRESSIONS = Path(__file__).resolve().parents[1] / "host" / "valgrind" / "opencl.supp"


@pytest.fixture(scope="module")
def host_library():
    return built_host()


@pytest.mark.slow
def test_fa_host_is_clean_under_memcheck(host_library, tmp_path):
    from fpga_accel.codegen.opencl import generate_opencl

    valgrind = shutil.which("valgrind")
    if valgrind is None:
        pytest.skip("valgrind is not installed (Debian: apt-get install valgrind)")
    bundle = fpga_accel.compile(data.model_path(MODEL), tmp_path / f"{MODEL}.fpga", calib=data.load_calib(MODEL),
                                progress=False, generators=[generate_opencl])
    why = native.NativeBackend.unavailable(bundle)
    if why is not None:
        pytest.skip(why)
    qm = load_qmodel(bundle)
    with fpga_accel.Session(bundle) as s:
        feeds = s.hardware_inputs(data.load_test(MODEL)[0][:10])
    (_, x), = feeds.items()
    np.save(tmp_path / "x.npy", x)
    cmd = [valgrind, "--error-exitcode=99", "--leak-check=full", "--errors-for-leak-kinds=definite,possible",
           "--num-callers=40", f"--suppressions={SUPPRESSIONS}", str(host_library.parent / "fa-host"), "run",
           str(bundle.path), "--input", str(tmp_path / "x.npy"), "--output", str(tmp_path / "y.npy"),
           "--batch", "4", "--repeat", "2"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=False)
    tail = "\n".join(r.stderr.splitlines()[-60:])
    assert r.returncode == 0, f"valgrind reported errors (exit {r.returncode}):\n{tail}"
    assert "ERROR SUMMARY: 0 errors" in r.stderr
    (_, want), = run_layers(qm, feeds).items()
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), want)
