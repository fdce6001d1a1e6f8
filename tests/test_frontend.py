"""Import features: old opsets, symbolic batch, old-exporter initializers, Constant nodes, and the
forms PyTorch exports (tests/data/pytorch_*.onnx, written by tests/data/make_pytorch_models.py).
Each model's float reference must equal onnxruntime at batch 1 and batch 7."""
import pathlib

import numpy as np
import onnx
import pytest
from onnx import TensorProto as TP
from onnx import helper, numpy_helper

from fpga_accel.frontend import import_onnx, load_onnx
from fpga_accel.ir import run_graph, verify
from fpga_accel.ops import lookup

from model_util import free_batch_dim
from onnx_util import assert_close, run_ort

DATA = pathlib.Path(__file__).parent / "data"
vi = helper.make_tensor_value_info


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def require_ops(model: onnx.ModelProto) -> None:
    """Skip while an op of the model is not registered yet (a registered op that fails is a failure)."""
    missing = sorted({n.op_type for n in model.graph.node
                      if n.op_type != "Constant" and lookup(n.op_type, n.domain) is None})
    if missing:
        pytest.skip(f"ops not registered yet: {missing}")


def check_against_ort(g, model, batches=(1, 7), seed=0):
    """The IR's float reference equals onnxruntime on random inputs at each batch size."""
    for b in batches:
        feeds = {t.name: rand(b, *t.shape[1:], seed=seed + b) for t in g.inputs}
        want = run_ort(model, feeds)
        got = run_graph(g, feeds)
        for name, w in zip(g.output_names, want, strict=True):
            assert got[name].shape[0] == b
            assert_close(got[name], w, what=f"{g.name} output {name} at batch {b}")


# --- opset upgrade --------------------------------------------------------------------------
def test_opset6_model_is_upgraded():
    """Gemm at opset 6 still has `broadcast`; the importer upgrades the model to opset 13."""
    w, b = rand(4, 3), rand(3, seed=1)
    graph = helper.make_graph(
        [helper.make_node("Gemm", ["x", "w", "b"], ["h"], name="fc", broadcast=1),
         helper.make_node("Relu", ["h"], ["y"], name="act")],
        # the IR version 3 of that time lists the initializers among the graph inputs too
        "old", [vi("x", TP.FLOAT, [2, 4]), vi("w", TP.FLOAT, [4, 3]), vi("b", TP.FLOAT, [3])],
        [vi("y", TP.FLOAT, [2, 3])],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 6)])
    m.ir_version = 3
    g = import_onnx(m)
    assert g.meta["source_opset"] == 6 and g.opset == 13
    assert "broadcast" not in g.node("fc").attrs
    x = rand(2, 4, seed=2)
    np.testing.assert_allclose(run_graph(g, {"x": x})["y"], np.maximum(x @ w + b, 0), rtol=1e-6, atol=1e-6)


def test_corpus_opset6_pytorch_model(corpus):
    path = corpus / "models/hls4ml/three_layer_bn_pytorch.onnx"
    proto = load_onnx(path)
    assert proto.opset_import[0].version == 6
    upgraded = onnx.version_converter.convert_version(proto, 13)
    require_ops(upgraded)
    g = import_onnx(path)
    assert g.meta["source_opset"] == 6 and g.opset == 13
    verify(g)
    # the file fixes the batch at 789444; the model does not depend on it, so compare at batch 5
    upgraded = free_batch_dim(upgraded)
    feeds = {g.inputs[0].name: rand(5, 16)}
    assert_close(run_graph(g, feeds)[g.output_names[0]], run_ort(upgraded, feeds)[0], what="three_layer_bn")


# --- batch, initializers, constants ---------------------------------------------------------------
def test_symbolic_batch_is_pinned_to_one():
    m = load_onnx(DATA / "pytorch_linear.onnx")
    g = import_onnx(m)
    assert g.batch_symbol == "batch"
    assert g.inputs[0].shape == (1, 16) and g.outputs[0].shape == (1, 5)
    check_against_ort(g, m)


