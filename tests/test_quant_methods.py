"""Cross-layer equalisation, bias correction and learned rounding (quant/methods.py): each does
what its formula says on the example models, and the config and manifest carry them."""
from __future__ import annotations

import json

import numpy as np
import pytest

import fpga_accel
from fpga_accel.compiler import load_qmodel
from fpga_accel.emulator.executor import run_layers
from fpga_accel.errors import InputError
from fpga_accel.frontend import import_onnx
from fpga_accel.ir.execute import run_graph
from fpga_accel.ops import get_op
from fpga_accel.passes import run_flow
from fpga_accel.quant.adaround import Grams, learn_rounding, reconstruction_error
from fpga_accel.quant.arith import quantize
from fpga_accel.quant.calibrate import observe_ranges
from fpga_accel.quant.config import QuantConfig
from fpga_accel.quant.equalize import equalize, find_pairs
from fpga_accel.quant.methods import _pre_activation, group_matrix, input_rows, weight_rows
from fpga_accel.quant.params import weight_params
from fpga_accel.quant.quantizer import quantize_model, split_edges, tensors_to_observe
from models import data

BENCH = data.HERE.parent / "benchmarks" / "quant_models"


def hardware_graph(name_or_path):
    path = data.model_path(name_or_path) if isinstance(name_or_path, str) else name_or_path
    g = import_onnx(str(path))
    run_flow(g, "hardware")
    return g


def absmax(w, axis):
    return np.abs(np.moveaxis(w, axis, 0).reshape(w.shape[axis], -1)).max(axis=1).astype(np.float64)


