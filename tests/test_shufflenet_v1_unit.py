"""A ShuffleNet v1 unit (grouped 1x1 conv in 4 groups → channel shuffle → depthwise 3x3 → grouped
1x1 conv, residual add) goes on the chip whole: both grouped convolutions lower to grouped_mvau, the
C simulation of the compiled bundle equals the emulator bit for bit, the OpenCL model (PoCL) too,
and the emulator stays within quantisation tolerance of onnxruntime on the float model."""
import numpy as np
import onnxruntime as ort
import pytest
from codegen_util import Csim, image_model, need_toolchain
from onnx import helper

import fpga_accel
from fpga_accel.compiler import load_qmodel
from fpga_accel.emulator import run_layers
from fpga_accel.runtime.backends.opencl import OpenCLBackend
from fpga_accel.runtime.session import Session

C, G, HW, CLASSES = 16, 4, 8, 10


def unit_model():
    r = np.random.default_rng(21)
    w = lambda *s: (r.standard_normal(s) * (2.0 / np.prod(s[1:])) ** 0.5).astype(np.float32)
    b = lambda n: (r.standard_normal(n) * 0.1).astype(np.float32)
    i64 = lambda *v: np.array(v, np.int64)
    nodes = [helper.make_node("Conv", ["x", "w0", "b0"], ["s"], name="stem", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["s"], ["sr"], name="stem_relu"),
             helper.make_node("Conv", ["sr", "w1", "b1"], ["g1"], name="gconv1", group=G),
             helper.make_node("Relu", ["g1"], ["g1r"], name="gconv1_relu"),
             helper.make_node("Reshape", ["g1r", "grouped"], ["v"], name="shuffle_view"),
             helper.make_node("Transpose", ["v"], ["vt"], name="shuffle_swap", perm=[0, 2, 1, 3, 4]),
             helper.make_node("Reshape", ["vt", "flat"], ["shuf"], name="shuffle_back"),
             helper.make_node("Conv", ["shuf", "wd", "bd"], ["d"], name="dw", pads=[1, 1, 1, 1], group=C),
             helper.make_node("Conv", ["d", "w2", "b2"], ["g2"], name="gconv2", group=G),
             helper.make_node("Add", ["g2", "sr"], ["res"], name="residual"),
             helper.make_node("Relu", ["res"], ["rr"], name="residual_relu"),
             helper.make_node("GlobalAveragePool", ["rr"], ["gap"], name="gap"),
             helper.make_node("Flatten", ["gap"], ["f"], name="flatten"),
             helper.make_node("Gemm", ["f", "wf", "bf"], ["y"], name="fc", transB=1)]
    inits = {"w0": w(C, 3, 3, 3), "b0": b(C), "w1": w(C, C // G, 1, 1), "b1": b(C),
             "grouped": i64(-1, G, C // G, HW, HW), "flat": i64(-1, C, HW, HW),
             "wd": w(C, 1, 3, 3), "bd": b(C), "w2": w(C, C // G, 1, 1), "b2": b(C),
             "wf": w(CLASSES, C), "bf": np.zeros(CLASSES, np.float32)}
    return image_model(nodes, inits, "shufflenet_v1_unit", HW, CLASSES)


@pytest.fixture(scope="module")
def unit(tmp_path_factory):
    model = unit_model()
    calib = np.random.default_rng(22).standard_normal((64, 3, HW, HW)).astype(np.float32)
    bundle = fpga_accel.compile(model, tmp_path_factory.mktemp("unit") / "unit.fpga", board="zcu104", calib=calib,
                                progress=False)
    return model, bundle


@pytest.mark.parametrize("folding", ["compiled", "fully folded"])
def test_csim_equals_the_emulator(unit, tmp_path, folding):
    need_toolchain()
    _, bundle = unit
    qm = load_qmodel(bundle)
    layers = bundle.manifest["layers"]
    if folding == "fully folded":
        layers = [{"name": lay["name"], "folding": {k: 1 for k in lay.get("folding", {}) if k in ("pe", "simd")}}
                  for lay in layers]
    cs = Csim(qm, tmp_path, layers)
    ins = cs.inputs(2, np.random.default_rng(23))
    cs.check(ins, what=f"shufflenet v1 unit, {folding}")
    cycles = cs.lib.stage_cycles()
    assert {"gconv1/grouped_mvau", "gconv2/grouped_mvau"} <= set(cycles)
    assert any(k.endswith("/channel_shuffle") for k in cycles)


def test_opencl_model_equals_the_emulator(unit):
    _, bundle = unit
    why = OpenCLBackend.unavailable(bundle)
    if why:
        pytest.skip(why)
    qm = load_qmodel(bundle)
    r = np.random.default_rng(24)
    q = {t.name: r.integers(t.qparams.qtype.min, t.qparams.qtype.max + 1, (3, *t.shape[1:])).astype(t.qparams.qtype.dtype)
         for t in qm.inputs}
    want = run_layers(qm, q)
    with Session(bundle, backend="opencl") as s:
        got = s.run(q, raw=True)
    for t in qm.outputs:
        np.testing.assert_array_equal(got[t.name], want[t.name])


def test_emulator_within_quantisation_tolerance_of_onnxruntime(unit):
    model, bundle = unit
    x = np.random.default_rng(25).standard_normal((16, 3, HW, HW)).astype(np.float32)
    want = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    with Session(bundle, backend="emulator") as s:
        got = s.run({"x": x})["y"]
    cos = float(np.sum(got * want) / np.linalg.norm(got) / np.linalg.norm(want))
    assert cos > 0.99, cos
