"""QONNX models (Quant / BipolarQuant): the float reference is qonnx's, import keeps the model's own
integers and parameters, and the emulator runs the Brevitas TFC networks as onnxruntime runs them
in QCDQ form (QuantizeLinear → Clip → DequantizeLinear, the form qonnx exports for ≤ 8 bits)."""
import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import helper, numpy_helper
from qonnx_util import to_qcdq

from fpga_accel.emulator import emulate
from fpga_accel.errors import UnsupportedModelError
from fpga_accel.frontend import import_onnx
from fpga_accel.ir import run_graph
from fpga_accel.ops import lookup
from fpga_accel.passes import run_flow
from fpga_accel.quant import QParams, QType
from fpga_accel.quant.config import QuantConfig
from fpga_accel.quant.quantizer import quantize_model, split_edges, tensors_to_observe

DOMAIN = "qonnx.custom_op.general"
#: published accuracies of the qonnx model zoo's Brevitas TFC networks (full MNIST test set)
PUBLISHED = {"TFC_2W2A": 96.6, "TFC_1W2A": 94.8}


# --- the float reference ---------------------------------------------------------------------------
def quant_node(**attrs):
    from fpga_accel.ir.graph import Node

    return Node("q", "Quant", ["x", "s", "z", "b"], ["y"], {**lookup("Quant", DOMAIN).attrs, **attrs}, DOMAIN)


@pytest.mark.parametrize("mode,want", [  # qonnx's table of rounding modes (docs/qonnx-custom-ops/quant_op.md)
    ("ROUND", [6, 2, 2, 1, 1, -1, -1, -2, -2, -6]),
    ("CEIL", [6, 3, 2, 2, 1, -1, -1, -1, -2, -5]),
    ("FLOOR", [5, 2, 1, 1, 1, -1, -2, -2, -3, -6]),
    ("UP", [6, 3, 2, 2, 1, -1, -2, -2, -3, -6]),
    ("DOWN", [5, 2, 1, 1, 1, -1, -1, -1, -2, -5]),
    ("HALF_UP", [6, 3, 2, 1, 1, -1, -1, -2, -3, -6]),
    ("HALF_DOWN", [5, 2, 2, 1, 1, -1, -1, -2, -2, -5]),
])
def test_quant_rounding_modes_follow_the_qonnx_table(mode, want):
    x = np.array([5.5, 2.5, 1.6, 1.1, 1.0, -1.0, -1.1, -1.6, -2.5, -5.5], np.float32)
    f = np.float32
    y, = lookup("Quant", DOMAIN).run(quant_node(rounding_mode=mode), [x, f(1), f(0), f(8)])
    np.testing.assert_array_equal(y, want)


@pytest.mark.parametrize("signed,narrow,bits,lo,hi", [(1, 0, 4, -8, 7), (1, 1, 4, -7, 7), (0, 0, 4, 0, 15),
                                                      (0, 1, 4, 0, 14), (1, 1, 2, -1, 1), (0, 0, 1, 0, 1)])
def test_quant_clamps_to_the_qonnx_integer_range(signed, narrow, bits, lo, hi):
    x = np.linspace(-40, 40, 81).astype(np.float32)
    y, = lookup("Quant", DOMAIN).run(quant_node(signed=signed, narrow=narrow),
                                     [x, np.float32(0.5), np.float32(0), np.float32(bits)])
    q = y / 0.5
    assert q.min() == lo and q.max() == hi
    np.testing.assert_array_equal(q, np.clip(np.rint(x / 0.5), lo, hi))


def test_signed_one_bit_quant_and_bipolar_quant_give_plus_minus_scale():
    x = np.array([-2.0, -0.1, 0.0, 0.3], np.float32)
    y, = lookup("Quant", DOMAIN).run(quant_node(), [x, np.float32(0.25), np.float32(0), np.float32(1)])
    b, = lookup("BipolarQuant", DOMAIN).run(None, [x, np.float32(0.25)])
    np.testing.assert_array_equal(y, [-0.25, -0.25, 0.25, 0.25])
    np.testing.assert_array_equal(b, y)


