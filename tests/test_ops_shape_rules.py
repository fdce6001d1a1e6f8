"""Shape rules and import checks of the elementwise, layout and host ops: a bad node is refused at
import with its name and the offending value, every such node is reported at once, and the
opset-dependent forms behave as onnxruntime says. Values on other batch sizes are checked too."""
import numpy as np
import pytest
from onnx import TensorProto as TP
from onnx import helper, numpy_helper

from fpga_accel.errors import UnsupportedModelError
from fpga_accel.frontend import import_onnx
from fpga_accel.ir import run_graph, verify
from fpga_accel.ops import lookup

from onnx_util import assert_close, feeds_of, node_model, run_ort

vi = helper.make_tensor_value_info


def model(nodes, inputs, outputs, inits=(), opset=13):
    graph = helper.make_graph(nodes, "m", inputs, outputs,
                              [numpy_helper.from_array(np.asarray(v), k) for k, v in dict(inits).items()])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m


def x_in(*shape, name="x"):
    return vi(name, TP.FLOAT, list(shape))


def y_out(name="y"):
    return vi(name, TP.FLOAT, None)


def problems(m) -> dict[str, str]:
    """node name → reason of every problem the importer reports."""
    with pytest.raises(UnsupportedModelError) as e:
        import_onnx(m)
    return {p.node: f"{p.op_type}: {p.reason}" for p in e.value.problems}


# --- refused nodes name themselves and the bad value ---------------------------------------------
def test_concat_of_mismatched_shapes_names_node_and_shapes():
    m = model([helper.make_node("Concat", ["a", "b"], ["y"], name="cat_features", axis=1)],
              [x_in(1, 3, 4, name="a"), x_in(1, 2, 5, name="b")], [y_out()])
    with pytest.raises(UnsupportedModelError) as e:
        import_onnx(m)
    msg = str(e.value)
    assert "node 'cat_features' (Concat)" in msg
    assert "input 1 ('b') has shape (1, 2, 5)" in msg and "(1, 3, 4) outside axis 1" in msg


def test_concat_without_axis_is_refused():
    m = model([helper.make_node("Concat", ["a", "b"], ["y"], name="cat")], [x_in(1, 3, name="a"), x_in(1, 2, name="b")],
              [y_out()])
    assert problems(m) == {"cat": "Concat: attribute 'axis' is required"}


@pytest.mark.parametrize("axis", [0, -3])
def test_flatten_axis0_rejected_at_import(axis):
    m = model([helper.make_node("Flatten", ["x"], ["y"], name="flat_all", axis=axis)], [x_in("N", 4, 5)], [y_out()])
    reason = problems(m)["flat_all"]
    assert reason.startswith(f"Flatten: axis={axis} flattens the batch dimension")
    assert "use axis ≥ 1" in reason


@pytest.mark.parametrize("axis", [0, -3])
def test_flatten_axis0_on_a_batch1_model_becomes_axis1(axis):
    """tf2onnx exports fixed to batch 1 flatten at axis 0: same tensor, and it keeps images apart."""
    m = model([helper.make_node("Flatten", ["x"], ["y"], name="flat_all", axis=axis)], [x_in(1, 4, 5)], [y_out()])
    g = import_onnx(m)
    assert g.node("flat_all").attrs["axis"] == 1
    x = np.arange(3 * 20, dtype=np.float32).reshape(3, 4, 5)
    np.testing.assert_array_equal(run_graph(g, {"x": x})["y"], x.reshape(3, 20))


def test_flatten_axis0_of_a_constant_folds():
    """On a constant the batch is not at stake: Flatten(axis=0) folds like any constant node."""
    c = np.arange(6, dtype=np.float32).reshape(2, 3)
    m = model([helper.make_node("Flatten", ["c"], ["f"], name="flat_c", axis=0),
               helper.make_node("Add", ["x", "f"], ["y"], name="add")], [x_in(1, 6)], [y_out()], {"c": c})
    g = import_onnx(m)
    assert [n.op_type for n in g.nodes] == ["Add"]
    x = np.ones((3, 6), np.float32)
    np.testing.assert_array_equal(run_graph(g, {"x": x})["y"], x + c.reshape(1, 6))


