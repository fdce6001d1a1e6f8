"""`check` and `inspect` tell the truth: a QDQ model against its own definition, saturation only
where the float model does not clip, inspect refusing what compile refuses, and per-layer error."""
import math
import re

import numpy as np
import onnx
import pytest
from onnx import TensorProto as TP
from onnx import helper, numpy_helper

import fpga_accel
from fpga_accel.cli import main
from fpga_accel.emulator import emulate
from fpga_accel.errors import UnsupportedModelError
from fpga_accel.ir.execute import run_graph
from fpga_accel.quant.arith import dequantize
from models import data

EXAMPLES = ["mnist_cnn", "digits_cnn", "mlp", "resnet_ds", "mnist_cnn_qdq"]


def cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def save(path, nodes, x_shape, y_shape, weights):
    g = helper.make_graph(nodes, path.stem, [helper.make_tensor_value_info("x", TP.FLOAT, ["N", *x_shape])],
                          [helper.make_tensor_value_info("y", TP.FLOAT, ["N", *y_shape])],
                          [numpy_helper.from_array(np.asarray(w, np.float32), n) for n, w in weights.items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    onnx.save(m, str(path))
    return path


def saturation_line(out):
    return next(ln for ln in out.splitlines() if ln.startswith("saturated outputs"))


# --- 1. a QDQ model is compared with its definition ------------------------------------------------
def test_qdq_check_agrees_with_the_qdq_definition(capsys, tmp_path):
    from onnxruntime import GraphOptimizationLevel

    from fpga_accel.analysis.reference import definition_session

    x, _ = data.load_test("mnist_cnn")
    np.save(tmp_path / "x.npy", x)
    bundle = fpga_accel.compile(data.model_path("mnist_cnn_qdq"), tmp_path / "q.fpga", progress=False)
    step = bundle.manifest["hardware"]["outputs"][0]["scale"]
    code, out, _ = cli(capsys, "check", tmp_path / "q.fpga", "--input", tmp_path / "x.npy", "--backend", "emulator")
    assert code == 0
    row = next(ln for ln in out.splitlines() if ln.startswith("logits") and "emulator" in ln)
    assert "100.00% (1000/1000)" in row
    max_err = float(row.split(")")[1].split()[0])
    assert max_err <= step * (1 + 1e-6), f"max error {max_err} is more than one step ({step}): {row}"

    res = fpga_accel.check(bundle, x)
    assert res.reference == "onnxruntime" and res.outputs["logits"]["agree"] == 1000
    assert 0 < res.outputs["logits"]["max_abs"] <= step * (1 + 1e-6)
    # per layer against the model's own quantisers: at most one step anywhere
    assert all(r.max_abs_steps <= 1 + 1e-4 for r in res.layers.rows), [r.max_abs_steps for r in res.layers.rows]
    sess = definition_session(data.model_path("mnist_cnn_qdq"))
    assert sess.get_session_options().graph_optimization_level == GraphOptimizationLevel.ORT_DISABLE_ALL


# --- 2. saturation is what the float model does not clip --------------------------------------------
def relu6_model(tmp_path):
    """Conv(1→4, 3x3) → Clip(0, 6) (fused into the Conv) → Flatten → Gemm(256→10); inputs large
    enough that a few percent of the Conv outputs reach 6."""
    r = np.random.default_rng(7)
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("Clip", ["c", "lo", "hi"], ["r6"], name="relu6"),
             helper.make_node("Flatten", ["r6"], ["f"], name="flat"),
             helper.make_node("Gemm", ["f", "wf", "bf"], ["y"], name="fc", transB=1)]
    weights = {"w": r.standard_normal((4, 1, 3, 3)) * 0.3, "b": np.full(4, 0.5), "lo": np.array(0.0),
               "hi": np.array(6.0), "wf": r.standard_normal((10, 256)) * 0.05, "bf": np.zeros(10)}
    path = save(tmp_path / "relu6.onnx", nodes, (1, 8, 8), (10,), weights)
    return path, (r.standard_normal((64, 1, 8, 8)) * 4).astype(np.float32)


def test_relu6_clip_is_not_saturation_but_a_narrow_range_is(capsys, tmp_path):
    path, x = relu6_model(tmp_path)
    np.save(tmp_path / "x.npy", x)
    fpga_accel.compile(path, tmp_path / "ok.fpga", calib=x, progress=False)
    code, out, _ = cli(capsys, "check", tmp_path / "ok.fpga", "--input", tmp_path / "x.npy", "--backend", "emulator")
    assert code == 0
    assert saturation_line(out).startswith("saturated outputs (emulator): none ["), saturation_line(out)
    conv = fpga_accel.layer_errors(tmp_path / "ok.fpga", x).row("conv")
    # the clip puts outputs at the type's top (6.0 is the calibrated maximum), none beyond it
    qm = fpga_accel.load_qmodel(tmp_path / "ok.fpga")
    t = qm.tensors[conv.tensor]
    at_top = int(np.sum(emulate(qm, {"x": x}, keep=True).tensors[t.name] == t.qparams.qtype.max))
    assert t.qparams.scale * (t.qparams.qtype.max - t.qparams.zero_point) == pytest.approx(6.0)
    assert conv.saturated == 0 and at_top > conv.size // 100

    fpga_accel.compile(path, tmp_path / "narrow.fpga", calib=x * 0.3, progress=False)
    code, out, _ = cli(capsys, "check", tmp_path / "narrow.fpga", "--input", tmp_path / "x.npy",
                       "--backend", "emulator")
    line = saturation_line(out)
    got = fpga_accel.layer_errors(tmp_path / "narrow.fpga", x).row("conv")
    assert got.saturated > 0 and f"conv {got.saturated:,} of {got.size:,}" in line, line
    # the count, directly: at the type's top where the float value is beyond the range by half a step
    qm = fpga_accel.load_qmodel(tmp_path / "narrow.fpga")
    t = qm.tensors[qm.layer("conv").outputs[0]]
    q = emulate(qm, {"x": x}, keep=True).tensors[t.name]
    f = run_graph(hardware_graph(path), {"x": x}, keep=True)[t.name]
    p = t.qparams
    want = int(np.sum((q == p.qtype.max) & (f > p.scale * (p.qtype.max - p.zero_point + 0.5))))
    assert got.saturated == want and f.max() <= 6.0


def hardware_graph(path):
    from fpga_accel.analysis.reference import hardware_graph as hg

    return hg(str(path))


# --- 3. inspect refuses what compile refuses ---------------------------------------------------------
def se_block(tmp_path, gate_first=False, spatial=False):
    """Conv → Relu → squeeze-excitation (GlobalAveragePool → Conv → Relu → Conv → Sigmoid → Mul
    broadcasting (1,C,1,1) x (1,C,H,W)) → Flatten → Gemm. ``spatial``: the gate is one value per pixel
    instead, (1,1,H,W) from a 1x1 Conv of the map (a broadcast no PE implements)."""
    r = np.random.default_rng(0)
    c = 8
    se = [helper.make_node("GlobalAveragePool", ["r0"], ["gap"], name="se_pool"),
          helper.make_node("Conv", ["gap", "w1", "b1"], ["s1"], name="se_fc1"),
          helper.make_node("Relu", ["s1"], ["s1r"], name="se_relu"),
          helper.make_node("Conv", ["s1r", "w2", "b2"], ["s2"], name="se_fc2")]
    if spatial:
        se = [helper.make_node("Conv", ["r0", "ws", "bs"], ["s2"], name="sa_conv")]
    mul_in = ["gate", "r0"] if gate_first else ["r0", "gate"]
    nodes = [helper.make_node("Conv", ["x", "w0", "b0"], ["c0"], name="conv0", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c0"], ["r0"], name="relu0"),
             *se,
             helper.make_node("Sigmoid", ["s2"], ["gate"], name="se_gate"),
             helper.make_node("Mul", mul_in, ["y0"], name="se_scale"),
             helper.make_node("Flatten", ["y0"], ["f"], name="flat"),
             helper.make_node("Gemm", ["f", "wf", "bf"], ["y"], name="fc", transB=1)]
    weights = {"w0": r.standard_normal((c, 1, 3, 3)), "b0": r.standard_normal(c) * 0.1,
               "w1": r.standard_normal((2, c, 1, 1)), "b1": np.zeros(2), "w2": r.standard_normal((c, 2, 1, 1)),
               "b2": np.zeros(c), "wf": r.standard_normal((4, c * 36)) * 0.1, "bf": np.zeros(4)}
    if spatial:
        weights = {k: v for k, v in weights.items() if k not in ("w1", "b1", "w2", "b2")}
        weights.update(ws=r.standard_normal((1, c, 1, 1)), bs=np.zeros(1))
    return save(tmp_path / "se.onnx", nodes, (1, 6, 6), (4,), weights)


def test_inspect_refuses_the_broadcasting_mul_compile_refuses(capsys, tmp_path):
    path = se_block(tmp_path, spatial=True)
    for flow in ("cleanup", "hardware"):
        code, out, _ = cli(capsys, "inspect", path, "--flow", flow)
        assert code == 2
        problem = next(ln for ln in out.splitlines() if ln.startswith("problem:"))
        assert "node 'se_scale' (Mul)" in problem and "broadcasting" in problem
    with pytest.raises(UnsupportedModelError) as e:
        fpga_accel.compile(path, tmp_path / "se.fpga", calib=np.zeros((4, 1, 6, 6), np.float32), progress=False)
    assert e.value.problems == fpga_accel.inspect(path).problems
    assert [(p.node, p.op_type) for p in e.value.problems] == [("se_scale", "Mul")]


@pytest.mark.parametrize("gate_first", [False, True])
def test_squeeze_excitation_compiles_and_csim_matches_the_emulator(capsys, tmp_path, gate_first):
    """The channel gate's Mul lowers to the channel_mul PE in either input order: inspect finds no
    problem, compile works, and the C simulation of the bundle equals the emulator bit for bit."""
    from codegen_util import Csim, need_toolchain

    path = se_block(tmp_path, gate_first=gate_first)
    code, out, _ = cli(capsys, "inspect", path, "--flow", "hardware")
    assert code == 0 and "problem" not in out
    calib = np.random.default_rng(1).standard_normal((16, 1, 6, 6)).astype(np.float32)
    fpga_accel.compile(path, tmp_path / "se.fpga", calib=calib, progress=False)
    need_toolchain()
    qm = fpga_accel.load_qmodel(tmp_path / "se.fpga")
    cs = Csim(qm, tmp_path / "csim")
    assert "se_scale/channel_mul" in cs.lib.stage_cycles()
    ins = cs.inputs(3, np.random.default_rng(2))
    cs.check(ins, what="squeeze-excitation")
    cs.check(ins, axis=True, what="squeeze-excitation, fa_axis")


@pytest.mark.parametrize("name", EXAMPLES)
def test_inspect_agrees_with_compile_on_the_example_models(capsys, tmp_path, name):
    info = data.info(name)
    calib = None if name == "mnist_cnn_qdq" else data.load_calib(name)
    bundle = fpga_accel.compile(data.model_path(name), tmp_path / "m.fpga", calib=calib, progress=False)
    part = bundle.manifest["partition"]
    hw = [n["name"] for n in part["hardware"]]
    host = [n["name"] for n in part["host_before"] + part["host_after"]]
    ins = fpga_accel.inspect(data.model_path(name), flow="hardware")
    assert ins.problems == [] and ins.hardware == hw and ins.host == host, info
    code, out, _ = cli(capsys, "inspect", data.model_path(name), "--flow", "hardware")
    assert code == 0 and "problem" not in out
    assert f"{len(hw)} hardware, {len(host)} host" in out


# --- 4. per-layer error ------------------------------------------------------------------------------
def test_check_layers_marks_the_badly_quantised_layer(capsys, tmp_path):
    x, _ = data.load_test("mnist_cnn")
    x = x[::5]
    np.save(tmp_path / "x.npy", x)
    model = data.model_path("mnist_cnn")
    fpga_accel.compile(model, tmp_path / "m.fpga", calib=data.load_calib("mnist_cnn"),
                       config={"layers": {"/4/Conv": {"act_bits": 3}}}, progress=False)
    code, out, _ = cli(capsys, "check", tmp_path / "m.fpga", "--input", tmp_path / "x.npy", "--backend", "emulator",
                       "--layers")
    assert code == 0
    rows = [ln for ln in out.splitlines() if re.match(r"\s*\d+\s+\S", ln) and "<-" in ln]
    assert len(rows) == 1 and rows[0].split()[1] == "/4/Conv", out
    assert "worst layer: /4/Conv (Conv)" in out

    errs = fpga_accel.layer_errors(tmp_path / "m.fpga", x)
    assert errs.worst.layer == "/4/Conv" and errs.worst.bits == 3
    assert [r.layer for r in errs.rows][1:] == ["/0/Conv", "/3/MaxPool", "/4/Conv", "/7/MaxPool", "/8/Flatten",
                                                 "/9/Gemm"]
    # the figures, directly: the IR float reference and the emulator's dequantised integers
    qm = fpga_accel.load_qmodel(tmp_path / "m.fpga")
    ref = run_graph(hardware_graph(model), {"input": x}, keep=True)
    ints = emulate(qm, {"input": x}, keep=True).tensors
    for r in errs.rows:
        t = qm.tensors[r.tensor]
        f = ref[r.tensor].astype(np.float64).ravel()
        q = dequantize(ints[r.tensor], t.qparams, np.float64).ravel()
        cos = float(f @ q / (np.linalg.norm(f) * np.linalg.norm(q)))
        snr = 10 * math.log10(float(f @ f) / float((q - f) @ (q - f)))
        assert r.cosine == pytest.approx(cos, rel=1e-7), r
        assert r.snr_db == pytest.approx(snr, rel=1e-7), r
        assert r.max_abs_steps == pytest.approx(np.abs(q - f).max() / t.qparams.scale, rel=1e-7), r
        printed = next(ln for ln in out.splitlines() if ln.split()[1:2] == [r.layer] and ln.split()[0].isdigit())
        assert f"{cos:.6f}" in printed.split()
    bad, after = errs.row("/4/Conv"), errs.row("/0/Conv")
    assert bad.cosine < after.cosine and bad.snr_db < after.snr_db - 10
