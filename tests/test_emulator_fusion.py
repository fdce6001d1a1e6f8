"""A MaxPool run on its producer's accumulators gives the integers of the layers run one by one.

``run_layers`` pools the sums of a Conv / Gemm / MatMul whose only reader is a MaxPool and
requantises the pooled values only (max and a non-decreasing requantisation commute). Checked bit
for bit against ``run_layers(..., fuse=False)`` and ``keep=True`` (which never fuses) on random
conv → maxpool graphs (1D/2D, dense/depthwise/grouped, strides, dilations, pads, ceil_mode, bit
widths 2–16), on a MatMul → MaxPool, and on the example models over their test sets; and the
cases that must not fuse (a negative multiplier, a window on padding alone, a padding value above
the clamp floor, a second reader, a hardware output) run unfused.
"""
import dataclasses
import itertools

import numpy as np
import pytest
from onnx import helper
from test_emulator_ops import ACT_BITS, W_BITS, make_model, pick

import fpga_accel
from fpga_accel.compiler import load_qmodel
from fpga_accel.emulator import emulate, executor, run_layers
from fpga_accel.frontend import import_onnx
from fpga_accel.ir.execute import run_graph
from fpga_accel.emulator.fastint import requant_is_monotone
from fpga_accel.ops.max_pool import every_window_has_input
from fpga_accel.passes import run_flow
from fpga_accel.quant.arith import quantize
from fpga_accel.quant.calibrate import observe_ranges
from fpga_accel.quant.config import QuantConfig
from fpga_accel.quant.qmodel import QLayer, QTensor
from fpga_accel.quant.quantizer import quantize_model, split_edges, tensors_to_observe
from models import data

EXAMPLES = ["mnist_cnn", "digits_cnn", "mlp", "resnet_ds", "mnist_cnn_qdq"]


def quantised(model, act_bits, weight_bits, r):
    g = import_onnx(model)
    run_flow(g, "hardware")
    cfg = QuantConfig(bits=8, act_bits=act_bits, weight_bits=weight_bits)
    _, hw, _ = split_edges(g)
    calib = {t.name: (r.uniform(-1, 1) + r.uniform(0.5, 2) * r.standard_normal((32, *t.shape[1:]))).astype(np.float32)
             for t in g.inputs}
    return quantize_model(g, observe_ranges(g, calib, tensors_to_observe(g, hw, cfg)), cfg)


def random_ints(qm, r, n):
    """Integers over each hardware input's whole type range, the extremes included."""
    out = {}
    for t in qm.inputs:
        q = t.qparams.qtype
        x = r.integers(q.min, q.max + 1, (n, *t.shape[1:]))
        x.flat[:2] = q.min, q.max
        out[t.name] = x.astype(q.dtype)
    return out


def assert_same_runs(qm, q_in):
    """fuse=True == fuse=False == keep=True on the hardware outputs, dtype and bits."""
    fused = run_layers(qm, q_in, threads=1)
    plain = run_layers(qm, q_in, threads=1, fuse=False)
    kept = run_layers(qm, q_in, threads=1, keep=True)
    assert fused.keys() == plain.keys()
    for name in plain:
        assert fused[name].dtype == plain[name].dtype == kept[name].dtype
        np.testing.assert_array_equal(fused[name], plain[name])
        np.testing.assert_array_equal(fused[name], kept[name])


def conv_pool_model(r):
    """A random Conv (+ Relu) → MaxPool graph; returns the model and the pool's attributes."""
    n_sp = int(r.integers(1, 3))
    kind = pick(r, ["dense", "dense", "depthwise", "grouped"])
    group = 1
    if kind == "dense":
        C, M = int(r.integers(1, 5)), int(r.integers(1, 7))
    elif kind == "depthwise":
        group = C = M = int(r.integers(2, 5))
    else:
        group = int(r.integers(2, 4))
        C, M = group * int(r.integers(1, 3)), group * int(r.integers(1, 3))
    ck = [int(v) for v in r.integers(1, 4, n_sp)]
    conv = {"kernel_shape": ck, "strides": [int(v) for v in r.integers(1, 3, n_sp)],
            "pads": [int(v) for v in r.integers(0, 2, 2 * n_sp)], "group": group}
    size = [int(k + r.integers(2, 9)) for k in ck]
    out = [(s + conv["pads"][d] + conv["pads"][d + n_sp] - ck[d]) // conv["strides"][d] + 1
           for d, s in enumerate(size)]
    pk = [int(r.integers(1, min(3, o) + 1)) for o in out]
    pool = {"kernel_shape": pk, "strides": [int(v) for v in r.integers(1, 4, n_sp)], "ceil_mode": int(r.integers(2))}
    if r.random() < 0.3 and all(2 * (k - 1) + 1 <= o for k, o in zip(pk, out)):
        pool["dilations"] = [int(v) for v in r.integers(1, 3, n_sp)]
    if r.random() < 0.5:
        pool["pads"] = [int(min(v, k - 1)) for v, k in zip(r.integers(0, 3, 2 * n_sp), pk * 2)]
    W = (r.standard_normal((M, C // group, *ck)) * r.uniform(0.05, 1.0, (M,) + (1,) * (n_sp + 1))).astype(np.float32)
    B = (0.2 * r.standard_normal(M)).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "W", "B"], ["y"], **conv)]
    src = "y"
    if r.random() < 0.5:
        nodes.append(helper.make_node("Relu", ["y"], ["r"]))
        src = "r"
    nodes.append(helper.make_node("MaxPool", [src], ["z"], **pool))
    return make_model(nodes, {"x": [C, *size]}, {"W": W, "B": B})