def test_pad_with_runtime_pads_is_refused():
    m = model([helper.make_node("Pad", ["x", "p"], ["y"], name="pad_dyn")],
              [x_in(1, 2, 4, 4), vi("p", TP.INT64, [8])], [y_out()], opset=13)
    assert problems(m) == {"pad_dyn": "Pad: pads is computed at run time; only constant pads is supported"}


def test_every_bad_node_is_reported_at_once():
    nodes = [helper.make_node("Pad", ["x", "p"], ["a"], name="pad_dyn"),
             helper.make_node("Flatten", ["x"], ["b"], name="flat0", axis=0),
             helper.make_node("Pad", ["x", "pc"], ["c"], name="pad_wrap", mode="wrap"),
             helper.make_node("Clip", ["x", "lo"], ["d"], name="clip_dyn"),
             helper.make_node("Cast", ["x"], ["e"], name="to_str", to=TP.STRING)]
    m = model(nodes, [x_in("N", 2, 4, 4), vi("p", TP.INT64, [8]), vi("lo", TP.FLOAT, [1])],
              [y_out(o) for o in "abcde"], {"pc": np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64)}, opset=19)
    got = problems(m)
    assert set(got) == {"pad_dyn", "flat0", "pad_wrap", "clip_dyn", "to_str"}
    assert got["pad_wrap"] == "Pad: mode 'wrap' is not supported; use one of ['constant', 'edge', 'reflect']"
    assert got["clip_dyn"].startswith("Clip: the min bound is computed at run time")
    assert got["to_str"].startswith("Cast: casting to ONNX data type 8 is not supported")


@pytest.mark.parametrize("node,inputs,inits,reason", [
    (helper.make_node("Squeeze", ["x", "ax"], ["y"], name="n"), [x_in(1, 3, 1)], {"ax": np.array([1])},
     "cannot squeeze axes [1] of shape (1, 3, 1): their size is not 1"),
    (helper.make_node("Unsqueeze", ["x", "ax"], ["y"], name="n"), [x_in(1, 3)], {"ax": np.array([1, -3])},
     "axes [1, -3] name an axis twice"),
    (helper.make_node("Transpose", ["x"], ["y"], name="n", perm=[0, 2, 2]), [x_in(1, 3, 4)], {},
     "perm [0, 2, 2] is not a permutation of the 3 axes"),
    (helper.make_node("Gather", ["x", "i"], ["y"], name="n", axis=1), [x_in(1, 3)], {"i": np.array([0, 3])},
     "indices [0, 3] are out of range for axis 1 of size 3"),
    (helper.make_node("Expand", ["x", "s"], ["y"], name="n"), [x_in(1, 3)], {"s": np.array([2, 4])},
     "input of shape (1, 3) cannot expand to [2, 4]"),
    (helper.make_node("Pad", ["x", "p"], ["y"], name="n", mode="reflect"), [x_in(1, 3)],
     {"p": np.array([0, 3, 0, 0])}, "reflect pads [(0, 0), (3, 0)] must be smaller than the input dims (1, 3)"),
    (helper.make_node("Pad", ["x", "p"], ["y"], name="n"), [x_in(1, 3)], {"p": np.array([0, 1, 0])},
     "pads [0, 1, 0] must hold 2 values per padded axis (2 axes)"),
    (helper.make_node("Softmax", ["x"], ["y"], name="n", axis=2), [x_in(1, 3)], {},
     "axis 2 is out of range for rank 2"),
    (helper.make_node("ReduceSum", ["x", "ax"], ["y"], name="n"), [x_in(1, 3)], {"ax": np.array([3])},
     "axis 3 is out of range for rank 2"),
    (helper.make_node("Add", ["x", "b"], ["y"], name="n"), [x_in(1, 3)], {"b": np.ones(4, np.float32)},
     "inputs of shapes (1, 3) and (4,) do not broadcast"),
    (helper.make_node("Max", ["x", "b", "c"], ["y"], name="n"), [x_in(1, 3)],
     {"b": np.ones(3, np.float32), "c": np.ones((2, 1, 2), np.float32)},
     "inputs of shapes [(1, 3), (3,), (2, 1, 2)] do not broadcast"),
    (helper.make_node("Dropout", ["x", "r", "t"], ["y"], name="n"), [x_in(1, 3)],
     {"r": np.array(0.5, np.float32), "t": np.array(True)},
     "training_mode=True drops values at random; export the model in eval mode"),
], ids=lambda v: v.op_type if hasattr(v, "op_type") else None)
def test_shape_rule_errors(node, inputs, inits, reason):
    """Each bad node is refused with its name, op and the offending value in the reason."""
    assert problems(model([node], inputs, [y_out()], inits)) == {"n": f"{node.op_type}: {reason}"}