@pytest.mark.parametrize("name, pairs", [("mnist_cnn", 1), ("resnet_ds", 2), ("mlp", 2), ("digits_cnn", 1)])
def test_equalisation_keeps_the_float_model_and_equalises_the_ranges(name, pairs):
    g = hardware_graph(name)
    x = {g.inputs[0].name: data.load_calib(name)[:64]}
    before = run_graph(g, x)[g.outputs[0].name]
    found = find_pairs(g)
    assert len(found) == pairs
    # one pair alone, once: both ranges become sqrt(r1 · r2), channel by channel
    p = found[0]
    group = int(p.second.attrs.get("group", 1))
    w1, w2 = g.const(p.first.inputs[1]), g.const(p.second.inputs[1])
    r1 = absmax(w1, p.out_axis)
    r2 = np.abs(np.moveaxis(w2, p.in_axis, 1)).reshape(group, w2.shape[0] // group, -1,
                                                        int(np.prod(w2.shape[2:])) if w2.ndim > 2 else 1)
    r2 = r2.max(axis=(1, 3)).reshape(-1)
    rec = equalize(g)
    assert [r["first"] for r in rec] == [q.first.name for q in found]
    after = run_graph(g, x)[g.outputs[0].name]
    assert np.max(np.abs(after - before)) <= 1e-5 * np.max(np.abs(before))
    assert np.array_equal(after.argmax(1), before.argmax(1))
    n1 = absmax(g.const(p.first.inputs[1]), p.out_axis)
    w2n = np.moveaxis(g.const(p.second.inputs[1]), p.in_axis, 1)
    n2 = np.abs(w2n).reshape(group, w2n.shape[0] // group, w2n.shape[1], -1).max(axis=(1, 3)).reshape(-1)
    if pairs == 1 or name == "resnet_ds":  # pairs that share no layer: one step is exact
        np.testing.assert_allclose(n1, np.sqrt(r1 * r2), rtol=1e-5)
        np.testing.assert_allclose(n2, np.sqrt(r1 * r2), rtol=1e-5)
    else:  # a chain (mlp: Gemm → Gemm → Gemm) is equalised in turns until the two ranges agree
        np.testing.assert_allclose(n1, n2, rtol=1e-3)
    assert rec[0]["scale_spread"] > 1.2  # the pair really was unbalanced


def test_depthwise_pair_is_found_and_relu6_pairs_are_not():
    g = hardware_graph("resnet_ds")
    kinds = [(int(p.first.attrs["group"]) > 1, int(p.second.attrs["group"])) for p in find_pairs(g)]
    assert kinds == [(True, 1), (True, 1)]  # depthwise 3x3 → pointwise 1x1 in both blocks
    g6 = hardware_graph(BENCH / "resnet6_digits.onnx")
    clipped = [n for n in g6.nodes if n.op_type == "Conv" and n.attrs.get("clip") == [0.0, 6.0]]
    assert clipped and find_pairs(g6) == []  # ReLU6 bounds cannot take a scale per channel


def test_equalisation_leaves_dead_channels_alone(tmp_path):
    """se_mnist's squeeze-excitation gates have channels training left dead (weights of 1e-11 beside
    0.5): equalising them would scale them by hundreds and give the first layer a weight scale whose
    requantisation needs a shift beyond 62. They keep their weights; the others are equalised."""
    path = BENCH / "se_mnist.onnx"
    g = hardware_graph(path)
    pairs = find_pairs(g)
    assert len(pairs) == 3 and sum("gate" in p.first.name for p in pairs) == 2  # the stem pair and both gates
    before = {p.first.name: (g.const(p.first.inputs[1]).copy(), g.const(p.second.inputs[1]).copy()) for p in pairs}
    x = {g.inputs[0].name: data.load_calib("mnist_cnn")[:32]}
    out0 = run_graph(g, x)[g.outputs[0].name]
    equalize(g)
    dead_seen = 0
    for p in pairs:
        w1, w2 = before[p.first.name]
        r1, r2 = absmax(w1, p.out_axis), absmax(w2, p.in_axis)
        dead = (r1 <= 2.0 ** -16 * r1.max()) | (r2 <= 2.0 ** -16 * r2.max())
        dead_seen += int(dead.sum())
        n1 = absmax(g.const(p.first.inputs[1]), p.out_axis)
        assert np.array_equal(n1[dead], r1[dead])  # untouched
        np.testing.assert_allclose(n1[~dead], np.sqrt(r1 * r2)[~dead], rtol=1e-3)  # equalised
    assert dead_seen >= 3
    out1 = run_graph(g, x)[g.outputs[0].name]
    assert np.max(np.abs(out1 - out0)) <= 1e-5 * np.max(np.abs(out0))
    b = fpga_accel.compile(path, tmp_path / "se.fpga", calib=data.load_calib("mnist_cnn"), progress=False,
                           generators=[], config={"equalize": True})
    assert b.manifest["quantization"]["methods"]["equalize"]


def quantised(name, config, n=200):
    """(original hardware graph, refined graph, qmodel, calibration feeds)."""
    g0, g = hardware_graph(name), hardware_graph(name)
    feeds = {g.inputs[0].name: data.load_calib(name)[:n]}
    cfg = QuantConfig.from_mapping(config)
    _, hw, _ = split_edges(g)
    ranges = observe_ranges(g, feeds, tensors_to_observe(g, hw, cfg))
    return g0, g, quantize_model(g, ranges, cfg, calib=feeds), feeds


def layer_mean_errors(g0, qm, feeds):
    """Per Conv/Gemm layer: (mean over the data of the quantised pre-activation − the float one,
    per output channel; the bias step s_in · s_w per channel)."""
    env0 = run_graph(g0, feeds, keep=True)
    ins = {t.name: quantize(env0[t.name], t.qparams) for t in qm.inputs}
    env = run_layers(qm, ins, keep=True, threads=1)
    nodes = {n.name: n for n in g0.nodes}
    out = {}
    for lay in qm.layers:
        if lay.op_type not in ("Conv", "Gemm"):
            continue
        node = nodes[lay.name]
        s_in = qm.tensors[lay.inputs[0]].qparams.scale
        w_ok, _ = weight_rows(node, g0)
        s_w = weight_params(w_ok, qtype=lay.config["weight_qtype"]).scales
        acc = get_op(node).run_acc(lay, [env[lay.inputs[0]]]).astype(np.float64)
        got = acc.reshape(-1, acc.shape[-1]).mean(0) * s_in * s_w
        want = _pre_activation(node, g0, env0[node.inputs[0]])
        out[lay.name] = (got - want.reshape(-1, want.shape[-1]).mean(0), s_in * s_w)
    return out


@pytest.mark.parametrize("name", ["resnet_ds", "mnist_cnn"])
def test_bias_correction_removes_the_mean_error_of_every_layer(name):
    g0, _, plain, feeds = quantised(name, {"weight_bits": 4, "bias_correction": False})
    _, _, fixed, _ = quantised(name, {"weight_bits": 4, "bias_correction": True})
    before, after = layer_mean_errors(g0, plain, feeds), layer_mean_errors(g0, fixed, feeds)
    assert list(after) == list(before) and len(after) >= 3
    for layer, (err, step) in after.items():
        # all that is left is the bias's own rounding: half a step of s_in · s_w per channel
        assert np.all(np.abs(err) <= 0.5 * step * (1 + 1e-6)), layer
    worst = max(float(np.max(np.abs(e) / s)) for e, s in before.values())
    assert worst > 2.0  # without the correction some channel was off by several bias steps
    rec = fixed.methods["bias_correction"]
    assert rec["applied"] and [r["layer"] for r in rec["layers"]] == list(after)


def layer_rows(g, name, x):
    node = g.node(name)
    env = run_graph(g, {g.inputs[0].name: x}, keep=True)
    w_ok, group = weight_rows(node, g)
    return w_ok, input_rows(node, g, env[node.inputs[0]].astype(np.float64), group)[0]


def test_learned_rounding_beats_nearest_on_held_out_data():
    g = hardware_graph("mnist_cnn")
    name = [n.name for n in g.nodes if n.op_type == "Conv"][1]
    w_ok, train = layer_rows(g, name, data.load_calib("mnist_cnn")[:100])
    _, held = layer_rows(g, name, data.load_test("mnist_cnn")[0][:200])
    w = group_matrix(w_ok, 0, 1)
    wp = weight_params(w, qtype="int4")
    r = learn_rounding(w, wp.scales, wp.qmin, wp.qmax, Grams.of(train, train), iterations=300)
    s = wp.scales[:, None]
    lo, hi = np.floor(w / s), np.ceil(w / s)
    assert np.all((r.weights == lo) | (r.weights == hi))  # every choice is the floor or the ceiling
    assert r.learned and 0 < r.flipped < 0.5
    nearest = np.clip(np.rint(w / s), wp.qmin, wp.qmax)
    test = Grams.of(held, held)
    e_near = reconstruction_error(w, nearest * s, test).sum()
    e_learned = reconstruction_error(w, r.weights * s, test).sum()
    assert e_learned < 0.5 * e_near  # held-out images: the layer's output error at most half
    direct = np.mean((held @ w.T - held @ (r.weights * s).T) ** 2, axis=0).sum()
    np.testing.assert_allclose(e_learned, direct, rtol=1e-6)  # the Gram form is the plain squared error


def test_learned_rounding_in_the_model_rounds_each_weight_down_or_up():
    g0, _, qm, _ = quantised("resnet_ds", {"weight_bits": 4, "adaround": {"iterations": 100, "seconds": 60}})
    rec = qm.methods["adaround"]
    assert rec["applied"] and rec["iterations"] == 100 and len(rec["layers"]) == 7
    flipped = 0
    for row in rec["layers"]:
        lay, node = qm.layer(row["layer"]), g0.node(row["layer"])
        w_ok, _ = weight_rows(node, g0)
        wp = weight_params(w_ok, qtype="int4")
        ratio = w_ok / wp.broadcast_scale(w_ok.shape)
        q = lay.consts["weights"]
        assert np.all((q == np.floor(ratio)) | (q == np.ceil(ratio))), row["layer"]
        assert row["error"] <= row["error_nearest"]
        flipped += int(np.sum(q != np.clip(np.rint(ratio), -7, 7)))
    assert flipped > 0


def test_methods_are_recorded_in_the_manifest(tmp_path):
    cfg = {"weight_bits": 4, "equalize": True, "bias_correction": True, "adaround": {"iterations": 50}}
    b = fpga_accel.compile(data.model_path("digits_cnn"), tmp_path / "d.fpga", calib=data.load_calib("digits_cnn"),
                           config=cfg, progress=False, generators=[])
    m = json.loads((b.path / "manifest.json").read_text())["quantization"]["methods"]
    assert m["equalize"]["applied"] and m["equalize"]["pairs"][0]["first"] == "/0/Conv"
    assert m["bias_correction"]["samples"] == 200 and len(m["bias_correction"]["layers"]) == 3
    assert m["adaround"]["iterations"] == 50 and m["adaround"]["seconds"] == 60.0
    qm = load_qmodel(b)
    assert len(qm.layers) == len(b.manifest["qmodel"]["layers"])
    plain = fpga_accel.compile(data.model_path("digits_cnn"), tmp_path / "p.fpga", calib=data.load_calib("digits_cnn"),
                               config={"bias_correction": False}, progress=False, generators=[])
    assert plain.manifest["quantization"]["methods"] == {"equalize": False, "bias_correction": False,
                                                          "adaround": False}


@pytest.mark.parametrize("config", [{}, {"weight_bits": 4}])
def test_bias_correction_is_on_by_default_at_every_width(config):
    g0, _, fixed, _ = quantised("resnet_ds", config)
    _, _, plain, _ = quantised("resnet_ds", {**config, "bias_correction": False})
    convs = [lay.name for lay in plain.layers if lay.op_type in ("Conv", "Gemm")]
    rec = fixed.methods["bias_correction"]
    assert rec["applied"] and [r["layer"] for r in rec["layers"]] == convs and "default" in rec
    assert plain.methods == {}
    # measured on images the correction never saw: the layers' mean error per channel shrinks
    x, _ = data.load_test("resnet_ds")
    held_out = {g0.inputs[0].name: x[:300]}
    before, after = layer_mean_errors(g0, plain, held_out), layer_mean_errors(g0, fixed, held_out)
    ratio = {n: np.mean(np.abs(after[n][0]) / after[n][1]) / np.mean(np.abs(before[n][0]) / before[n][1])
             for n in convs}
    assert all(r < 0.3 for r in ratio.values()), ratio  # measured 0.02-0.13 (depthwise layers included)


def test_a_model_with_its_own_quantisation_is_used_as_given(tmp_path):
    b = fpga_accel.compile(data.model_path("mnist_cnn_qdq"), tmp_path / "q.fpga", progress=False, generators=[],
                           config={"equalize": True, "bias_correction": True})
    m = b.manifest["quantization"]["methods"]
    assert m["equalize"] == {"applied": False, "why": "the model carries its own quantisation"}
    assert m["adaround"] is False


@pytest.mark.parametrize("config, match", [
    ({"equalize": "yes"}, "config key 'equalize' must be true or false, got 'yes'"),
    ({"bias_correction": 1}, "config key 'bias_correction' must be true or false, got 1"),
    ({"adaround": {"secs": 5}}, r"config key 'adaround': unknown key 'secs'; did you mean 'seconds'\?"),
    ({"adaround": {"seconds": 0}}, r"config key 'adaround', seconds must be a number in \(0, 86400\]"),
    ({"adaround": {"iterations": 2.5}}, "iterations must be a whole number"),
    ({"adaround": [1]}, "config key 'adaround' must be true, false or a mapping"),
])
def test_bad_method_options_are_refused_naming_the_key(config, match):
    with pytest.raises(InputError, match=match):
        QuantConfig.from_mapping(config)



def test_default_bias_correction_steps_aside_for_float_ops_between_hardware_nodes(tmp_path):
    from test_segments_float import images, softmax_inside

    model, calib = softmax_inside(), images(32, 51)
    b = fpga_accel.compile(model, tmp_path / "s.fpga", calib=calib, progress=False, generators=[])
    rec = b.manifest["quantization"]["methods"]["bias_correction"]
    assert rec["applied"] is False and "attend" in rec["why"]
    with pytest.raises(InputError, match="do not run across float host ops"):
        fpga_accel.compile(model, tmp_path / "t.fpga", calib=calib, progress=False, generators=[],
                           config={"bias_correction": True})


def test_refinement_keeps_fewer_samples_of_a_network_with_large_activations(monkeypatch):
    from fpga_accel.quant import methods

    g = hardware_graph("resnet_ds")
    # input 28·28, stem 32·28·28, ...: the elements of one sample's tensors, 8 bytes each
    per_sample = 8 * sum(int(np.prod(g.shape(t)[1:])) for t in {g.inputs[0].name} | {o for n in g.nodes for o in n.outputs})
    assert methods.refine_samples(g) == 512 and per_sample * 512 < methods.REFINE_BYTES
    monkeypatch.setattr(methods, "REFINE_BYTES", per_sample * 37 + 5)
    assert methods.refine_samples(g) == 37
    _, _, qm, _ = quantised("resnet_ds", {})
    assert qm.methods["bias_correction"]["samples"] == 37
    monkeypatch.setattr(methods, "REFINE_BYTES", 1)
    assert methods.refine_samples(g) == 1


@pytest.mark.parametrize("name", ["resnet_ds", "mnist_cnn"])
def test_pre_activation_kept_by_the_float_run_equals_the_layer_run_again(name):
    """A layer without a fused clamp takes its pre-activation from the float run's tensors: the same
    floats, bit for bit, as running it again; a clamped one is run again (its kept output is clamped)."""
    g = hardware_graph(name)
    feeds = {g.inputs[0].name: data.load_calib(name)[:16]}
    env = run_graph(g, feeds, keep=True)
    plain = clamped = 0
    for node in g.nodes:
        if node.op_type not in ("Conv", "Gemm"):
            continue
        x = env[node.inputs[0]]
        again = _pre_activation(node, g, x)
        np.testing.assert_array_equal(_pre_activation(node, g, x, env), again)
        if node.attrs.get("clip") is None:
            plain += 1
            assert np.array_equal(env[node.outputs[0]].astype(np.float64), again)
        else:
            clamped += 1
    assert plain and clamped
