"""A ShuffleNetV2-style unit (channel split, a 1x1 → depthwise 3x3 → 1x1 branch, concat, channel
shuffle as PyTorch exports it) goes on the chip whole: every layer lowers to a PE, the C simulation
of the compiled bundle equals the emulator bit for bit, the OpenCL model (PoCL) too, and the
emulator stays within quantisation tolerance of onnxruntime on the float model."""
import numpy as np
import onnxruntime as ort
import pytest
from codegen_util import Csim, assert_opencl_equals_emulator, image_model, need_toolchain
from onnx import helper

import fpga_accel
from fpga_accel.compiler import load_qmodel
from fpga_accel.runtime.session import Session

C, HW, CLASSES = 16, 8, 10


def shuffle_unit_model():
    r = np.random.default_rng(11)
    h = C // 2
    w = lambda *s: (r.standard_normal(s) * (2.0 / np.prod(s[1:])) ** 0.5).astype(np.float32)
    i64 = lambda *v: np.array(v, np.int64)
    nodes = [helper.make_node("Conv", ["x", "w0", "b0"], ["s"], name="stem", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["s"], ["sr"], name="stem_relu"),
             helper.make_node("Split", ["sr", "halves"], ["keep", "work"], name="split", axis=1),
             helper.make_node("Conv", ["work", "w1", "b1"], ["p1"], name="pw1"),
             helper.make_node("Relu", ["p1"], ["p1r"], name="pw1_relu"),
             helper.make_node("Conv", ["p1r", "wd", "bd"], ["d"], name="dw", pads=[1, 1, 1, 1], group=h),
             helper.make_node("Conv", ["d", "w2", "b2"], ["p2"], name="pw2"),
             helper.make_node("Relu", ["p2"], ["p2r"], name="pw2_relu"),
             helper.make_node("Concat", ["keep", "p2r"], ["cat"], name="concat", axis=1),
             helper.make_node("Reshape", ["cat", "grouped"], ["v"], name="shuffle_view"),
             helper.make_node("Transpose", ["v"], ["vt"], name="shuffle_swap", perm=[0, 2, 1, 3, 4]),
             helper.make_node("Reshape", ["vt", "flat"], ["shuf"], name="shuffle_back"),
             helper.make_node("Conv", ["shuf", "w3", "b3"], ["p3"], name="pw3"),
             helper.make_node("Relu", ["p3"], ["p3r"], name="pw3_relu"),
             helper.make_node("GlobalAveragePool", ["p3r"], ["gap"], name="gap"),
             helper.make_node("Flatten", ["gap"], ["f"], name="flatten"),
             helper.make_node("Gemm", ["f", "wf", "bf"], ["y"], name="fc", transB=1)]
    inits = {"w0": w(C, 3, 3, 3), "b0": r.standard_normal(C).astype(np.float32) * 0.1,
             "halves": i64(h, h),
             "w1": w(h, h, 1, 1), "b1": r.standard_normal(h).astype(np.float32) * 0.1,
             "wd": w(h, 1, 3, 3), "bd": r.standard_normal(h).astype(np.float32) * 0.1,
             "w2": w(h, h, 1, 1), "b2": r.standard_normal(h).astype(np.float32) * 0.1,
             "grouped": i64(-1, 2, h, HW, HW), "flat": i64(-1, C, HW, HW),
             "w3": w(C, C, 1, 1), "b3": r.standard_normal(C).astype(np.float32) * 0.1,
             "wf": w(CLASSES, C), "bf": np.zeros(CLASSES, np.float32)}
    return image_model(nodes, inits, "shuffle_unit", HW, CLASSES)


@pytest.fixture(scope="module")
def unit(tmp_path_factory):
    model = shuffle_unit_model()
    calib = np.random.default_rng(12).standard_normal((64, 3, HW, HW)).astype(np.float32)
    bundle = fpga_accel.compile(model, tmp_path_factory.mktemp("unit") / "unit.fpga", board="zcu104", calib=calib,
                                progress=False)
    return model, bundle


def test_the_unit_lowers_to_channel_pes(unit):
    _, bundle = unit
    qm = load_qmodel(bundle)
    kinds = [lay.op_type for lay in qm.layers]
    assert "Transpose" not in kinds and "Reshape" not in kinds  # no stream reorder left
    assert kinds.count("Slice") == 2 and kinds.count("ChannelShuffle") == 1 and "Concat" in kinds
    # the host only lays the input out channels-last
    assert [n.op_type for n in qm.host_before.nodes] == ["Transpose"] and not qm.host_after.nodes


def test_csim_equals_the_emulator(unit, tmp_path):
    need_toolchain()
    _, bundle = unit
    qm = load_qmodel(bundle)
    cs = Csim(qm, tmp_path, bundle.manifest["layers"])
    cycles = cs.lib.stage_cycles()
    assert any(k.endswith("/channel_shuffle") for k in cycles) and sum(k.endswith("/channel_slice") for k in cycles) == 2
    ins = cs.inputs(2, np.random.default_rng(13))
    cs.check(ins, what="shuffle unit")
    cs.check(ins, axis=True, what="shuffle unit, fa_axis")


def test_opencl_model_equals_the_emulator(unit):
    assert_opencl_equals_emulator(unit[1], seed=14)


def test_emulator_within_quantisation_tolerance_of_onnxruntime(unit):
    model, bundle = unit
    x = np.random.default_rng(15).standard_normal((16, 3, HW, HW)).astype(np.float32)
    want = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    with Session(bundle, backend="emulator") as s:
        got = s.run({"x": x})["y"]
    cos = float(np.sum(got * want) / np.linalg.norm(got) / np.linalg.norm(want))
    assert cos > 0.99, cos
    assert (got.argmax(1) == want.argmax(1)).mean() >= 0.8


@pytest.mark.parametrize("flow", ["cleanup", "hardware"])
def test_inspect_finds_no_problem_and_keeps_the_split_on_the_chip(flow):
    """Before the layout passes (cleanup) the split's slices cut axis 1 of NCHW tensors: still the
    channels, still accelerated, as after them."""
    result = fpga_accel.inspect(shuffle_unit_model(), flow=flow)
    assert result.problems == [] and result.splitting == [] and not result.host_after
    placed = {n.name: n.placement for n in result.nodes}
    assert [placed[n] for n in placed if n.startswith("split")] == ["hardware"] * 2
