"""A bundle of several dataflow segments on the native host (libfa_host, built with CMake, on a CPU
OpenCL device): each segment's kernel opened from the model's bundle by ``fa_host_open_segment``,
the host steps between them in Python. Native == emulator == the whole quantised model's integer
reference, bit for bit, on the two graphs of tests/test_dataflow_segments.py and an LRN network whose
two LRN layers are sent to the host (three segments); the C API refuses what does not belong."""
from __future__ import annotations

import ctypes
import json
import shutil
import subprocess

import numpy as np
import pytest
from test_dataflow_segments import forced, images, softmax  # noqa: F401 - fixtures
from test_lrn_network import lrn_model
from test_native_host import built_host

import fpga_accel
from fpga_accel.bundle_model import load_qmodel
from fpga_accel.emulator import run_layers
from fpga_accel.runtime.backends import availability, get_backend, native
from fpga_accel.runtime.session import Session


@pytest.fixture(scope="module")
def lib():
    built_host()
    return native.load_library()


@pytest.fixture(scope="module")
def lrn(tmp_path_factory):
    calib = (2 * np.random.default_rng(22).standard_normal((32, 3, 10, 10))).astype(np.float32)
    b = fpga_accel.compile(lrn_model(), tmp_path_factory.mktemp("lrnseg") / "l.fpga", board="zcu104", calib=calib,
                           progress=False, engine="dataflow", host_layers=["norm1", "norm2"])
    return b, calib


def _native_equals_reference(b, x):
    why = availability(get_backend("native"), b)
    if why:
        pytest.skip(why)
    qm = load_qmodel(b)
    with Session(b, backend="emulator") as s:
        q = s.hardware_inputs(x)
        emu = s.run(q, raw=True)
    with Session(b, backend="native", batch_size=3) as s:  # several batches through every segment
        assert [seg.target.endswith("(source)") for seg in s.backend.segments] == [True] * len(s.backend.segments)
        got = s.run(q, raw=True)
    every = run_layers(qm, q, threads=1, fuse=False)
    for t in qm.outputs:
        np.testing.assert_array_equal(got[t.name], every[t.name])
        np.testing.assert_array_equal(got[t.name], emu[t.name])
    return s


def test_softmax_segments_native_equals_the_emulator(lib, softmax):  # noqa: F811
    s = _native_equals_reference(softmax[1], images(7, 101))
    assert s.stats.backend_calls == 3 and s.backend.segments == []  # every segment's handle released


def test_forced_segments_native_equals_the_emulator(lib, forced):  # noqa: F811
    _native_equals_reference(forced[1], images(4, 102))


def test_lrn_network_in_three_segments_native_equals_the_emulator(lib, lrn):
    b, calib = lrn
    assert len(b.manifest["segments"]["list"]) == 3
    assert [s for s in b.manifest["segments"]["steps"] if "host" in s] == [{"host": "norm1"}, {"host": "norm2"}]
    _native_equals_reference(b, calib[:5])


# --- the C interface -------------------------------------------------------------------------------
def _open(lib, path, k):
    err = ctypes.create_string_buffer(native.ERR_LEN)
    h = lib.fa_host_open_segment(str(path).encode(), k, None, None, 0.0, err, native.ERR_LEN)
    if h:
        lib.fa_host_close(h)
    return h, err.value.decode()


def test_the_c_interface_opens_each_segment_by_index_and_no_other(lib, softmax):  # noqa: F811
    b = softmax[1]
    if availability(get_backend("native"), b):
        pytest.skip(availability(get_backend("native"), b))
    assert lib.fa_host_abi_version() == native.ABI_VERSION == 3
    for k in (0, 1):
        h, err = _open(lib, b.path, k)
        assert h and not err
    h, err = _open(lib, b.path, 2)
    assert not h and "the bundle has 2 segments; there is no segment 2" in err
    h, err = _open(lib, b.path / "segments" / "0", 0)  # a one-part bundle
    assert not h and "is one dataflow design, not several segments; open it with fa_host_open" in err
    err = ctypes.create_string_buffer(native.ERR_LEN)
    assert not lib.fa_host_open(str(b.path).encode(), None, None, 0.0, err, native.ERR_LEN)
    assert "holds 2 dataflow segments with host steps between them" in err.value.decode()


def test_a_segment_changed_after_compiling_is_refused(lib, softmax, tmp_path):  # noqa: F811
    """Segment 1's manifest resealed after an edit: its own seal holds, the model's file list does not."""
    from fpga_accel.bundle import write_manifest

    b = softmax[1]
    if availability(get_backend("native"), b):
        pytest.skip(availability(get_backend("native"), b))
    dest = tmp_path / "t.fpga"
    shutil.copytree(b.path, dest)
    m = json.loads((dest / "segments/1/manifest.json").read_text())
    for k in ("manifest_sha256", "manifest_hmac"):
        m.pop(k)
    m["kernel"]["name"] = "fa_kernel_s0"
    write_manifest(dest / "segments/1", m)
    assert _open(lib, dest, 0)[0]
    h, err = _open(lib, dest, 1)
    assert not h and "segments/1/manifest.json: sha256" in err and "the bundle was changed after compiling" in err


def test_the_command_names_the_segments(lib, softmax, tmp_path):  # noqa: F811
    np.save(tmp_path / "x.npy", images(1, 103))
    exe = native.executable_path()
    r = subprocess.run([str(exe), "run", str(softmax[1].path), "--input", str(tmp_path / "x.npy"), "--output",
                        str(tmp_path / "y.npy")], capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode != 0 and "holds 2 dataflow segments with host steps between them" in r.stderr