def _mlp(initializers_as_inputs: bool, constant_nodes: bool):
    w1, b1, w2 = rand(6, 8, seed=1), rand(8, seed=2), rand(8, 3, seed=3)
    consts = {"w1": w1, "b1": b1, "w2": w2, "shape": np.array([-1, 6], np.int64)}
    nodes = [helper.make_node("Reshape", ["x", "shape"], ["x2"], name="flat"),
             helper.make_node("Gemm", ["x2", "w1", "b1"], ["h"], name="fc1"),
             helper.make_node("Relu", ["h"], ["hr"], name="act"),
             helper.make_node("Gemm", ["hr", "w2"], ["y"], name="fc2")]
    inits = []
    if constant_nodes:
        nodes = [helper.make_node("Constant", [], [k], name=f"const_{k}", value=numpy_helper.from_array(v, k))
                 for k, v in consts.items()] + nodes
    else:
        inits = [numpy_helper.from_array(v, k) for k, v in consts.items()]
    inputs = [vi("x", TP.FLOAT, ["N", 2, 3])]
    if initializers_as_inputs:  # what exporters before ONNX IR version 4 wrote
        inputs += [vi(k, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape) for k, v in consts.items()]
    graph = helper.make_graph(nodes, "mlp", inputs, [vi("y", TP.FLOAT, ["N", 3])], inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 3 if initializers_as_inputs else 8
    return m


def test_initializers_listed_as_graph_inputs():
    m = _mlp(initializers_as_inputs=True, constant_nodes=False)
    g = import_onnx(m)
    assert g.input_names == ["x"]
    assert {"w1", "b1", "w2"} <= set(g.initializers)
    check_against_ort(g, m)


def test_constant_nodes_become_constants():
    m = _mlp(initializers_as_inputs=False, constant_nodes=True)
    g = import_onnx(m)
    assert [n.op_type for n in g.nodes] == ["Reshape", "Gemm", "Relu", "Gemm"]
    np.testing.assert_array_equal(g.initializers["w2"], numpy_helper.to_array(m.graph.node[2].attribute[0].t))
    check_against_ort(g, m)


def test_constant_node_scalar_forms():
    """Constant with value_float (a scalar bias) and value_ints (a reshape target)."""
    w = rand(4, 3)
    nodes = [helper.make_node("Constant", [], ["c"], name="bias", value_float=2.5),
             helper.make_node("Constant", [], ["shape"], name="target", value_ints=[-1, 4]),
             helper.make_node("Reshape", ["x", "shape"], ["x2"], name="flat"),
             helper.make_node("Gemm", ["x2", "w", "c"], ["y"], name="fc")]
    graph = helper.make_graph(nodes, "scalars", [vi("x", TP.FLOAT, ["N", 2, 2])], [vi("y", TP.FLOAT, ["N", 3])],
                              [numpy_helper.from_array(w, "w")])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    g = import_onnx(m)
    assert [n.op_type for n in g.nodes] == ["Reshape", "Gemm"]
    assert g.initializers["c"].dtype == np.float32 and g.initializers["c"].shape == ()
    x = rand(5, 2, 2, seed=4)
    np.testing.assert_allclose(run_graph(g, {"x": x})["y"], x.reshape(5, 4) @ w + 2.5, rtol=1e-6, atol=1e-6)
    check_against_ort(g, m)


# --- PyTorch exports ------------------------------------------------------------------------
PYTORCH = {
    "pytorch_linear": ["Gemm", "Relu", "Gemm"],
    "pytorch_matmul_add": ["MatMul", "Add", "Relu"],
    "pytorch_flatten": ["Conv", "Relu", "Flatten", "Gemm"],
    "pytorch_view": ["Conv", "Relu", "Reshape", "Gemm"],  # Shape→Gather→Unsqueeze→Concat folded away
    "pytorch_conv_bn_relu_pool": ["Conv", "BatchNormalization", "Relu", "MaxPool"] * 2 + ["Flatten", "Gemm"],
}


@pytest.mark.parametrize("name", sorted(PYTORCH))
def test_pytorch_export(name):
    m = load_onnx(DATA / f"{name}.onnx")
    assert m.producer_name == "pytorch"
    require_ops(m)
    g = import_onnx(m)
    verify(g)
    assert g.batch_symbol == "batch"
    assert [n.op_type for n in g.nodes] == PYTORCH[name]
    check_against_ort(g, m)


def test_pytorch_linear_is_gemm_with_transposed_weights():
    g = import_onnx(DATA / "pytorch_linear.onnx")
    fc = [n for n in g.nodes if n.op_type == "Gemm"]
    assert [n.attrs["transB"] for n in fc] == [1, 1]
    assert [g.shape(n.inputs[1]) for n in fc] == [(12, 16), (5, 12)]


def test_pytorch_view_reshape_runs_on_any_batch():
    """The shape computed from x.size(0) folds to the constant [1, -1] at batch 1; its leading 1 must
    become 0 (copy the batch) or batch 7 would fail."""
    g = import_onnx(DATA / "pytorch_view.onnx")
    reshape = g.nodes[2]
    assert reshape.op_type == "Reshape"
    np.testing.assert_array_equal(g.const(reshape.inputs[1]), [0, -1])
