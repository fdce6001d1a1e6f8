"""QDQ models (QuantizeLinear / DequantizeLinear, as onnxruntime.quantization writes them): import
absorbs the quantisers into the model's own parameters and integers, the quantiser uses them as
given (no calibration), and the emulator matches onnxruntime running the QDQ model.

The reference is onnxruntime with graph optimisations off, which computes the QDQ graph as ONNX
defines it (dequantise, float op, quantise). With its default optimisations onnxruntime fuses the
pairs into its own integer kernels, whose results on this kind of CPU differ from that definition
by several steps; the tests print those figures too.
"""
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import helper, numpy_helper, version_converter

import fpga_accel
from fpga_accel.emulator import emulate
from fpga_accel.errors import InputError, UnsupportedModelError
from fpga_accel.frontend import import_onnx
from fpga_accel.passes import run_flow
from fpga_accel.quant import ChannelQParams, QParams, QType, QuantWarning
from fpga_accel.quant.calibrate import observe_ranges
from fpga_accel.quant.config import QuantConfig
from fpga_accel.quant.given import match_weights, record_weights
from fpga_accel.quant.quantizer import quantize_model, split_edges, tensors_to_observe
from models import data


def run_ort(model, feeds, optimise=False, batch1=False):
    """Outputs of ``model`` (path or proto); ``batch1`` feeds one sample at a time (fixed-batch models)."""
    so = ort.SessionOptions()
    so.log_severity_level = 3
    if not optimise:
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    src = model.SerializeToString() if isinstance(model, onnx.ModelProto) else str(model)
    sess = ort.InferenceSession(src, so, providers=["CPUExecutionProvider"])
    if not batch1:
        return sess.run(None, feeds)[0]
    n = len(next(iter(feeds.values())))
    return np.concatenate([sess.run(None, {k: v[i:i + 1] for k, v in feeds.items()})[0] for i in range(n)])


def compile_given(model):
    """Import + ``hardware`` flow + quantisation with the model's own parameters only."""
    g = import_onnx(model)
    run_flow(g, "hardware", check=True)
    cfg = QuantConfig()
    assert tensors_to_observe(g, split_edges(g)[1], cfg) == {}  # nothing left to calibrate
    return g, quantize_model(g, {}, cfg)


def compare(name, ours, ref, scale, labels=None):
    """Deviation in output steps; prints the figures and returns (share within 1 step, max, top-1 agreement)."""
    steps = np.abs(ours.astype(np.float64) - ref) / scale
    within = float(np.mean(steps <= 1 + 1e-3))
    agree = float(np.mean(ours.argmax(1) == ref.argmax(1)))
    acc = "" if labels is None else (f", accuracy {100 * np.mean(ours.argmax(1) == labels):.2f}% vs "
                                     f"{100 * np.mean(ref.argmax(1) == labels):.2f}%")
    print(f"\n{name}: {100 * within:.2f}% of {steps.size} outputs within 1 step of {scale:.4g}, max "
          f"{steps.max():.2f} steps, {100 * np.mean(steps < 0.5):.2f}% equal; same top-1 on {100 * agree:.2f}%{acc}")
    return within, steps.max(), agree


# --- models/mnist_cnn_qdq: quantize_static, QInt8 activations, per-channel int8 weights ---------------
@pytest.fixture(scope="module")
def mnist_qdq():
    g, qm = compile_given(data.model_path("mnist_cnn_qdq"))
    return g, qm, onnx.load(str(data.model_path("mnist_cnn_qdq")))


def test_mnist_cnn_qdq_matches_onnxruntime(mnist_qdq):
    g, qm, _ = mnist_qdq
    x, y = data.load_test("mnist_cnn")
    ours = emulate(qm, {"input": x}).outputs["logits"]
    scale = g.meta["qparams"]["logits"].scale
    within, worst, agree = compare("mnist_cnn_qdq", ours, run_ort(data.model_path("mnist_cnn_qdq"), {"input": x}),
                                   scale, y)
    assert within >= 0.99 and worst <= 2 + 1e-3 and agree >= 0.995
    # for information: onnxruntime's fused integer kernels (default optimisations)
    fused = run_ort(data.model_path("mnist_cnn_qdq"), {"input": x}, optimise=True)
    compare("mnist_cnn_qdq vs onnxruntime with its QDQ fusions", ours, fused, scale, y)


