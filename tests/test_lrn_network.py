"""An AlexNet-style network with LRN goes on the chip: LRN lowers to the lrn PE, the C simulation
and the OpenCL model (PoCL) equal the emulator bit for bit, and the emulator stays within
quantisation tolerance of onnxruntime on the float model."""
import numpy as np
import onnx
import onnxruntime as ort
import pytest
from codegen_util import Csim, assert_opencl_equals_emulator, image_model, need_toolchain
from onnx import helper

import fpga_accel
from fpga_accel.compiler import load_qmodel
from fpga_accel.runtime.session import Session

HW, CLASSES = 10, 6


def lrn_model():
    r = np.random.default_rng(21)
    w = lambda *s: (r.standard_normal(s) * (2.0 / np.prod(s[1:])) ** 0.5).astype(np.float32)
    b = lambda n: (r.standard_normal(n) * 0.1).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "w0", "b0"], ["c0"], name="conv1", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c0"], ["r0"], name="relu1"),
             helper.make_node("LRN", ["r0"], ["n0"], name="norm1", size=5, alpha=0.2, beta=0.75, bias=2.0),
             helper.make_node("MaxPool", ["n0"], ["m0"], name="pool1", kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("Conv", ["m0", "w1", "b1"], ["c1"], name="conv2", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"], name="relu2"),
             helper.make_node("LRN", ["r1"], ["n1"], name="norm2", size=3, alpha=1e-4, beta=0.75, bias=1.0),
             helper.make_node("GlobalAveragePool", ["n1"], ["g"], name="gap"),
             helper.make_node("Flatten", ["g"], ["f"], name="flatten"),
             helper.make_node("Gemm", ["f", "wf", "bf"], ["y"], name="fc", transB=1)]
    inits = {"w0": w(12, 3, 3, 3), "b0": b(12), "w1": w(16, 12, 3, 3), "b1": b(16), "wf": w(CLASSES, 16),
             "bf": b(CLASSES)}
    return image_model(nodes, inits, "lrn_net", HW, CLASSES)


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    model = lrn_model()
    calib = (2 * np.random.default_rng(22).standard_normal((64, 3, HW, HW))).astype(np.float32)
    bundle = fpga_accel.compile(model, tmp_path_factory.mktemp("lrn") / "lrn.fpga", board="zcu104", calib=calib,
                                progress=False)
    return model, bundle


def test_lrn_layers_are_on_the_chip(net):
    qm = load_qmodel(net[1])
    assert [lay.op_type for lay in qm.layers].count("LRN") == 2
    assert not qm.host_after.nodes


def test_csim_equals_the_emulator(net, tmp_path):
    need_toolchain()
    bundle = net[1]
    qm = load_qmodel(bundle)
    cs = Csim(qm, tmp_path, bundle.manifest["layers"])
    assert {"norm1/lrn", "norm2/lrn"} <= set(cs.lib.stage_cycles())
    ins = cs.inputs(2, np.random.default_rng(23))
    cs.check(ins, what="LRN network")
    cs.check(ins, axis=True, what="LRN network, fa_axis")


def test_opencl_model_equals_the_emulator(net):
    assert_opencl_equals_emulator(net[1], seed=24)


def test_emulator_within_quantisation_tolerance_of_onnxruntime(net):
    model, bundle = net
    x = (2 * np.random.default_rng(25).standard_normal((16, 3, HW, HW))).astype(np.float32)
    want = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    with Session(bundle, backend="emulator") as s:
        got = s.run({"x": x})["y"]
    cos = float(np.sum(got * want) / np.linalg.norm(got) / np.linalg.norm(want))
    assert cos > 0.99, cos
    # without its LRN layers the float model computes something else: the LRN matters here
    plain = onnx.ModelProto()
    plain.CopyFrom(model)
    for n in plain.graph.node:
        if n.op_type == "LRN":
            n.op_type = "Identity"
            del n.attribute[:]
    other = ort.InferenceSession(plain.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    assert np.abs(other - want).max() > 10 * np.abs(got - want).max()