# --- QCDQ: the same model as onnxruntime runs it ---------------------------------------------------
def run_ort(model: onnx.ModelProto, feeds: dict, every: bool = False):
    """The first output (``every``: all of them) of ``model`` run by onnxruntime as ONNX defines it."""
    so = ort.SessionOptions()
    so.log_severity_level = 3
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    outs = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"]).run(None, feeds)
    return outs if every else outs[0]


def compile_given(path_or_model):
    """Import, ``hardware`` flow and quantisation with nothing but the model's own parameters."""
    g = import_onnx(path_or_model)
    run_flow(g, "hardware", check=True)
    cfg = QuantConfig()
    assert tensors_to_observe(g, split_edges(g)[1], cfg) == {}  # no calibration needed
    return g, quantize_model(g, {}, cfg)


# --- the Brevitas TFC networks ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def mnist(corpus_dir):
    d = np.load(corpus_dir / "data" / "mnist_5k.npz")
    return (d["X"][:, None] / 255.0).astype(np.float32), d["y"]  # Brevitas TFC: (N, 1, 28, 28) in [0, 1]


@pytest.fixture(scope="module")
def corpus_dir():
    from conftest import CORPUS

    if not CORPUS.is_dir():
        pytest.skip(f"test corpus not found at {CORPUS}")
    return CORPUS


@pytest.mark.parametrize("name", ["TFC_2W2A", "TFC_1W2A"])
def test_tfc_matches_onnxruntime_on_the_qcdq_form(corpus_dir, mnist, name):
    path = corpus_dir / "models" / "qonnx" / f"{name}.onnx"
    x, y = mnist
    g, qm = compile_given(path)
    b, _hw, a = split_edges(g)
    assert [n.op_type for n in b] == ["Reshape", "Mul", "Sub", "Clip"]  # x/255 → 2x − 1 → narrow int2, on the host
    assert [n.op_type for n in a] == ["Sub", "Div", "Mul", "Add"]  # the final scalar norm, in float
    w_values = {-1, 1} if name == "TFC_1W2A" else {-1, 0, 1}
    for lay in qm.layers:
        assert lay.config["weight_qtype"] == "int2" and set(np.unique(lay.consts["weights"])) <= w_values
    for t in qm.tensors.values():  # every activation is the model's narrow int2 but the exact last sum
        assert t.qparams in (QParams(1.0, 0, QType(2)), QParams(1.0, 0, QType(8)), QParams(1.0, 0, QType(9)))
    assert [lay.config["lo"] for lay in qm.layers[:-1]] == [-1, -1, -1]  # narrow: -2 never occurs
    last = qm.layers[-1]
    assert set(last.consts["M"]) == {1 << 16} and set(last.consts["shift"]) == {16}  # m = 1: the sum is exact

    ours = emulate(qm, {g.input_names[0]: x}).outputs[g.output_names[0]]
    ref = run_ort(to_qcdq(onnx.load(str(path))), {"0": x})
    acc, acc_ref = 100 * np.mean(ours.argmax(1) == y), 100 * np.mean(ref.argmax(1) == y)
    agree = 100 * np.mean(ours.argmax(1) == ref.argmax(1))
    print(f"\n{name} on mnist_5k: emulator {acc:.2f}%, onnxruntime (QCDQ) {acc_ref:.2f}%, published "
          f"{PUBLISHED[name]}% (full MNIST test set), same top-1 on {agree:.2f}%, max |diff| "
          f"{np.abs(ours - ref).max():.3f}")
    assert abs(acc - acc_ref) <= 1.0
    assert acc >= PUBLISHED[name] - 0.5
    assert agree >= 99.0


