"""The importer and the float executor refuse bad models and bad inputs with messages that say
what is wrong, where, and what to do. The key messages are pinned here."""
import pathlib

import numpy as np
import pytest
from onnx import TensorProto as TP
from onnx import helper, numpy_helper

from fpga_accel.errors import InputError, ModelError, ShapeError, UnsupportedModelError
from fpga_accel.frontend import import_onnx
from fpga_accel.ir import run_graph

DATA = pathlib.Path(__file__).parent / "data"
vi = helper.make_tensor_value_info


def make_model(nodes, inputs, outputs, inits=(), opset=13, domains=()):
    graph = helper.make_graph(nodes, "m", inputs, outputs, list(inits))
    opsets = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, 1) for d in domains]
    m = helper.make_model(graph, opset_imports=opsets)
    m.ir_version = 8
    return m


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


# --- files that are not models ---------------------------------------------------------------
def test_missing_file(tmp_path):
    path = tmp_path / "nothere.onnx"
    with pytest.raises(ModelError, match=r"nothere\.onnx: no such model file"):
        import_onnx(path)


def test_random_bytes(tmp_path):
    path = tmp_path / "noise.onnx"
    path.write_bytes(np.random.default_rng(3).bytes(4096))
    with pytest.raises(ModelError) as e:
        import_onnx(path)
    msg = str(e.value)
    assert msg.startswith(f"{path}: not a valid ONNX file")
    assert "export the model again" in msg


@pytest.mark.parametrize("keep", [0.25, 0.5, 0.9])
def test_truncated_protobuf(tmp_path, keep):
    data = (DATA / "pytorch_linear.onnx").read_bytes()
    path = tmp_path / "cut.onnx"
    path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(ModelError, match=r"cut\.onnx: not a valid ONNX file .*not truncated"):
        import_onnx(path)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.onnx"
    path.write_bytes(b"")
    with pytest.raises(ModelError, match="holds no graph nodes"):
        import_onnx(path)


# --- inconsistent models ---------------------------------------------------------------------
def test_missing_initializer_names_node_and_tensor():
    m = make_model([helper.make_node("Gemm", ["x", "W", "b"], ["y"], name="fc", transB=1)],
                   [vi("x", TP.FLOAT, ["N", 4])], [vi("y", TP.FLOAT, ["N", 3])],
                   [numpy_helper.from_array(rand(3), "b")])
    with pytest.raises(ModelError) as e:
        import_onnx(m)
    assert "node 'fc' (Gemm): input(s) ['W'] are defined nowhere (missing initializer or graph input?)" \
        in str(e.value)


def _dynamic_model():
    return make_model([helper.make_node("Relu", ["x"], ["y"], name="r")],
                      [vi("x", TP.FLOAT, ["N", 3, "H", "W"])], [vi("y", TP.FLOAT, ["N", 3, "H", "W"])])


def test_dynamic_non_batch_dim_is_refused_with_the_way_out():
    with pytest.raises(ShapeError) as e:
        import_onnx(_dynamic_model())
    assert str(e.value) == ("model: input 'x' has dynamic dimension(s) ['H', 'W'] at axis [2, 3] that cannot be "
                            "resolved; pass input_shapes={'x': (...)} (CLI: --input-shape x=1,...)")


def test_input_shapes_resolves_dynamic_dims():
    g = import_onnx(_dynamic_model(), input_shapes={"x": (1, 3, 5, 6)})
    assert g.inputs[0].shape == (1, 3, 5, 6)
    assert g.batch_symbol == "N"  # the model's batch stays symbolic
    x = rand(4, 3, 5, 6)
    np.testing.assert_array_equal(run_graph(g, {"x": x})["y"], np.maximum(x, 0))


@pytest.mark.parametrize("shapes,message", [
    ({"z": (1, 3, 5, 6)}, "input_shapes names unknown input(s) ['z']; inputs are ['x']"),
    ({"x": (1, 3, 5)}, "gives input 'x' the shape (1, 3, 5) (rank 3) but the model declares ['N', 3, 'H', 'W']"),
    ({"x": (1, 4, 5, 6)}, "the model fixes axis [1] to [3]"),
    ({"x": (1, 3, 0, 6)}, "every dimension must be at least 1"),
])
def test_input_shapes_that_do_not_fit(shapes, message):
    with pytest.raises(ShapeError) as e:
        import_onnx(_dynamic_model(), input_shapes=shapes)
    assert message in str(e.value)


