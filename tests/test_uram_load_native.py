"""URAM weights on the native host (libfa_host on PoCL): the small URAM model of test_uram_load.py.

The OpenCL twin built from source keeps its weights as constants, so the library leaves the load's
two arguments out of its argument list there: native == emulator bit for bit. ``fa-host info`` names
the load's arguments; a manifest whose load section does not match its arguments or files is refused
by the C++ reader (the Python bundle check refuses the same, see test_uram_load.py)."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from test_native_host import built_host, fa_host
from test_uram_load import images, uram_bundle  # noqa: F401 - fixture

import fpga_accel
from fpga_accel.bundle import write_manifest
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