def test_tfc_float_graph_after_import_is_the_model_without_its_quantisers(corpus_dir, mnist):
    """The imported graph computes in float (quantisers absorbed); its accuracy stays close to the
    quantised model's, which shows the absorbed parameters sit on the right tensors."""
    g = import_onnx(corpus_dir / "models" / "qonnx" / "TFC_2W2A.onnx")
    assert not any(n.op_type in ("Quant", "BipolarQuant") for n in g.nodes)
    qp = g.meta["qparams"]
    assert all(qp[t] == QParams(1.0, 0, QType(2)) for t in ("39", "51", "63", "75"))  # the Quant outputs
    assert qp["82"] == QParams(1.0, 0, QType(8))  # the last MatMul's exact sum: |Σ| <= 2·Σ|w| <= 127
    assert g.meta["preprocess"] == ["Reshape_5", "Mul_7", "Sub_9", "Quant_13_range"]
    x, y = mnist
    out = run_graph(g, {g.input_names[0]: x[:1000]})[g.output_names[0]]
    assert np.mean(out.argmax(1) == y[:1000]) > 0.9


# --- small QONNX models built here ---------------------------------------------------------------
def qonnx_model(nodes, inits, x_shape=(1, 16), out="y"):
    m = helper.make_model(
        helper.make_graph(nodes, "q", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, list(x_shape))],
                          [helper.make_tensor_value_info(out, onnx.TensorProto.FLOAT, None)],
                          [numpy_helper.from_array(np.asarray(v, np.float32), k) for k, v in inits.items()]),
        opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid(DOMAIN, 1)])
    m.ir_version = 8
    return m


def quant(x, y, s, z, b, **attrs):
    return [helper.make_node("Quant", [x, s, z, b], [y], domain=DOMAIN, **attrs)]


def mlp(act_attrs, act_bits=4, in_attrs=None, in_zp=0.0, w_scale=None):
    """x → Quant → MatMul(Quant(W)) + b → Relu → Quant(act_attrs) → MatMul(Quant(W2)) → Quant → y."""
    r = np.random.default_rng(5)
    inits = {"W": r.standard_normal((16, 8)), "W2": r.standard_normal((8, 4)), "B": r.standard_normal(8) * 0.5,
             "s_in": 1 / 16, "s_w": w_scale if w_scale is not None else 0.25, "s_w2": 0.2, "s_a": 0.1, "s_o": 0.05,
             "zero": 0.0, "z_in": in_zp, "b8": 8.0, "b4": 4.0, "b3": 3.0, "b_act": float(act_bits)}
    nodes = (quant("x", "xq", "s_in", "z_in", "b8", **(in_attrs or {"signed": 1}))
             + quant("W", "Wq", "s_w", "zero", "b4", narrow=1)
             + [helper.make_node("MatMul", ["xq", "Wq"], ["h"]), helper.make_node("Add", ["h", "B"], ["hb"]),
                helper.make_node("Relu", ["hb"], ["r"])]
             + quant("r", "rq", "s_a", "zero", "b_act", **act_attrs)
             + quant("W2", "W2q", "s_w2", "zero", "b3")
             + [helper.make_node("MatMul", ["rq", "W2q"], ["o"])]
             + quant("o", "y", "s_o", "zero", "b8"))
    return qonnx_model(nodes, inits)


W_SCALES = np.array([0.2, 0.25, 0.3, 0.1, 0.15, 0.22, 0.4, 0.05])


