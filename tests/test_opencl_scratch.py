"""The OpenCL C model never blocks a compile: intermediates beyond the private-memory limit go to a
global scratch buffer the host allocates (PoCL run == emulator, bit for bit), and a model the OpenCL
model cannot express is compiled without one, the manifest and the backend saying why."""
import numpy as np
from codegen_util import assert_opencl_equals_emulator
from onnx import helper
from test_opencl_ops import make_model

import fpga_accel
from fpga_accel.cli.report import print_report
from fpga_accel.codegen import opencl
from fpga_accel.codegen.opencl import KERNEL_PATH, PRIVATE_LIMIT, SCRATCH_ARG, scratch_bytes
from fpga_accel.compiler import load_qmodel
from fpga_accel.runtime.backends.native import NativeBackend
from fpga_accel.runtime.backends.opencl import OpenCLBackend

SIDE = 96  # a 64-channel 96x96 int8 map is 589,824 bytes: two of them exceed 1 MB


def big_model():
    """Conv 3→64 (3x3) → Relu → Conv 64→64 (1x1) → Relu → GlobalAveragePool: 1.18 MB of intermediates."""
    r = np.random.default_rng(3)
    nodes = [helper.make_node("Conv", ["x", "w0", "b0"], ["c0"], name="conv0", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c0"], ["r0"], name="relu0"),
             helper.make_node("Conv", ["r0", "w1", "b1"], ["c1"], name="conv1"),
             helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
             helper.make_node("GlobalAveragePool", ["r1"], ["y"], name="gap")]
    inits = {"w0": r.standard_normal((64, 3, 3, 3)) * 0.3, "b0": r.standard_normal(64) * 0.1,
             "w1": r.standard_normal((64, 64, 1, 1)) * 0.2, "b1": r.standard_normal(64) * 0.1}
    return make_model(nodes, {"x": [3, SIDE, SIDE]}, inits)


def compile_big(tmp_path, **kw):
    calib = np.random.default_rng(4).standard_normal((4, 3, SIDE, SIDE)).astype(np.float32)
    return fpga_accel.compile(big_model(), tmp_path / "big.fpga", calib=calib, progress=False, **kw)


def test_large_intermediates_go_to_global_scratch_and_pocl_equals_the_emulator(tmp_path):
    bundle = compile_big(tmp_path, board="alveo-u250")  # every generator: HLS, OpenCL, scripts
    qm = load_qmodel(bundle)
    sizes = {t: int(np.prod(qm.tensors[t].shape)) * qm.tensors[t].qparams.qtype.dtype.itemsize
             for t in opencl.kernel.intermediates(qm, bundle.manifest["kernel"]["args"])}
    assert sum(sizes.values()) > PRIVATE_LIMIT  # the case the private arrays cannot hold
    scratch = bundle.manifest["opencl"]["scratch"]
    assert scratch["arg"] == SCRATCH_ARG
    assert scratch["bytes_per_work_item"] == scratch_bytes(qm, bundle.manifest["kernel"]["args"])
    assert max(sizes.values()) <= scratch["bytes_per_work_item"] < sum(sizes.values())
    src = bundle.read(KERNEL_PATH).decode()
    assert f"__global uchar* restrict {SCRATCH_ARG})" in src
    assert (bundle.path / "hls").is_dir()  # the HLS kernel was generated as usual
    # the native host does not allocate the scratch argument, and says so once it is built
    why_native = NativeBackend.unavailable(bundle)
    assert "global scratch buffer" in why_native or "native host is not built" in why_native

    want = assert_opencl_equals_emulator(bundle, seed=5)
    assert any(np.any(want[t.name] != want[t.name].flat[0]) for t in qm.outputs)  # not a constant output


def test_a_model_without_an_opencl_model_still_compiles_and_says_so(tmp_path, monkeypatch, capsys):
    monkeypatch.delitem(opencl.EMITTERS, "GlobalAveragePool")
    bundle = compile_big(tmp_path, board="alveo-u250")
    note = bundle.manifest["opencl"]["skipped"]
    assert "no OpenCL model" in note and "gap" in note and "no OpenCL emitter" in note
    assert not (bundle.path / KERNEL_PATH).exists()
    assert (bundle.path / "hls").is_dir()
    why = OpenCLBackend.unavailable(bundle)
    assert why.startswith("this bundle has no OpenCL model") and "gap" in why
    print_report(bundle.manifest)
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("OpenCL model"))
    assert line.startswith("OpenCL model    none in this bundle: no OpenCL model:") and "gap" in line
