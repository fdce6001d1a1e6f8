"""A float host op between hardware nodes (a Softmax between two convolutions): the tiled engine runs
it on the host between its segments (dequantise, float, quantise); emulator == C simulation bit for
bit, cosine 0.99 against onnxruntime. (The dataflow engine's segments: test_dataflow_segments.py.)"""
import numpy as np
import onnxruntime as ort
import pytest
from codegen_util import image_model
from onnx import helper
from test_segments import _toolchain

import fpga_accel
from fpga_accel.bundle_model import load_qmodel
from fpga_accel.emulator import run_layers
from fpga_accel.quant.arith import dequantize, quantize
from fpga_accel.quant.host_float import is_host_float
from fpga_accel.runtime.session import Session

HW, CLASSES = 8, 4


def softmax_inside():
    r = np.random.default_rng(50)
    w = lambda *s: (r.standard_normal(s) * 0.4).astype(np.float32)  # noqa: E731
    node = helper.make_node
    nodes = [node("Conv", ["x", "w0", "b0"], ["c0"], name="conv1", pads=[1, 1, 1, 1]),
             node("Softmax", ["c0"], ["s0"], name="attend", axis=1),
             node("Conv", ["s0", "w1", "b1"], ["c1"], name="conv2", pads=[1, 1, 1, 1]),
             node("Relu", ["c1"], ["r1"], name="relu2"),
             node("GlobalAveragePool", ["r1"], ["g"], name="gap"),
             node("Flatten", ["g"], ["f"], name="flatten"),
             node("Gemm", ["f", "wf", "bf"], ["y"], name="fc", transB=1)]
    inits = {"w0": w(8, 3, 3, 3), "b0": w(8), "w1": w(8, 8, 3, 3), "b1": w(8), "wf": w(CLASSES, 8), "bf": w(CLASSES)}
    return image_model(nodes, inits, "softmax_inside", HW, CLASSES)


def images(n, seed):
    return np.random.default_rng(seed).standard_normal((n, 3, HW, HW)).astype(np.float32)


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    model = softmax_inside()
    b = fpga_accel.compile(model, tmp_path_factory.mktemp("float-host") / "s.fpga", board="kv260",
                           calib=images(32, 51), progress=False, engine="tiled")
    return model, b


def test_the_tiled_engine_runs_the_softmax_on_the_host(net):
    m = net[1].manifest
    assert m["engine"]["kind"] == "tiled"
    hosts = {s["host"]: s for s in m["tiled"]["steps"]["order"] if "host" in s}
    assert hosts["attend"]["op"] == "Softmax" and hosts["attend"]["why"] == "a float op between hardware nodes"
    assert m["tiled"]["steps"]["segments"] == 2
    assert {"name": "attend", "op": "Softmax"} in m["partition"]["host_between"]
    assert "attend" not in [n["name"] for n in m["partition"]["hardware"]]


def test_the_host_step_is_the_contracts_host_boundary(net):
    """Dequantise, the float softmax over the channels, quantise (round half to even)."""
    qm = load_qmodel(net[1])
    lay = next(lay for lay in qm.layers if is_host_float(lay))
    x = images(2, 52)
    with Session(net[1], backend="emulator") as s:
        q = s.hardware_inputs(x)
    every = run_layers(qm, q, keep=True, threads=1)
    p_in, p_out = qm.tensors[lay.inputs[0]].qparams, qm.tensors[lay.outputs[0]].qparams
    v = dequantize(every[lay.inputs[0]], p_in).astype(np.float64)
    e = np.exp(v - v.max(axis=1, keepdims=True))
    want = quantize((e / e.sum(axis=1, keepdims=True)).astype(np.float32), p_out)
    assert np.abs(every[lay.outputs[0]].astype(np.int64) - want).max() <= 1  # float32 vs float64 rounding
    assert np.mean(every[lay.outputs[0]] == want) > 0.99


def test_emulator_equals_csim_and_onnxruntime(net):
    _toolchain()
    model, b = net
    x = images(2, 53)
    with Session(b, backend="emulator") as s:
        q = s.hardware_inputs(x)
        emu, got = s.run(q, raw=True), s.run({"x": x})["y"]
        s.backend.use_program = True  # the float host step between segments of the reference executor
        executor = s.run(q, raw=True)
    with Session(b, backend="csim") as s:
        cs = s.run(q, raw=True)
    want = run_layers(load_qmodel(b), q, threads=1)
    for name, w in want.items():
        np.testing.assert_array_equal(emu[name], w)
        np.testing.assert_array_equal(executor[name], w)
        np.testing.assert_array_equal(cs[name], w)
    ref = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    cos = float(np.sum(got * ref) / np.linalg.norm(got) / np.linalg.norm(ref))
    assert cos >= 0.99, cos


def test_a_float_host_step_from_a_program_is_checked(net):
    import copy

    from fpga_accel.bundle_tiled import load_program
    from fpga_accel.tiled import Program, ProgramError, TiledEngine

    program, _ = load_program(net[1])
    k = next(i for i, s in enumerate(program.data["steps"]) if s.get("host", {}).get("name") == "attend")

    def refused(mut, match):
        data = copy.deepcopy(program.data)
        mut(data["steps"][k]["host"])
        with pytest.raises(ProgramError, match=match):
            TiledEngine(Program(data, program.weights))

    def other_op(h):
        h["config"]["host_float"]["nodes"][0]["op_type"] = "Relu"

    def two_nodes(h):
        h["config"]["host_float"]["nodes"].append(h["config"]["host_float"]["nodes"][0])

    refused(other_op, r"host step \d+ 'attend' \(Softmax\): host layer 'attend' \(Softmax\): its record is malformed "
                      r"\(GraphError.*'attend' \(Relu\): unknown attributes")
    refused(lambda h: h["config"]["inputs_q"][0].update(name="elsewhere"), "must hold one Softmax node reading")
    refused(two_nodes, "its record is malformed|must hold one Softmax node")
    refused(lambda h: h["config"].pop("output_q"), "its record is malformed")