def test_mnist_cnn_qdq_uses_the_model_integers_exactly(mnist_qdq):
    g, qm, model = mnist_qdq
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    layers = {"/0/Conv": "onnx::Conv_26", "/4/Conv": "onnx::Conv_29", "/9/Gemm": "9.weight"}
    biases = {"/0/Conv": "onnx::Conv_27_quantized", "/4/Conv": "onnx::Conv_30_quantized",
              "/9/Gemm": "9.bias_quantized"}
    for layer, w in layers.items():
        lay = qm.layer(layer)
        q_model, s_model = inits[f"{w}_quantized"], inits[f"{w}_scale"]
        q = lay.consts["weights"]
        if layer == "/9/Gemm":  # it reads the NHWC flatten of (16, 7, 7) now: the model's columns, permuted
            q_model = q_model.reshape(10, 16, 7, 7).transpose(0, 2, 3, 1).reshape(10, -1)
        np.testing.assert_array_equal(q, q_model, err_msg=layer)
        # the int32 bias: what the layer adds is the model's, with the input zero point folded in
        zp_in = lay.config["zp_in"]
        bias = lay.consts["bias"] + zp_in * lay.consts["weights"].reshape(len(q), -1).astype(np.int64).sum(axis=1)
        np.testing.assert_array_equal(bias, inits[biases[layer]], err_msg=layer)
        p_in, p_out = (qm.tensors[t].qparams for t in (lay.inputs[0], lay.outputs[0]))
        np.testing.assert_allclose(lay.consts["M"] / 2.0 ** lay.consts["shift"], p_in.scale * s_model / p_out.scale,
                                   rtol=2 ** -17)
    assert qm.tensors[qm.inputs[0].name].qparams == g.meta["qparams"]["input"]  # the host quantises with it


def test_qdq_model_compiles_without_calibration_data(tmp_path):
    b = fpga_accel.compile(data.model_path("mnist_cnn_qdq"), tmp_path / "m.fpga", progress=False, generators=[])
    x, _ = data.load_test("mnist_cnn")
    g, qm = compile_given(data.model_path("mnist_cnn_qdq"))
    from fpga_accel.compiler import load_qmodel

    np.testing.assert_array_equal(emulate(load_qmodel(b), {"input": x[:200]}).outputs["logits"],
                                  emulate(qm, {"input": x[:200]}).outputs["logits"])


# --- a QDQ model made here from a corpus model: uint8 activations, per-tensor weights -----------------
def test_quantize_static_on_a_corpus_mnist_matches_onnxruntime(corpus, tmp_path):
    from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, \
        quantize_static

    d = np.load(corpus / "data" / "mnist_5k.npz")
    x, y = d["X"][:, None].astype(np.float32), d["y"]  # this model takes pixels 0..255

    class Reader(CalibrationDataReader):
        def __init__(self, xs):
            self.it = iter([{"Input3": v[None]} for v in xs])

        def get_next(self):
            return next(self.it, None)

    f32 = tmp_path / "float.onnx"
    onnx.save(version_converter.convert_version(onnx.load(str(corpus / "models/onnx2c/mnist/model.onnx")), 13), f32)
    qdq = tmp_path / "qdq.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        quantize_static(str(f32), str(qdq), Reader(x[::50]), quant_format=QuantFormat.QDQ, per_channel=False,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        calibrate_method=CalibrationMethod.MinMax)
    g, qm = compile_given(qdq)
    assert {t.qparams.qtype for t in qm.tensors.values()} == {QType(8, False)}
    n = 1000
    ours = emulate(qm, {"Input3": x[:n]}).outputs[g.output_names[0]]
    ref = run_ort(qdq, {"Input3": x[:n]}, batch1=True)  # the model fixes the batch to 1
    within, worst, agree = compare("onnx2c mnist, quantize_static uint8 per-tensor", ours, ref,
                                   g.meta["qparams"][g.output_names[0]].scale, y[:n])
    # onnxruntime rounds the convolution before adding the bias (two Q/DQ pairs); one rounding here
    assert within >= 0.99 and worst <= 2 + 1e-3 and agree >= 0.99