@pytest.mark.parametrize("seed", range(40))
def test_conv_maxpool_fused_equals_unfused(seed):
    r = np.random.default_rng(7000 + seed)
    model = conv_pool_model(r)
    bits = (16, 16) if seed >= 36 else (pick(r, ACT_BITS), pick(r, W_BITS))
    qm = quantised(model, *bits, r)
    conv = next(i for i, lay in enumerate(qm.layers) if lay.op_type == "Conv")
    pool = next(lay for lay in qm.layers if lay.op_type == "MaxPool")
    plan = executor._fusions(qm)
    assert (conv in plan) == every_window_has_input(pool.config)
    q_in = random_ints(qm, r, int(r.integers(1, 40)))
    assert_same_runs(qm, q_in)
    if seed >= 32:  # the int64 and float64 dot products pool the same way
        for bits in (60, 40):
            lay = qm.layers[conv]
            qm.layers[conv] = dataclasses.replace(lay, config={**lay.config, "emu_dot_bits": bits})
            assert_same_runs(qm, q_in)


def test_random_cases_fuse_mostly():
    """The cases above exercise the fused path (not only the guards)."""
    fused = 0
    for seed in range(40):
        r = np.random.default_rng(7000 + seed)
        qm = quantised(conv_pool_model(r), *((16, 16) if seed >= 36 else (pick(r, ACT_BITS), pick(r, W_BITS))), r)
        fused += bool(executor._fusions(qm))
    assert fused >= 30


def brute_force_covered(config) -> bool:
    n = len(config["kernel"])
    size, out = config["in_shape"][1:1 + n], config["out_shape"][1:1 + n]
    for o in itertools.product(*map(range, out)):
        if not any(all(0 <= o[d] * config["strides"][d] - config["pads"][d] + t[d] * config["dilations"][d] < size[d]
                       for d in range(n))
                   for t in itertools.product(*map(range, config["kernel"]))):
            return False
    return True


@pytest.mark.parametrize("seed", range(200))
def test_every_window_has_input_against_brute_force(seed):
    r = np.random.default_rng(seed)
    n = int(r.integers(1, 3))
    kernel = [int(v) for v in r.integers(1, 4, n)]
    strides = [int(v) for v in r.integers(1, 4, n)]
    dil = [int(v) for v in r.integers(1, 3, n)]
    pads = [int(v) for v in r.integers(0, 4, 2 * n)]
    size = [int(v) for v in r.integers(1, 8, n)]
    out = [((s + pads[d] + pads[d + n] - (kernel[d] - 1) * dil[d] - 1) // strides[d]) + 1 for d, s in enumerate(size)]
    if min(out) < 1:
        return
    cfg = {"kernel": kernel, "strides": strides, "dilations": dil, "pads": pads,
           "in_shape": [1, *size, 2], "out_shape": [1, *out, 2]}
    assert every_window_has_input(cfg) == brute_force_covered(cfg)


def test_window_on_padding_alone_is_not_fused():
    r = np.random.default_rng(5)
    W = r.standard_normal((3, 2, 3, 3)).astype(np.float32)
    # kernel 1 with pads 1: the corner windows see padding only; the pool gives qmin there
    nodes = [helper.make_node("Conv", ["x", "W"], ["y"]),
             helper.make_node("MaxPool", ["y"], ["z"], kernel_shape=[1, 1], pads=[1, 1, 1, 1])]
    qm = quantised(make_model(nodes, {"x": [2, 6, 6]}, {"W": W}), 8, 8, r)
    pool = next(lay for lay in qm.layers if lay.op_type == "MaxPool")
    assert not every_window_has_input(pool.config)
    assert executor._fusions(qm) == {}
    assert_same_runs(qm, random_ints(qm, r, 5))


def simple_conv_pool(r, extra_output=False):
    W = r.standard_normal((4, 2, 3, 3)).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "W"], ["y"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["y"], ["r"]),
             helper.make_node("MaxPool", ["r"], ["z"], kernel_shape=[2, 2], strides=[2, 2])]
    model = make_model(nodes, {"x": [2, 8, 8]}, {"W": W})
    if extra_output:
        model.graph.output.append(helper.make_tensor_value_info("r", 1, None))
    return quantised(model, 8, 8, r)


def test_negative_multiplier_is_not_fused():
    r = np.random.default_rng(11)
    qm = simple_conv_pool(r)
    assert executor._fusions(qm) == {0: 1}
    conv = qm.layers[0]
    M = conv.consts["M"].copy()
    M[1] = -M[1]  # impossible from requant_multiplier, but the guard must hold on any consts
    qm.layers[0] = dataclasses.replace(conv, consts={**conv.consts, "M": M})
    assert not requant_is_monotone(qm.layers[0])
    assert executor._fusions(qm) == {}
    bad_shift = dataclasses.replace(conv, consts={**conv.consts, "shift": conv.consts["shift"] * 0})
    assert not requant_is_monotone(bad_shift)


