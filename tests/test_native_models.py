"""Every example model through the native host on a CPU OpenCL device: the raw integers equal
the emulator's (``fpga_accel.emulator.run_layers``) bit for bit, on test images and on random
integers over the whole input range, through the library (Session, backend "native") and the
``fa-host`` command."""
from __future__ import annotations

import subprocess

import numpy as np
import pytest
from test_native_host import built_host

import fpga_accel
from fpga_accel.compiler import load_qmodel
from fpga_accel.emulator import run_layers
from fpga_accel.runtime.backends import native
from models import data


@pytest.fixture(scope="module")
def host_library():
    return built_host()


@pytest.fixture(scope="module", params=data.names())
def model(request, tmp_path_factory, host_library):
    from fpga_accel.codegen.opencl import generate_opencl

    name = request.param
    out = tmp_path_factory.mktemp(f"native_{name}") / f"{name}.fpga"
    bundle = fpga_accel.compile(data.model_path(name), out, calib=data.load_calib(name), progress=False,
                                generators=[generate_opencl])
    why = native.NativeBackend.unavailable(bundle)
    if why is not None:
        pytest.skip(why)
    qm = load_qmodel(bundle)
    rng = np.random.default_rng(11)
    with fpga_accel.Session(bundle) as s:
        feeds = s.hardware_inputs(data.load_test(name)[0][:24])
    for t in qm.inputs:
        qt = t.qparams.qtype
        noise = rng.integers(qt.min, qt.max + 1, (9, *t.shape[1:])).astype(qt.dtype)
        feeds[t.name] = np.concatenate([feeds[t.name], noise])
    return name, bundle, feeds, run_layers(qm, feeds)


def test_library_equals_the_emulator(model):
    _, bundle, feeds, want = model
    with fpga_accel.Session(bundle, backend="native", batch_size=16) as s:
        got = s.run(feeds, raw=True)
    assert sorted(got) == sorted(want)
    for k, v in want.items():
        assert got[k].dtype == v.dtype and got[k].shape == v.shape
        np.testing.assert_array_equal(got[k], v, err_msg=k)


def test_command_equals_the_emulator(model, host_library, tmp_path):
    _, bundle, feeds, want = model
    args = [str(host_library.parent / "fa-host"), "run", str(bundle.path), "--quiet", "--batch", "10"]
    for name, x in feeds.items():
        np.save(tmp_path / f"in_{len(args)}.npy", x)
        args += ["--input", f"{name}={tmp_path / f'in_{len(args)}.npy'}"]
    for i, name in enumerate(want):
        args += ["--output", f"{name}={tmp_path / f'out_{i}.npy'}"]
    r = subprocess.run(args, capture_output=True, text=True, timeout=300, check=False)
    assert r.returncode == 0, r.stderr
    for i, (name, v) in enumerate(want.items()):
        np.testing.assert_array_equal(np.load(tmp_path / f"out_{i}.npy"), v, err_msg=name)