# --- small QDQ models built here ---------------------------------------------------------------------
def qdq_model(nodes, inits, x_shape=("N", 2, 6, 6), x_type=onnx.TensorProto.FLOAT, out="y", out_type=None):
    m = helper.make_model(helper.make_graph(
        nodes, "qdq", [helper.make_tensor_value_info("x", x_type, list(x_shape))],
        [helper.make_tensor_value_info(out, out_type or onnx.TensorProto.FLOAT, None)],
        [numpy_helper.from_array(np.asarray(v), k) for k, v in inits.items()]),
        opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    return m


def q(x, s, z, y):
    return helper.make_node("QuantizeLinear", [x, s, z], [y])


def dq(x, s, z, y, **kw):
    return helper.make_node("DequantizeLinear", [x, s, z], [y], **kw)


def conv_net(relu=True, mid_scale=0.12, x_input_int=False):
    """[x → Q → DQ] → Conv(DQ w int8 per channel, DQ b int32) [→ Relu] → Q → DQ → MaxPool → Q → DQ → Flatten →
    Gemm(DQ w) → Q → DQ → y."""
    r = np.random.default_rng(3)
    w = r.integers(-127, 128, (4, 2, 3, 3)).astype(np.int8)
    ws = (r.uniform(0.5, 2, 4) * 0.01).astype(np.float32)
    b = r.integers(-500, 500, 4).astype(np.int32)
    w2 = r.integers(-127, 128, (3, 36)).astype(np.int8)
    inits = {"xs": np.float32(0.02), "xz": np.int8(3), "w": w, "ws": ws, "wz": np.zeros(4, np.int8), "b": b,
             "bs": (ws * np.float32(0.02)).astype(np.float32), "bz": np.zeros(4, np.int32),
             "as": np.float32(mid_scale), "az": np.uint8(0), "ms": np.float32(mid_scale), "w2": w2,
             "w2s": np.float32(0.01), "w2z": np.int8(0), "ys": np.float32(0.6), "yz": np.int8(-5)}
    nodes = [] if x_input_int else [q("x", "xs", "xz", "xq")]
    nodes += [dq("xq" if not x_input_int else "x", "xs", "xz", "xd"), dq("w", "ws", "wz", "wd", axis=0),
              dq("b", "bs", "bz", "bd", axis=0), helper.make_node("Conv", ["xd", "wd", "bd"], ["c"], pads=[1, 1, 1, 1])]
    if relu:
        nodes.append(helper.make_node("Relu", ["c"], ["cr"]))
    nodes += [q("cr" if relu else "c", "as", "az", "cq"), dq("cq", "as", "az", "cd"),
              helper.make_node("MaxPool", ["cd"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
              q("p", "ms", "az", "pq"), dq("pq", "ms", "az", "pd"), helper.make_node("Flatten", ["pd"], ["f"]),
              dq("w2", "w2s", "w2z", "w2d"), helper.make_node("Gemm", ["f", "w2d"], ["o"], transB=1),
              q("o", "ys", "yz", "oq"), dq("oq", "ys", "yz", "y")]
    return qdq_model(nodes, inits, x_type=onnx.TensorProto.INT8 if x_input_int else onnx.TensorProto.FLOAT)


def test_relu_before_a_pair_gives_the_conv_output_its_parameters():
    m = conv_net(relu=True)
    g = import_onnx(m)
    assert g.meta["qparams"]["cr"] == QParams(np.float32(0.12), 0, QType(8, False))  # recorded on the Relu output
    g, qm = compile_given(m)
    conv = qm.layer(next(n.name for n in g.nodes if n.op_type == "Conv"))
    assert conv.outputs[0] != "cr" and qm.tensors[conv.outputs[0]].qparams.scale == np.float32(0.12)  # renamed
    assert conv.config["lo"] == 0  # the fused Relu
    x = np.random.default_rng(4).standard_normal((64, 2, 6, 6)).astype(np.float32) * 2
    ours = emulate(qm, {"x": x}).outputs["y"]
    ref = run_ort(m, {"x": x})
    within, worst, _ = compare("small conv net", ours, ref, 0.6)
    assert within == 1.0 and np.mean(np.abs(ref) < 60) > 0.9  # (outputs mostly inside the range)


def test_integer_model_input_and_output_stay_on_the_host():
    m = conv_net(x_input_int=True)
    out_q = helper.make_tensor_value_info("oq", onnx.TensorProto.INT8, None)
    m.graph.node.pop()  # the model returns the int8 output of the last QuantizeLinear
    m.graph.output.pop()
    m.graph.output.append(out_q)
    g, qm = compile_given(m)
    assert [n.op_type for n in qm.host_before.nodes][:1] == ["DequantizeLinear"]
    assert [n.op_type for n in qm.host_after.nodes] == ["QuantizeLinear"]
    x = np.random.default_rng(5).integers(-128, 128, (64, 2, 6, 6)).astype(np.int8)
    ref = run_ort(m, {"x": x})
    ours = emulate(qm, {"x": x}).outputs["oq"]
    assert ours.dtype == np.int8 and np.abs(ours.astype(int) - ref).max() <= 1
    assert len(np.unique(ref)) > 50  # (not saturated)


def test_a_tensor_without_parameters_needs_calibration():
    m = conv_net(relu=False)
    # the Gemm's output is not quantised by the model
    m.graph.node.pop()
    m.graph.node.pop()
    m.graph.output[0].name = "o"
    g = import_onnx(m)
    run_flow(g, "hardware")
    cfg = QuantConfig()
    want = tensors_to_observe(g, split_edges(g)[1], cfg)
    assert list(want) == ["o"]
    with pytest.raises(InputError, match="tensor 'o' has no quantisation parameters: the model gives none"):
        quantize_model(g, {}, cfg)
    x = np.random.default_rng(6).standard_normal((32, 2, 6, 6)).astype(np.float32)
    qm = quantize_model(g, observe_ranges(g, {"x": x}, want), cfg)
    assert qm.tensors["o"].qparams.qtype == QType(8, True)
    assert qm.tensors[qm.inputs[0].name].qparams == QParams(np.float32(0.02), 3, QType(8))  # still given


def test_pairs_with_different_parameters_are_reported():
    m = conv_net()
    m.graph.initializer.append(numpy_helper.from_array(np.float32(0.3), "other"))
    next(n for n in m.graph.node if n.output[0] == "cd").input[1] = "other"
    with pytest.raises(UnsupportedModelError, match="dequantises 'cq' with other parameters"):
        import_onnx(m)


def test_per_axis_activation_parameters_are_reported():
    m = conv_net()
    m.graph.initializer.append(numpy_helper.from_array(np.full(4, 0.05, np.float32), "as4"))
    m.graph.initializer.append(numpy_helper.from_array(np.zeros(4, np.uint8), "az4"))
    for n in m.graph.node:
        if n.output[0] in ("cq", "cd"):
            n.input[1], n.input[2] = "as4", "az4"
    with pytest.raises(UnsupportedModelError, match="per-axis parameters \\(4 scales\\) on an activation"):
        import_onnx(m)


def test_integers_read_by_another_op_are_reported():
    m = conv_net()
    for n in m.graph.node:
        if n.output[0] == "cd":
            n.CopyFrom(helper.make_node("Cast", ["cq"], ["cd"], to=1, name="to_float"))
    with pytest.raises(UnsupportedModelError, match="its integers are read by 'to_float' \\(Cast\\)"):
        import_onnx(m)


def test_a_pass_through_op_with_other_output_parameters_is_reported():
    m = conv_net()
    next(i for i in m.graph.initializer if i.name == "ms").CopyFrom(numpy_helper.from_array(np.float32(0.2), "ms"))
    g = import_onnx(m)
    run_flow(g, "hardware")
    with pytest.raises(UnsupportedModelError, match="passes the input's integers through, so they must be equal"):
        quantize_model(g, {}, QuantConfig())


# --- given weights -----------------------------------------------------------------------------------
def test_given_weights_are_found_after_permutation_transposition_and_channel_scaling():
    r = np.random.default_rng(7)
    q = r.integers(-127, 128, (6, 20)).astype(np.int8)
    s = r.uniform(0.01, 0.1, 6)
    given = {"w": (q, ChannelQParams(s, "int8", 0, narrow=False)),
             "other": (r.integers(-127, 128, (6, 20)).astype(np.int8), ChannelQParams(s, "int8", 0, narrow=False))}
    w = (q * s[:, None]).astype(np.float32)
    q_got, p = match_weights(given, w, 0)  # unchanged: the given scales exactly
    np.testing.assert_array_equal(q_got, q)
    np.testing.assert_array_equal(p.scales, s)
    assert p.qtype == QType(8) and not p.narrow
    perm, bn = r.permutation(20), r.uniform(-2, 2, 6)  # Transpose absorbed into the rows, BatchNorm folded in
    w2 = (w[:, perm] * bn[:, None]).astype(np.float32).T  # a MatMul's (K, N) layout: channels on axis 1
    q2, p2 = match_weights(given, w2, 1, prefer="not_there")
    np.testing.assert_array_equal(q2, (q[:, perm] * np.sign(bn)[:, None]).T)
    np.testing.assert_allclose(p2.scales, s * np.abs(bn), rtol=1e-6)
    np.testing.assert_allclose(q2 * p2.scales, w2, rtol=1e-6)
    assert match_weights(given, r.standard_normal((6, 20)), 0) is None
    flipped = q.copy()
    flipped[0, 0] = -128  # negating channel 0 would need +128, outside int8
    given["w"] = (flipped, ChannelQParams(s, "int8", 0, narrow=False))
    w3 = (flipped * s[:, None]).astype(np.float32) * -1.0
    assert match_weights({"w": given["w"]}, w3, 0) is None


def test_uint8_weights_with_a_zero_point_are_recorded_centred_and_signed():
    from fpga_accel.ir import Graph

    g = Graph()
    u = np.array([[0, 128, 255], [10, 130, 250]], np.uint8)
    assert record_weights(g, "w", u, np.float32(0.5), np.uint8(128), (0, 255))
    q, p = g.meta["weights"]["w"]
    np.testing.assert_array_equal(q, u.astype(int) - 128)
    assert p.qtype == QType(8) and p.axis == 0 and np.all(p.scales == 0.5)
    assert not record_weights(g, "v", u, np.float32(0.5), np.float32(0.5), (0, 255))  # non-integer zero point


def test_a_layer_without_given_weights_in_a_qdq_model_warns():
    m = conv_net()
    w2 = next(i for i in m.graph.initializer if i.name == "w2")
    w2_float = numpy_helper.to_array(w2).astype(np.float32) * 0.01
    w2.CopyFrom(numpy_helper.from_array(w2_float, "w2f"))
    for n in m.graph.node:
        if n.op_type == "Gemm":
            n.input[1] = "w2f"
    m.graph.node.remove(next(n for n in m.graph.node if n.output[0] == "w2d"))
    g = import_onnx(m)
    run_flow(g, "hardware")
    with pytest.warns(QuantWarning, match="the model gives quantised weights, but none match this layer's"):
        quantize_model(g, {}, QuantConfig())