@pytest.mark.parametrize("act,bits,qtype,lo,hi,in_attrs,in_zp", [
    ({"signed": 0}, 4, QType(4, False), 0, 15, None, 0.0),
    ({"signed": 0, "narrow": 1}, 4, QType(4, False), 0, 14, None, 0.0),
    ({"signed": 1, "narrow": 1}, 4, QType(4, True), 0, 7, None, 0.0),  # the Relu sets lo, narrow does not matter
    ({"signed": 0}, 1, QType(2, False), 0, 1, {"signed": 0}, 128.0),  # binary {0, 1}; a uint8 input, zero point 128
], ids=["uint4", "uint4_narrow", "int4_narrow", "uint1_binary"])
def test_small_qonnx_mlp_is_within_one_step_of_its_qcdq_form(act, bits, qtype, lo, hi, in_attrs, in_zp):
    m = mlp(act, bits, in_attrs, in_zp, w_scale=W_SCALES.reshape(1, 8))  # weights per output channel
    _g, qm = compile_given(m)
    x = np.random.default_rng(6).uniform(-8, 8, (500, 16)).astype(np.float32)
    res = emulate(qm, {"x": x}, keep=True)
    lay = qm.layers[0]  # the Gemm (MatMul + bias + Relu) writing the activation Quant's tensor
    p = qm.tensors[lay.outputs[0]].qparams
    assert p == QParams(np.float32(0.1), 0, qtype) and (lay.config["lo"], lay.config["hi"]) == (lo, hi)
    assert qm.tensors[qm.inputs[0].name].qparams.zero_point == in_zp
    w = numpy_helper.to_array(next(t for t in m.graph.initializer if t.name == "W"))
    np.testing.assert_array_equal(lay.consts["weights"], np.clip(np.rint(w / W_SCALES), -7, 7).T)  # narrow int4
    np.testing.assert_allclose(lay.consts["M"] / 2.0 ** lay.consts["shift"], W_SCALES / 16 / np.float32(0.1),
                               rtol=2 ** -16)  # m = s_in · s_w[c] / s_out with the model's per-channel scales

    ref_model = to_qcdq(m)
    ref_model.graph.output.append(helper.make_tensor_value_info("rq", onnx.TensorProto.FLOAT, None))
    ref_y, ref_h = run_ort(ref_model, {"x": x}, every=True)
    h_steps = np.abs(res.tensors[lay.outputs[0]] - (np.rint(ref_h / p.scale) + p.zero_point))
    y_steps = np.abs(res.outputs["y"] - ref_y) / 0.05
    print(f"\n{qtype} hidden layer: {100 * np.mean(h_steps == 0):.2f}% equal (max {h_steps.max():.0f} step), "
          f"output {100 * np.mean(y_steps < 0.5):.2f}% equal (max {y_steps.max():.2f} steps)")
    # the bias is an integer at s_in·s_w and requantisation rounds ties up: a hidden value may be one
    # step off; one hidden step moves the output by |w2|·s_a/s_o <= 1.2 steps, hence 2 at most there
    assert h_steps.max() <= 1 and np.mean(h_steps == 0) >= 0.99
    assert y_steps.max() <= 2 + 1e-4 and np.mean(y_steps < 0.5) >= 0.95


def test_output_quant_stays_on_the_host_and_gives_the_hardware_output_its_parameters():
    m = mlp({"signed": 0})
    g = import_onnx(m)
    assert [n.op_type for n in g.nodes][-1] == "Quant"  # float semantics kept for the model output
    assert g.meta["qparams"]["o"] == QParams(np.float32(0.05), 0, QType(8))
    run_flow(g, "hardware")
    _b, _hw, a = split_edges(g)
    assert [n.op_type for n in a] == ["Quant"]


def floor_rounding(n):
    n.attribute.append(helper.make_attribute("rounding_mode", "FLOOR"))


def bipolar(n):
    n.CopyFrom(helper.make_node("BipolarQuant", [n.input[0], n.input[1]], list(n.output), name="act_bipolar",
                                domain=DOMAIN))


@pytest.mark.parametrize("change,reason", [(floor_rounding, "only ROUND is supported"),
                                           (bipolar, "bipolar activations (±1, no zero) are not supported")])
def test_unsupported_activation_quantisers_are_reported_by_node(change, reason):
    m = mlp({"signed": 0})
    change(next(n for n in m.graph.node if n.output[0] == "rq"))
    with pytest.raises(UnsupportedModelError) as e:
        import_onnx(m)
    assert reason in str(e.value) and str(e.value).count("  - node ") == 1


@pytest.mark.parametrize("init,value,reason", [
    ("b_act", 17.0, "17-bit activations: the accelerator supports 2 to 16 bits"),
    ("s_a", np.array([0.1, 0.2] * 4), "per-channel parameters (8 scales, 1 zero points) on an activation"),
    ("zero", 0.5, "zero point 0.5 is not an integer"),
])
def test_activation_parameters_outside_the_contract_are_reported(init, value, reason):
    m = mlp({"signed": 0})
    for t in m.graph.initializer:
        if t.name == init:
            t.CopyFrom(numpy_helper.from_array(np.asarray(value, np.float32), init))
    with pytest.raises(UnsupportedModelError) as e:
        import_onnx(m)
    assert reason in str(e.value)
