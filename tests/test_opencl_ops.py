"""The generated OpenCL kernel, one op at a time, against the emulator, bit for bit.

Each case is a small onnx.helper model compiled with the OpenCL generator (bit widths 2 to 16),
run on an OpenCL CPU device (PoCL) through ``Session(bundle, backend="opencl")`` on random integers
covering each hardware input's whole range, and compared with ``fpga_accel.emulator.run_layers``.
"""
import math

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import fpga_accel
from fpga_accel.codegen.opencl import generate_opencl
from fpga_accel.compiler import load_qmodel
from fpga_accel.emulator import run_layers
from fpga_accel.runtime.backends.opencl import OpenCLBackend, OpenCLBuildError
from fpga_accel.runtime.session import Session

RELU = [0.0, math.inf]


def make_model(nodes, inputs, inits=None, opset=13):
    """Float graph inputs {name: shape without the batch}; the output is the last node's first."""
    ins = [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["N", *s]) for n, s in inputs.items()]
    out = nodes[-1].output[0]
    inits = [numpy_helper.from_array(np.asarray(a, np.float32), n) if np.asarray(a).dtype.kind == "f"
             else numpy_helper.from_array(np.asarray(a), n) for n, a in (inits or {}).items()]
    graph = helper.make_graph(nodes, "case", ins, [helper.make_tensor_value_info(out, TensorProto.FLOAT, None)], inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return onnx.shape_inference.infer_shapes(m)


def compile_case(tmp_path, model, act_bits=8, weight_bits=8, seed=0, board="pynq-z2"):
    r = np.random.default_rng(seed)
    calib = {}
    for vi in model.graph.input:
        shape = [d.dim_value for d in vi.type.tensor_type.shape.dim][1:]
        calib[vi.name] = (r.uniform(-1, 1) + r.uniform(0.5, 2) * r.standard_normal((48, *shape))).astype(np.float32)
    return fpga_accel.compile(model, tmp_path / "case.fpga", calib=calib, progress=False, generators=[generate_opencl], board=board,
                              config={"bits": 8, "act_bits": act_bits, "weight_bits": weight_bits})


@pytest.fixture(scope="module")
def opencl_ok():
    """Skip when no OpenCL CPU device is here (the check needs a bundle with a kernel)."""
    pytest.importorskip("pyopencl")


def check(tmp_path, model, act_bits=8, weight_bits=8, seed=0, n=5, want_ops=(), board="pynq-z2"):
    """Compile, run on OpenCL and on the emulator, compare every hardware output exactly."""
    bundle = compile_case(tmp_path, model, act_bits, weight_bits, seed, board)
    why = OpenCLBackend.unavailable(bundle)
    if why:
        pytest.skip(why)
    qm = load_qmodel(bundle)
    kinds = {lay.op_type for lay in qm.layers}
    assert set(want_ops) <= kinds, f"expected layers {want_ops}, the model has {sorted(kinds)}"
    r = np.random.default_rng(seed + 1)
    q = {t.name: r.integers(t.qparams.qtype.min, t.qparams.qtype.max + 1, (n, *t.shape[1:]))
         .astype(t.qparams.qtype.dtype) for t in qm.inputs}
    want = run_layers(qm, q)
    with open_session(bundle) as s:
        got = s.run(q, raw=True)
    for t in qm.outputs:
        assert got[t.name].dtype == want[t.name].dtype
        bad = np.flatnonzero(got[t.name] != want[t.name])
        assert bad.size == 0, (f"{t.name}: {bad.size} of {want[t.name].size} integers differ, first at {bad[0]}: "
                               f"opencl {got[t.name].flat[bad[0]]} emulator {want[t.name].flat[bad[0]]}")
    return qm


def open_session(bundle, **kw) -> Session:
    """An OpenCL session; skips when the only OpenCL CPU device cannot compile for this CPU (PoCL
    whose LLVM does not know the processor: "unknown target CPU 'generic'")."""
    try:
        return Session(bundle, backend="opencl", **kw)
    except OpenCLBuildError as e:
        logs = str(e).split("\n--- ")[1:]  # one build log per device tried
        if logs and all("unknown target CPU" in log for log in logs):
            pytest.skip("no OpenCL CPU device here can compile for this processor (see docs/opencl.md)")
        raise


def conv_node(attrs, relu=False):
    nodes = [helper.make_node("Conv", ["x", "W", "B"], ["c" if relu else "y"], **attrs)]
    if relu:
        nodes.append(helper.make_node("Relu", ["c"], ["y"]))
    return nodes


CONV = [  # (attrs, C, M, spatial, kernel)
    ({"pads": [1, 1, 1, 1]}, 3, 4, [7, 6], [3, 3]),
    ({"strides": [2, 1], "pads": [0, 1, 2, 1]}, 2, 3, [9, 8], [3, 2]),
    ({"dilations": [2, 2]}, 2, 2, [9, 9], [3, 3]),
    ({"group": 4, "pads": [1, 1, 1, 1]}, 4, 4, [6, 6], [3, 3]),  # depthwise
    ({"group": 2, "strides": [2, 2], "pads": [1, 0, 1, 0]}, 4, 6, [7, 7], [3, 3]),  # grouped
    ({"group": 3}, 3, 6, [5, 5], [2, 2]),  # depthwise, two outputs per channel
    ({"auto_pad": "SAME_UPPER", "strides": [2, 2]}, 2, 3, [7, 8], [3, 3]),
    ({"pads": [2, 1], "strides": [2]}, 3, 2, [11], [3]),  # 1D
    ({}, 5, 4, [4, 4], [1, 1]),
]
BITS = [(2, 2), (3, 4), (4, 3), (6, 8), (8, 8), (12, 8), (16, 12), (16, 16)]


@pytest.mark.parametrize("case", range(len(CONV)))
def test_conv(tmp_path, opencl_ok, case):
    attrs, C, M, size, kernel = CONV[case]
    r = np.random.default_rng(case)
    W = r.standard_normal((M, C // attrs.get("group", 1), *kernel))
    model = make_model(conv_node(attrs, relu=case % 2 == 0), {"x": [C, *size]}, {"W": W, "B": r.standard_normal(M)})
    act, wb = BITS[case % len(BITS)]
    check(tmp_path, model, act, wb, seed=case, want_ops=["Conv"])


@pytest.mark.slow
@pytest.mark.parametrize("bits", BITS)
@pytest.mark.parametrize("case", range(len(CONV)))
def test_conv_bit_widths(tmp_path, opencl_ok, case, bits):
    attrs, C, M, size, kernel = CONV[case]
    r = np.random.default_rng(case)
    W = r.standard_normal((M, C // attrs.get("group", 1), *kernel))
    model = make_model(conv_node(attrs, relu=True), {"x": [C, *size]}, {"W": W, "B": r.standard_normal(M)})
    check(tmp_path, model, *bits, seed=case, want_ops=["Conv"])


@pytest.mark.parametrize("bits", [(2, 2), (8, 8), (16, 16), (12, 4)])
def test_gemm(tmp_path, opencl_ok, bits):
    r = np.random.default_rng(bits[0])
    nodes = [helper.make_node("Gemm", ["x", "B", "C"], ["y"], transB=1)]
    check(tmp_path, make_model(nodes, {"x": [13]}, {"B": r.standard_normal((7, 13)), "C": r.standard_normal(7)}),
          *bits, want_ops=["Gemm"])


def test_matmul_of_a_3d_input(tmp_path, opencl_ok):
    r = np.random.default_rng(3)
    nodes = [helper.make_node("MatMul", ["x", "W"], ["y"])]
    check(tmp_path, make_model(nodes, {"x": [3, 5]}, {"W": r.standard_normal((5, 4))}), 6, 5, want_ops=["MatMul"])


POOLS = [
    {"kernel_shape": [2, 2], "strides": [2, 2]},
    {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 0, 1, 2]},
    {"kernel_shape": [3, 3], "strides": [2, 2], "ceil_mode": 1},
    {"kernel_shape": [2, 2], "strides": [2, 2], "pads": [1, 1, 1, 1], "ceil_mode": 1},
    {"kernel_shape": [3, 3], "strides": [1, 1], "pads": [1, 1, 1, 1], "count_include_pad": 1},
    {"kernel_shape": [3, 3], "auto_pad": "SAME_UPPER", "strides": [2, 2]},
]


@pytest.mark.parametrize("case", range(len(POOLS)))
@pytest.mark.parametrize("op_type", ["MaxPool", "AveragePool"])
def test_window_pools(tmp_path, opencl_ok, op_type, case):
    attrs = dict(POOLS[case])
    if op_type == "MaxPool":
        attrs.pop("count_include_pad", None)
    model = make_model([helper.make_node(op_type, ["x"], ["y"], **attrs)], {"x": [3, 8, 9]})
    check(tmp_path, model, [2, 4, 8, 16, 5, 12][case], seed=case, want_ops=[op_type])


@pytest.mark.parametrize("op_type", ["MaxPool", "AveragePool"])
def test_window_pools_1d_and_dilated(tmp_path, opencl_ok, op_type):
    one = make_model([helper.make_node(op_type, ["x"], ["y"], kernel_shape=[3], strides=[2], pads=[1, 1])],
                     {"x": [2, 11]})
    check(tmp_path, one, 8, want_ops=[op_type])
    dil = make_model([helper.make_node(op_type, ["x"], ["y"], kernel_shape=[2, 2], dilations=[2, 3], strides=[1, 2],
                                       pads=[1, 1, 1, 1])], {"x": [2, 7, 9]}, opset=19)
    check(tmp_path, dil, 8, want_ops=[op_type])


@pytest.mark.parametrize("op_type", ["GlobalAveragePool", "GlobalMaxPool"])
@pytest.mark.parametrize("bits", [3, 8, 16])
def test_global_pools(tmp_path, opencl_ok, op_type, bits):
    check(tmp_path, make_model([helper.make_node(op_type, ["x"], ["y"])], {"x": [5, 6, 7]}), bits,
          want_ops=[op_type])


@pytest.mark.parametrize("bits", [2, 8, 16])
def test_residual_add_and_sub_sum(tmp_path, opencl_ok, bits):
    nodes = [helper.make_node("Add", ["a", "b"], ["s"]), helper.make_node("Sub", ["s", "c"], ["d"]),
             helper.make_node("Sum", ["d", "a", "b"], ["e"]), helper.make_node("Relu", ["e"], ["y"])]
    check(tmp_path, make_model(nodes, {"a": [3, 4, 5], "b": [3, 4, 5], "c": [3, 4, 5]}), bits,
          want_ops=["Add", "Sub", "Sum"])


def test_add_broadcast_and_constants(tmp_path, opencl_ok):
    r = np.random.default_rng(5)
    nodes = [helper.make_node("Add", ["a", "b"], ["s"]), helper.make_node("Add", ["s", "t"], ["u"]),
             helper.make_node("Sub", ["k", "u"], ["y"])]
    model = make_model(nodes, {"a": [3, 4, 5], "b": [1, 4, 5]}, {"t": r.standard_normal((3, 1, 1)), "k": np.float32(0.5)})
    check(tmp_path, model, 8, want_ops=["Add", "Sub"])


@pytest.mark.parametrize("op_type,t", [("Mul", np.array([0.5, -2.0, 0.0, 1.5])), ("Mul", np.float32(-0.75)),
                                       ("Div", np.array([2.0, -4.0, 0.25, 3.0]))])
@pytest.mark.parametrize("bits", [4, 8, 16])
def test_mul_div_by_constant(tmp_path, opencl_ok, op_type, t, bits):
    t = np.asarray(t, np.float32).reshape((4, 1, 1) if np.ndim(t) else ())
    check(tmp_path, make_model([helper.make_node(op_type, ["x", "t"], ["y"])], {"x": [4, 3, 5]}, {"t": t}), bits,
          want_ops=[op_type])


def test_mul_of_tensors(tmp_path, opencl_ok):
    nodes = [helper.make_node("Mul", ["a", "b"], ["y"])]
    check(tmp_path, make_model(nodes, {"a": [2, 3, 4], "b": [2, 3, 4]}), 12, want_ops=["Mul"])


@pytest.mark.parametrize("axis", [1, 3, -1])
def test_concat(tmp_path, opencl_ok, axis):
    nodes = [helper.make_node("Concat", ["a", "b", "a"], ["y"], axis=axis)]
    check(tmp_path, make_model(nodes, {"a": [2, 3, 4], "b": [2, 3, 4]}), 8, want_ops=["Concat"])


@pytest.mark.parametrize("mode,pads", [("constant", [0, 0, 1, 2, 0, 0, 2, 1]), ("edge", [0, 1, 0, 2, 0, 1, 2, 0]),
                                       ("reflect", [0, 0, 2, 1, 0, 0, 1, 2]), ("constant", [0, 0, -1, 1, 0, 0, 1, -2])])
def test_pad(tmp_path, opencl_ok, mode, pads):
    nodes = [helper.make_node("Pad", ["x", "pads"], ["y"], mode=mode)]
    model = make_model(nodes, {"x": [3, 4, 5]}, {"pads": np.array(pads, np.int64)})
    check(tmp_path, model, 8, want_ops=["Pad"])


@pytest.mark.parametrize("op_type,attrs,extra,shape", [
    ("Transpose", {"perm": [0, 2, 1, 3]}, None, [3, 4, 5]),
    ("Transpose", {"perm": [0, 3, 1, 2]}, None, [3, 4, 5]),
    ("Flatten", {}, None, [3, 4, 5]),
    ("Reshape", {}, np.array([0, 12, 5], np.int64), [3, 4, 5]),
    ("Squeeze", {}, np.array([2], np.int64), [3, 1, 5]),
    ("Unsqueeze", {}, np.array([1], np.int64), [3, 5]),
])
def test_data_movement(tmp_path, opencl_ok, op_type, attrs, extra, shape):
    ins = ["a"] if extra is None else ["a", "e"]
    # computing layers on both sides keep the move in the accelerated part (not on the host)
    nodes = [helper.make_node("Sigmoid", ["x"], ["a"]), helper.make_node(op_type, ins, ["m"], **attrs),
             helper.make_node("Tanh", ["m"], ["y"])]
    check(tmp_path, make_model(nodes, {"x": shape}, {"e": extra} if extra is not None else None), 8,
          want_ops=[op_type])


@pytest.mark.parametrize("op_type,attrs,bits", [("Sigmoid", {}, 8), ("Tanh", {}, 4), ("LeakyRelu", {"alpha": 0.1}, 16),
                                                ("Relu", {}, 2), ("HardSigmoid", {}, 12), ("Exp", {}, 6)])
def test_lookup_tables(tmp_path, opencl_ok, op_type, attrs, bits):
    nodes = [helper.make_node(op_type, ["x"], ["y"], **attrs)]
    check(tmp_path, make_model(nodes, {"x": [4, 5]}), bits, want_ops=[op_type])
