"""Every example model through the generated OpenCL kernel on PoCL == the emulator, bit for bit;
the kernel's arguments are the manifest's; generation is deterministic."""
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from test_opencl_ops import open_session

import fpga_accel
from fpga_accel.bundle_kernel import kernel_interface
from fpga_accel.codegen.opencl import KERNEL_PATH, generate_opencl
from fpga_accel.compiler import load_qmodel
from fpga_accel.emulator import emulate, run_layers
from fpga_accel.ir.execute import run_graph
from fpga_accel.quant.arith import quantize
from fpga_accel.runtime.backends.opencl import OpenCLBackend

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "models"))
import data

MODELS = ["mnist_cnn", "digits_cnn", "mlp", "resnet_ds", "mnist_cnn_qdq"]
CTYPE = {"int8": "char", "uint8": "uchar", "int16": "short", "uint16": "ushort"}


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    """Each model compiled once for the module (PoCL caches the built kernel by its source)."""
    out = {}
    for name in MODELS:
        calib = None if name.endswith("_qdq") else data.load_calib(name)
        out[name] = fpga_accel.compile(data.model_path(name), tmp_path_factory.mktemp(name) / f"{name}.fpga",
                                       calib=calib, progress=False, generators=[generate_opencl])
    return out


def hardware_inputs(qm, x):
    feeds = {qm.model_inputs[0].name: x}
    pre = run_graph(qm.host_before, feeds) if qm.host_before.nodes else feeds
    return {t.name: quantize(pre[t.name], t.qparams, name=t.name) for t in qm.inputs}


def images_of(name):
    x = data.load_test(name)
    return x[0] if isinstance(x, tuple) else x


@pytest.mark.parametrize("name", MODELS)
def test_model_on_pocl_equals_emulator(bundles, name):
    bundle = bundles[name]
    why = OpenCLBackend.unavailable(bundle)
    if why:
        pytest.skip(why)
    qm = load_qmodel(bundle)
    x = images_of(name)
    assert len(x) >= 100
    q = hardware_inputs(qm, x)
    want = run_layers(qm, q)
    with open_session(bundle, batch_size=256) as s:
        got = s.run(q, raw=True)
        floats = s.run(x)
        timing = s.backend.last_timing
    for t in qm.outputs:
        assert got[t.name].dtype == want[t.name].dtype and got[t.name].shape == want[t.name].shape
        assert np.array_equal(got[t.name], want[t.name]), f"{name}: {int((got[t.name] != want[t.name]).sum())} differ"
    ref = emulate(qm, {qm.model_inputs[0].name: x}).outputs
    for k, v in ref.items():
        assert np.array_equal(floats[k], v)
    assert timing["kernel_ns"] > 0 and timing["total_ns"] >= timing["kernel_ns"]


def kernel_signature(src: str) -> list[tuple[str, str]]:
    """(type, name) of each parameter of __kernel void fa_kernel(...)."""
    m = re.search(r"__kernel\s+void\s+fa_kernel\s*\(([^)]*)\)", src)
    assert m, "no __kernel void fa_kernel(...) in the source"
    params = []
    for p in m.group(1).split(","):
        words = p.replace("*", " * ").split()
        params.append((" ".join(w for w in words[:-1] if w != "restrict"), words[-1]))
    return params


@pytest.mark.parametrize("name", MODELS)
def test_kernel_arguments_are_the_manifest_args(bundles, name):
    bundle = bundles[name]
    args = bundle.manifest["kernel"]["args"]
    assert args == kernel_interface(load_qmodel(bundle))["args"]
    want = []
    for a in args:
        if a["kind"] == "scalar":
            want.append(("uint", a["name"]))
        else:
            const = "const " if a["direction"] == "in" else ""
            want.append((f"__global {const}{CTYPE[a['dtype']]} *", a["name"]))
    assert kernel_signature((bundle.path / KERNEL_PATH).read_text()) == want


def test_generation_is_deterministic(tmp_path):
    name = "resnet_ds"
    srcs = []
    for i in range(2):
        b = fpga_accel.compile(data.model_path(name), tmp_path / f"{i}.fpga", calib=data.load_calib(name),
                               progress=False, generators=[generate_opencl])
        srcs.append((b.path / KERNEL_PATH).read_bytes())
    assert srcs[0] == srcs[1]
    assert b.manifest["files"][KERNEL_PATH]  # hashed with the rest of the bundle