def test_pad_value_above_the_clamp_floor_is_not_fused():
    r = np.random.default_rng(12)
    qm = simple_conv_pool(r)
    pool = qm.layers[1]
    qm.layers[1] = dataclasses.replace(pool, config={**pool.config, "pad_value": qm.layers[0].config["lo"] + 1})
    assert executor._fusions(qm) == {}


def test_second_reader_or_hardware_output_is_not_fused():
    r = np.random.default_rng(13)
    qm = simple_conv_pool(r, extra_output=True)
    conv_out = qm.layers[0].outputs[0]
    assert conv_out in {t.name for t in qm.outputs} or len([lay for lay in qm.layers if conv_out in lay.inputs]) > 1
    assert 0 not in executor._fusions(qm)
    assert_same_runs(qm, random_ints(qm, r, 7))


def test_keep_never_fuses(monkeypatch):
    r = np.random.default_rng(14)
    qm = simple_conv_pool(r)
    calls = []
    real = executor._fusions
    monkeypatch.setattr(executor, "_fusions", lambda q: calls.append(1) or real(q))
    run_layers(qm, random_ints(qm, r, 3), keep=True)
    run_layers(qm, random_ints(qm, r, 3), fuse=False)
    assert calls == []
    run_layers(qm, random_ints(qm, r, 3))
    assert calls == [1]


@pytest.mark.parametrize("seed", range(12))
def test_matmul_maxpool_fused_equals_unfused(seed):
    """MatMul (N, T, K) · (K, F) read by a MaxPool over T (channels F last): the dense run path fuses
    too. The hardware flow puts a Transpose between the two, so the pool layer is added here."""
    r = np.random.default_rng(900 + seed)
    T, K, F = int(r.integers(2, 9)), int(r.integers(1, 30)), int(r.integers(1, 9))
    W = (r.standard_normal((K, F)) * 0.5).astype(np.float32)
    ab, wb = (16, 16) if seed >= 10 else (pick(r, ACT_BITS), pick(r, W_BITS))
    qm = quantised(make_model([helper.make_node("MatMul", ["x", "W"], ["y"])], {"x": [T, K]}, {"W": W}), ab, wb, r)
    mm = qm.layers[0]
    y = qm.tensors[mm.outputs[0]]
    k, s = int(r.integers(1, T + 1)), int(r.integers(1, 3))
    pads = [int(r.integers(0, k)), int(r.integers(0, k))]
    out = (T + sum(pads) - k) // s + 1
    cfg = {"kernel": [k], "strides": [s], "dilations": [1], "pads": pads, "in_shape": [1, T, F],
           "out_shape": [1, out, F], "pad_value": y.qparams.qtype.min}
    z = QTensor("z", (1, out, F), y.qparams)
    qm = dataclasses.replace(qm, layers=[mm, QLayer("pool", "MaxPool", [y.name], ["z"], cfg)], outputs=[z],
                             tensors={**qm.tensors, "z": z})
    assert (0 in executor._fusions(qm)) == every_window_has_input(cfg)
    assert_same_runs(qm, random_ints(qm, r, int(r.integers(1, 30))))


@pytest.fixture(scope="module")
def example_bundles(tmp_path_factory):
    d = tmp_path_factory.mktemp("fusion")
    return {name: load_qmodel(fpga_accel.compile(data.model_path(name), d / f"{name}.fpga",
                                                 calib=data.load_calib(name), progress=False))
            for name in EXAMPLES}


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_models_fused_equals_unfused(name, example_bundles):
    qm = example_bundles[name]
    x, _ = data.load_test(name)
    feeds = {qm.model_inputs[0].name: x}
    pre = run_graph(qm.host_before, feeds) if qm.host_before.nodes else feeds
    q_in = {t.name: quantize(pre[t.name], t.qparams) for t in qm.inputs}
    if name != "mlp":  # the CNNs have a conv read by a max pool alone
        assert executor._fusions(qm)
    fused = run_layers(qm, q_in, threads=2)
    kept = run_layers(qm, q_in, threads=2, keep=True)
    for t in qm.outputs:
        assert fused[t.name].dtype == kept[t.name].dtype
        np.testing.assert_array_equal(fused[t.name], kept[t.name])
    # saturation counts come from the unfused layer-by-layer tensors
    res = emulate(qm, feeds)
    for t in qm.outputs:
        np.testing.assert_array_equal(res.raw[t.name], fused[t.name])
    for layer in qm.layers:
        p = qm.tensors[layer.outputs[0]].qparams
        v = kept[layer.outputs[0]]
        want = (int(np.count_nonzero(v == p.qtype.min)) if p.qtype.min != p.zero_point else 0) \
            + int(np.count_nonzero(v == p.qtype.max))
        assert res.saturated[layer.name] == want