# --- opset forms ------------------------------------------------------------------------------
@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax"])
def test_softmax_before_opset13_normalises_the_flattened_tail(op):
    """axis=1 on (N, 3, 4): opset 11 normalises over all 12 values of an image, opset 13 over 3."""
    x = np.random.default_rng(0).standard_normal((2, 3, 4)).astype(np.float32)
    out = {}
    for opset in (11, 13):
        m = model([helper.make_node(op, ["x"], ["y"], name="sm", axis=1)], [x_in(2, 3, 4)], [y_out()], opset=opset)
        out[opset] = run_graph(import_onnx(m), {"x": x})["y"]
        assert_close(out[opset], run_ort(m, {"x": x})[0], what=f"{op} opset {opset}")
    probs = {k: np.exp(v) if op == "LogSoftmax" else v for k, v in out.items()}
    np.testing.assert_allclose(probs[11].sum(axis=(1, 2)), 1, rtol=1e-5)
    np.testing.assert_allclose(probs[13].sum(axis=1), 1, rtol=1e-5)
    assert not np.allclose(out[11], out[13])


def test_softmax_default_axis_differs_by_opset():
    """No axis: 1 before opset 13 (the whole image), -1 from 13."""
    x = np.random.default_rng(1).standard_normal((2, 3, 4)).astype(np.float32)
    for opset, sum_axes in ((12, (1, 2)), (13, (2,))):
        m = model([helper.make_node("Softmax", ["x"], ["y"], name="sm")], [x_in(2, 3, 4)], [y_out()], opset=opset)
        y = run_graph(import_onnx(m), {"x": x})["y"]
        np.testing.assert_allclose(y.sum(axis=sum_axes), 1, rtol=1e-5)


def test_shape_folds_inside_the_graph_and_stays_as_an_output():
    """Shape → Gather → Unsqueeze → Concat → Reshape folds away; a Shape that is itself a graph
    output is kept, so it reports the batch the graph runs on."""
    nodes = [helper.make_node("Shape", ["x"], ["s"], name="shape"),
             helper.make_node("Gather", ["s", "i0"], ["n"], name="batch", axis=0),
             helper.make_node("Unsqueeze", ["n", "ax0"], ["n1"], name="unsq"),
             helper.make_node("Concat", ["n1", "minus1"], ["target"], name="cat", axis=0),
             helper.make_node("Reshape", ["x", "target"], ["y"], name="flat"),
             helper.make_node("Shape", ["x"], ["shape_out"], name="shape_out")]
    m = model(nodes, [vi("x", TP.FLOAT, ["N", 2, 3])], [y_out(), vi("shape_out", TP.INT64, [3])],
              {"i0": np.array(0), "ax0": np.array([0]), "minus1": np.array([-1])})
    g = import_onnx(m)
    verify(g)
    assert [n.op_type for n in g.nodes] == ["Reshape", "Shape"]
    out = run_graph(g, {"x": np.zeros((5, 2, 3), np.float32)})
    assert out["y"].shape == (5, 6)
    np.testing.assert_array_equal(out["shape_out"], [5, 2, 3])


