"""URAM weights on the native host (libfa_host): the small URAM model of test_uram_load.py.

The OpenCL twin built from source (PoCL) keeps its weights as constants, so the library leaves the
load's two arguments out of its argument list there: native == emulator bit for bit. The xclbin path
runs against a stand-in libOpenCL (tests/stand_ins/xrt_opencl.cpp) whose "Xilinx" card is the C
simulation, URAM empty until a run with load = 1: one load at open, then fa-host's results ==
emulator. ``fa-host info`` names the load's arguments; a manifest whose load section does not match
its arguments or files, or a changed blob, is refused by the C++ side."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from test_native_host import built_host, fa_host
from test_uram_load import images, uram_bundle  # noqa: F401 - fixture

import fpga_accel
from fpga_accel.bundle import load_bundle, write_manifest
from fpga_accel.compiler import load_qmodel
from fpga_accel.emulator import run_layers
from fpga_accel.runtime.backends import availability, get_backend


@pytest.fixture(scope="module")
def exe():
    return built_host().parent / "fa-host"


def test_native_twin_equals_the_emulator(exe, uram_bundle):  # noqa: F811
    why = availability(get_backend("native"), uram_bundle)
    if why:
        pytest.skip(why)
    qm = load_qmodel(uram_bundle)
    ins = images(qm, 7, seed=11)
    with fpga_accel.Session(uram_bundle.path, backend="native", batch_size=3) as s:
        assert s.backend.target.endswith("(source)")
        got = s.run(ins, raw=True)
    want = run_layers(qm, ins)
    for t in qm.outputs:
        np.testing.assert_array_equal(got[t.name], want[t.name])


def test_info_names_the_load_arguments(exe, uram_bundle):  # noqa: F811
    r = fa_host(exe, "info", uram_bundle.path)
    assert r.returncode == 0, r.stderr
    size = uram_bundle.manifest["uram_load"]["bytes"]
    wmem = next(line for line in r.stdout.splitlines() if line.strip().startswith("wmem"))
    assert f"URAM weights, {size} bytes" in wmem and "[binary only]" in wmem
    assert "[binary only]" in next(line for line in r.stdout.splitlines() if line.strip().startswith("load "))


@pytest.mark.parametrize("change,words", [
    (lambda m: m["uram_load"].update(file="../x.bin"), "uram_load.file"),
    (lambda m: m["uram_load"].update(bytes=100), "uram_load.bytes"),
    (lambda m: m["uram_load"].update(sha256="0" * 64), "uram_load.sha256 differs"),
    (lambda m: m["kernel"].update(args=[a for a in m["kernel"]["args"] if a["name"] != "load"]), "load flag"),
    (lambda m: m.pop("uram_load"), "no \"uram_load\" entry"),
])
def test_the_host_refuses_a_load_section_that_does_not_match(exe, uram_bundle, tmp_path, change, words):  # noqa: F811
    path = tmp_path / "mlp.fpga"
    shutil.copytree(uram_bundle.path, path)
    m = json.loads((path / "manifest.json").read_text())
    change(m)
    write_manifest(path, m)  # sealed again: the C++ reader's own checks are what refuse it
    r = fa_host(exe, "info", path)
    assert r.returncode != 0 and words in r.stderr, r.stderr


@pytest.fixture(scope="module")
def xrt_card(tmp_path_factory, uram_bundle):  # noqa: F811
    """(the URAM bundle with a stand-in xclbin, the environment that puts the stand-in card under fa-host)."""
    from codegen_util import need_toolchain

    from fpga_accel.emulator.csim_library import build_csim

    need_toolchain()
    d = tmp_path_factory.mktemp("xrt-standin")
    src = Path(__file__).parent / "stand_ins" / "xrt_opencl.cpp"
    built = subprocess.run(["g++", "-std=c++17", "-shared", "-fPIC", "-DCL_TARGET_OPENCL_VERSION=120", "-o",
                            str(d / "libOpenCL.so.1"), str(src), "-ldl"], capture_output=True, text=True, check=False)
    if built.returncode != 0:
        pytest.skip(f"the stand-in OpenCL library does not build here (OpenCL headers?): {built.stderr[-300:]}")
    path = d / "mlp.fpga"
    shutil.copytree(uram_bundle.path, path)
    (path / "bitstream").mkdir()
    (path / "bitstream" / "fa_kernel.xclbin").write_bytes(b"xclbin2\x00 stand-in: the card is the C simulation")
    codes = {"in": "i", "out": "o"}
    kinds = "".join(codes.get(a.get("direction"), "i") if a["name"] not in ("wmem", "load", "n_images") else
                    {"wmem": "w", "load": "l", "n_images": "n"}[a["name"]] for a in uram_bundle.manifest["kernel"]["args"])
    env = {**os.environ, "LD_LIBRARY_PATH": str(d), "FA_STANDIN_CSIM": str(build_csim(uram_bundle, progress=False)),
           "FA_STANDIN_KERNEL_ARGS": kinds, "FA_STANDIN_LOG": str(d / "card.log")}
    return path, env, d / "card.log"


def _run(exe, path, env, x, out):
    return subprocess.run([str(exe), "run", str(path), "--input", str(x), "--output", str(out), "--batch", "4"],
                          capture_output=True, text=True, env=env, timeout=300, check=False)


def test_xclbin_path_loads_once_then_equals_the_emulator(exe, uram_bundle, xrt_card, tmp_path):  # noqa: F811
    path, env, log = xrt_card
    log.unlink(missing_ok=True)
    qm = load_qmodel(uram_bundle)
    ins = images(qm, 10, seed=12)
    (t,), (y,) = qm.inputs, qm.outputs
    np.save(tmp_path / "x.npy", ins[t.name])
    r = _run(exe, path, env, tmp_path / "x.npy", tmp_path / "y.npy")
    assert r.returncode == 0, r.stderr
    assert "stand-in running the C simulation" in r.stdout.splitlines()[0]
    size = uram_bundle.manifest["uram_load"]["bytes"]
    assert log.read_text().splitlines() == [f"load {size}", "run 4", "run 4", "run 2"]
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), run_layers(qm, ins)[y.name])


def test_xclbin_path_refuses_a_changed_blob(exe, xrt_card, tmp_path):
    path, env, log = xrt_card
    dest = tmp_path / "mlp.fpga"
    shutil.copytree(path, dest)
    blob = dest / "weights" / "uram.bin"
    raw = bytearray(blob.read_bytes())
    raw[5] ^= 1
    blob.write_bytes(bytes(raw))
    (t,) = load_qmodel(load_bundle(path, verify=False)).inputs
    np.save(tmp_path / "x.npy", np.zeros((1, *t.shape[1:]), t.qparams.qtype.dtype))
    r = _run(exe, dest, env, tmp_path / "x.npy", tmp_path / "y.npy")
    assert r.returncode != 0 and "uram.bin: sha256 differs" in r.stderr, r.stderr
    del raw[-64:]
    blob.write_bytes(bytes(raw))
    r = _run(exe, dest, env, tmp_path / "x.npy", tmp_path / "y.npy")
    assert r.returncode != 0 and "bytes, the manifest says" in r.stderr, r.stderr