# --- wrong inputs to the float executor ---------------------------------------------------------
@pytest.fixture(scope="module")
def relu_graph():
    return import_onnx(_dynamic_model(), input_shapes={"x": (1, 3, 4, 4)})


@pytest.mark.parametrize("feeds,message", [
    ({"z": rand(1, 3, 4, 4)}, "inputs must be ['x']; missing ['x'], unexpected ['z']"),
    ({"x": rand(1, 3, 4, 4), "q": rand(1)}, "inputs must be ['x']; missing [], unexpected ['q']"),
    ({}, "inputs must be ['x']; missing ['x'], unexpected []"),
    ({"x": rand(1, 3, 4, 5)}, "input 'x' has shape (1, 3, 4, 5); expected ('N', 3, 4, 4) (N = batch)"),
    ({"x": rand(3, 4, 4)}, "input 'x' has shape (3, 4, 4); expected ('N', 3, 4, 4) (N = batch)"),
    ({"x": np.zeros((1, 3, 4, 4), bool)}, "input 'x' has dtype bool; expected float32"),
    ({"x": np.full((1, 3, 4, 4), "a")}, "input 'x' has dtype <U1; expected float32"),
])
def test_run_graph_rejects_wrong_inputs(relu_graph, feeds, message):
    with pytest.raises(InputError) as e:
        run_graph(relu_graph, feeds)
    assert str(e.value) == message


def test_run_graph_accepts_integers_for_float_inputs(relu_graph):
    x = np.arange(-24, 24, dtype=np.int64).reshape(1, 3, 4, 4)
    y = run_graph(relu_graph, {"x": x})["y"]
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, np.maximum(x, 0).astype(np.float32))


# --- unsupported models: every problem in one error ----------------------------------------------
def test_every_unsupported_node_is_named_at_once():
    nodes = [
        helper.make_node("MyOp", ["x"], ["a"], name="custom_node", domain="com.example"),
        helper.make_node("Relu", ["a"], ["ra"], name="after_custom"),  # downstream: not reported again
        helper.make_node("LSTM", ["seq", "W", "R"], ["l"], name="lstm_node", hidden_size=4),
        helper.make_node("NonMaxSuppression", ["boxes", "scores"], ["sel"], name="nms_node"),
        helper.make_node("Gemm", ["x", "Wg"], ["g"], name="gemm_transA", transA=1),
        helper.make_node("Relu", ["x"], ["fine"], name="supported_node"),
    ]
    inputs = [vi("x", TP.FLOAT, [4, 4]), vi("seq", TP.FLOAT, [2, 1, 4]), vi("boxes", TP.FLOAT, [1, 5, 4]),
              vi("scores", TP.FLOAT, [1, 1, 5])]
    outputs = [vi("ra", TP.FLOAT, None), vi("l", TP.FLOAT, None), vi("sel", TP.INT64, None),
               vi("g", TP.FLOAT, None), vi("fine", TP.FLOAT, None)]
    inits = [numpy_helper.from_array(rand(1, 16, 4), "W"), numpy_helper.from_array(rand(1, 16, 4), "R"),
             numpy_helper.from_array(rand(4, 3), "Wg")]
    m = make_model(nodes, inputs, outputs, inits, domains=["com.example"])
    with pytest.raises(UnsupportedModelError) as e:
        import_onnx(m)
    err = e.value
    assert [(p.node, p.op_type) for p in err.problems] == [
        ("custom_node", "MyOp"), ("lstm_node", "LSTM"), ("nms_node", "NonMaxSuppression"),
        ("gemm_transA", "Gemm")]
    assert str(err).splitlines() == [
        "model: 4 unsupported node(s):",
        "  - node 'custom_node' (MyOp): op is not supported in domain 'com.example'",
        "  - node 'lstm_node' (LSTM): op is not supported",
        "  - node 'nms_node' (NonMaxSuppression): op is not supported",
        "  - node 'gemm_transA' (Gemm): transA=1 is not supported (the batch must stay on axis 0)",
        "Run `fpga-accel ops` for the supported ops and attributes.",
    ]


def test_unknown_attribute_is_named():
    m = make_model([helper.make_node("Relu", ["x"], ["y"], name="odd_relu", flavour="spicy")],
                   [vi("x", TP.FLOAT, [1, 4])], [vi("y", TP.FLOAT, [1, 4])])
    with pytest.raises(UnsupportedModelError, match=r"node 'odd_relu' \(Relu\): attribute 'flavour' is not supported"):
        import_onnx(m)