# --- every op's reference runs on any batch -----------------------------------------------------
BATCH_CASES = [
    ("flatten", [helper.make_node("Flatten", ["x"], ["y"], axis=1)], {}),
    ("concat", [helper.make_node("Concat", ["x", "x"], ["y"], axis=-1)], {}),
    ("pad_reflect", [helper.make_node("Pad", ["x", "p"], ["y"], mode="reflect")],
     {"p": np.array([0, 0, 1, 0, 0, 0, 2, 1])}),
    ("transpose", [helper.make_node("Transpose", ["x"], ["y"], perm=[0, 2, 3, 1])], {}),
    ("squeeze_unsqueeze", [helper.make_node("Unsqueeze", ["x", "a"], ["u"]),
                           helper.make_node("Squeeze", ["u", "a"], ["y"])], {"a": np.array([2])}),
    ("gather_runtime_data", [helper.make_node("Gather", ["x", "i"], ["y"], axis=2)], {"i": np.array([[3, 0]])}),
    ("expand", [helper.make_node("Expand", ["x", "s"], ["y"])], {"s": np.array([1, 3, 1, 1])}),
    ("add_mul_max", [helper.make_node("Add", ["x", "b"], ["a"]), helper.make_node("Mul", ["a", "x"], ["m"]),
                     helper.make_node("Max", ["m", "a", "b"], ["y"])], {"b": np.arange(5, dtype=np.float32)}),
    ("softmax", [helper.make_node("Softmax", ["x"], ["y"], axis=1)], {}),
    ("argmax", [helper.make_node("ArgMax", ["x"], ["y"], axis=1, keepdims=0)], {}),
    ("reduce_mean", [helper.make_node("ReduceMean", ["x"], ["y"], axes=[2, 3])], {}),
]


@pytest.mark.parametrize("name,nodes,inits", BATCH_CASES, ids=[c[0] for c in BATCH_CASES])
def test_reference_runs_on_any_batch(name, nodes, inits):
    """The IR is built for batch 1; run on batch 3 it must still match onnxruntime."""
    opset = 11 if name == "reduce_mean" else 13
    out = vi("y", TP.INT64 if name == "argmax" else TP.FLOAT, None)
    m = model(nodes, [vi("x", TP.FLOAT, ["N", 3, 4, 5])], [out], inits, opset=opset)
    g = import_onnx(m)
    assert g.inputs[0].shape == (1, 3, 4, 5)
    x = np.random.default_rng(2).standard_normal((3, 3, 4, 5)).astype(np.float32)
    want = run_ort(m, {"x": x})[0]
    got = run_graph(g, {"x": x})["y"]
    assert got.shape == want.shape and got.dtype == want.dtype
    assert_close(got, want, what=name)


# --- the shape rule agrees with the reference ------------------------------------------------------
OPS = ("LeakyRelu Clip Sigmoid Tanh HardSigmoid HardSwish Selu Elu Softplus Abs Neg Exp Add Sub Mul Div Max Min Sum "
       "Identity Dropout Shape Size Cast ConstantOfShape Gather Range Expand Unsqueeze Squeeze Flatten Transpose "
       "Concat Split Slice Pad Softmax LogSoftmax ArgMax ArgMin ReduceMean ReduceMax ReduceSum").split()
EXAMPLES = [(t, ex) for t in OPS for ex in lookup(t).examples()]


@pytest.mark.parametrize("op_type,ex", EXAMPLES, ids=[f"{t}-{ex.name or i}" for i, (t, ex) in enumerate(EXAMPLES)])
def test_inferred_shape_and_dtype_are_what_run_gives(op_type, ex):
    """Imported examples pass the IR verifier, and every output's recorded shape and dtype are
    exactly those of the values the reference computes."""
    m = node_model(op_type, ex.attrs, ex.inputs, ex.const, ex.opset, ex.n_outputs)
    g = import_onnx(m)
    verify(g)
    got = run_graph(g, feeds_of(m, ex.inputs, ex.const))
    for name, value in got.items():
        info = g.tensors[name]
        assert (value.shape, value.dtype) == (info.shape, info.dtype), name
