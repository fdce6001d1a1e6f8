"""The emulator's fast paths give exactly the integers of the plain int64 definitions.

- ``fastint.requantize_acc`` / ``rescale_sum`` (float64 with a truncating cast, lo added back with the
  unsigned wrap-around) against ``arith.requantize`` in int64, on random data and on the worst
  magnitudes the exactness bound lets through, with signed, unsigned and offset clamp ranges;
- ``fastint.dot_dtype``: float32 / float64 BLAS dot products at the largest width each is chosen for;
- ``run_layers`` cut into pieces and run on threads against one piece in the caller's thread.
- ``emu_dot_bits``: the layers' bound from their own weights, reached exactly by the worst inputs, and
  bundles without it (``dot_bits``) giving the same integers.
"""
import numpy as np
import pytest

import fpga_accel
from fpga_accel.compiler import load_qmodel
from fpga_accel.emulator import executor, run_layers
from fpga_accel.emulator.fastint import (
    F32_EXACT_BITS,
    F64_EXACT_BITS,
    dot_dtype,
    layer_dot_dtype,
    requantize_acc,
    rescale_sum,
    storage_dtype,
    weight_dot_bits,
)
from fpga_accel.quant.arith import accumulator_bits, quantize, requantize, signed_bits
from models import data

RANGES = [(0, 255, 0), (-128, 127, -5), (-128, 127, 40), (3, 200, 10), (-32768, 32767, 100), (0, 65535, 7),
          (-100, 100, 0)]


def spy_int64(monkeypatch) -> list:
    """Record the calls of the int64 definition made by fastint (its fallback path)."""
    from fpga_accel.emulator import fastint

    calls, real = [], fastint.arith.requantize
    monkeypatch.setattr(fastint.arith, "requantize", lambda *a, **k: calls.append(1) or real(*a, **k))
    return calls


def int64_requantize(acc, bias, M, shift, zp, lo, hi):
    return requantize(np.asarray(acc, np.int64) + bias, M, shift, zp, lo, hi)


@pytest.mark.parametrize("lo, hi, zp", RANGES)
@pytest.mark.parametrize("seed", range(4))
def test_requantize_acc_float_path(lo, hi, zp, seed):
    r = np.random.default_rng(seed)
    c = int(r.integers(1, 40))
    acc_bits = int(r.integers(8, 25))
    M = r.integers(1 << 16, 1 << 17, c)
    shift = r.integers(acc_bits - 6 if acc_bits > 7 else 1, acc_bits + 12, c).clip(1, 62)
    half = 1 << (acc_bits - 2)
    bias = r.integers(-half, half, c)
    acc = r.integers(-half, half, (int(r.integers(1, 700)), c))
    acc[0], acc[-1] = half - 1, -half
    got = requantize_acc(acc.astype(np.float32), bias, M, shift, zp, lo, hi, acc_bits)
    want = int64_requantize(acc, bias, M, shift, zp, lo, hi)
    assert got.dtype == storage_dtype(lo, hi)
    np.testing.assert_array_equal(got, want)
    # the outputs cover the range, so the wrap-around of the unsigned type is exercised at both ends
    assert got.min() == lo or got.max() == hi


@pytest.mark.parametrize("lo, hi, zp", RANGES)
def test_requantize_acc_at_the_exactness_bound(lo, hi, zp, monkeypatch):
    """The largest accumulators the float64 path accepts: |acc + bias|·M + ... just below 2^53."""
    M = np.array([(1 << 17) - 1, 1 << 16, 98765, (1 << 17) - 3])
    shift = np.array([28, 30, 29, 31])
    top_shift = int(shift.max())
    acc_bits = 36  # 2^35 · (2^17 − 1) + (|zp − lo| + 1) · 2^31 < 2^53
    assert (1 << (acc_bits - 1)) * int(M.max()) + (abs(zp - lo) + 1) * (1 << top_shift) < 1 << F64_EXACT_BITS
    r = np.random.default_rng(7)
    lim = 1 << (acc_bits - 1)
    bias = np.array([-(1 << 20), 0, 12345, 1 << 20])
    total = np.concatenate([r.integers(-lim, lim, (300, 4)), np.full((1, 4), lim - 1), np.full((1, 4), -lim),
                            r.integers(-(1 << 36 - 14), 1 << 36 - 14, (300, 4))])  # some near the clamp range
    acc = total - bias
    want = int64_requantize(acc, bias, M, shift, zp, lo, hi)
    calls = spy_int64(monkeypatch)
    np.testing.assert_array_equal(requantize_acc(acc.astype(np.float64), bias, M, shift, zp, lo, hi, acc_bits), want)
    assert not calls  # the float path ran


def test_requantize_acc_ties_and_values_next_to_them():
    """acc·M + 2^(shift−1) a multiple of 2^shift (round half up) and one either side of it."""
    M, shift = np.array([1 << 16, (1 << 16) + 1, (1 << 17) - 1]), np.array([17, 20, 23])
    ties = []
    for m, s in zip(M, shift):
        inv = pow(int(m), -1, 1 << int(s)) if m % 2 else None
        for k in range(-300, 300):
            if inv is not None:  # solve acc·M ≡ 2^(s−1) (mod 2^s), then offset by k·2^s
                a = (inv * (1 << (int(s) - 1))) % (1 << int(s)) + k * (1 << int(s))
            else:
                a = 2 * k + 1  # M = 2^16, shift 17: odd acc are the ties
            ties.append(a)
    a = np.array(ties)
    acc = np.stack([a, a, a], axis=1)
    acc = np.concatenate([acc, acc - 1, acc + 1])
    for lo, hi, zp in RANGES:
        bits = signed_bits(acc.min(), acc.max()) + 1
        np.testing.assert_array_equal(requantize_acc(acc.astype(np.float32), 0, M, shift, zp, lo, hi, bits),
                                      int64_requantize(acc, 0, M, shift, zp, lo, hi))


def test_requantize_acc_beyond_the_bound_runs_int64(monkeypatch):
    """Past 2^53 the float path would round: the int64 definition must run (same integers)."""
    M, shift = np.array([(1 << 17) - 1]), np.array([40])
    acc = np.array([[(1 << 45) - 1], [-(1 << 45)], [(1 << 45) - 12345]])
    want = int64_requantize(acc, 0, M, shift, 0, -(1 << 20), 1 << 20)
    calls = spy_int64(monkeypatch)
    np.testing.assert_array_equal(requantize_acc(acc.astype(np.float64), 0, M, shift, 0, -(1 << 20), 1 << 20, 46),
                                  want)
    assert calls  # the int64 path ran


@pytest.mark.parametrize("lo, hi, zp", RANGES)
@pytest.mark.parametrize("seed", range(3))
def test_rescale_sum_float_path(lo, hi, zp, seed):
    r = np.random.default_rng(100 + seed)
    shift = int(r.integers(8, 30))
    shape = (int(r.integers(1, 300)), 3, 5)
    qs = [r.integers(0, 256, shape).astype(np.uint8), r.integers(-128, 128, shape).astype(np.int8),
          r.integers(-128, 128, (1, 1, 5)).astype(np.int8)]
    mults = [int(r.integers(1, 1 << 17)), -int(r.integers(1, 1 << 17)), int(r.integers(1, 1 << 10))]
    zps = [int(r.integers(0, 256)), int(r.integers(-128, 128)), 0]
    offset = r.integers(-(1 << 30), 1 << 30, (1, 1, 5))
    got = rescale_sum(qs, mults, zps, offset, shift, zp, lo, hi)
    acc = offset + sum((q.astype(np.int64) - z) * m for q, z, m in zip(qs, zps, mults))
    assert got.dtype == storage_dtype(lo, hi)
    np.testing.assert_array_equal(got, requantize(acc, 1, shift, zp, lo, hi))


@pytest.mark.parametrize("m, float_path", [((1 << 41) - 1, True), ((1 << 43) - 1, False)])
def test_rescale_sum_at_the_bound_and_past_it(m, float_path, monkeypatch):
    """Sums near 2^52 go through the float path exactly; past the bound the int64 one runs."""
    calls = spy_int64(monkeypatch)
    q = np.array([[0, 255, 128, 1, 254]], np.uint8)
    for shift in (36, 44):
        got = rescale_sum([q, q], [m, -m + 7], [3, 0], 0, shift, -3, -128, 127)
        acc = (q.astype(np.int64) - 3) * m + q.astype(np.int64) * (-m + 7)
        np.testing.assert_array_equal(got, requantize(acc, 1, shift, -3, -128, 127))
    assert (not calls) == float_path


def test_dot_dtype_float32_is_exact_at_24_bits():
    """uint8 × int8 dot products whose worst case needs exactly 24 bits are exact on float32 BLAS."""
    k = 256
    assert accumulator_bits("uint8", "int8", k, bias_bits=None) == 24
    assert dot_dtype(24) == np.float32 and dot_dtype(25) == np.float64
    r = np.random.default_rng(3)
    x = np.concatenate([np.full((1, k), 255), np.zeros((1, k)), r.integers(0, 256, (50, k))]).astype(np.uint8)
    w = np.concatenate([np.full((k, 1), -128), np.full((k, 1), 127), r.integers(-128, 128, (k, 30))], axis=1)
    got = x.astype(np.float32) @ w.astype(np.float32)
    np.testing.assert_array_equal(got.astype(np.int64), x.astype(np.int64) @ w.astype(np.int64))
    assert got[0, 0] == -255 * 128 * k


def test_dot_dtype_float64_is_exact_at_53_bits():
    """A float64 dot product whose partial sums reach 2^52: 4096 products of about 2^40."""
    assert dot_dtype(53) == np.float64 and dot_dtype(54) == np.int64
    x = np.full((2, 4096), 1 << 20, np.int64)
    x[1, ::2] *= -1
    w = np.full((4096, 2), (1 << 20) - 1, np.int64)
    w[::3, 1] -= 12345
    got = x.astype(np.float64) @ w.astype(np.float64)
    np.testing.assert_array_equal(got.astype(np.int64), x @ w)
    assert abs(got).max() > 1 << 51


def test_run_layers_gives_the_same_integers_in_pieces_and_threads(monkeypatch, tmp_path):
    bundle = fpga_accel.compile(data.model_path("resnet_ds"), tmp_path / "r.fpga",
                                calib=data.load_calib("resnet_ds")[:50], progress=False)
    qm = load_qmodel(bundle)
    x, _ = data.load_test("resnet_ds")
    t = qm.inputs[0]
    q = {t.name: quantize(x[:75].transpose(0, 2, 3, 1), t.qparams)}
    monkeypatch.setattr(executor, "PIECE_BYTES", 1 << 40)  # one piece: the plain run
    whole = run_layers(qm, q, keep=True, threads=1)
    monkeypatch.setattr(executor, "PIECE_BYTES", 1 << 16)  # small pieces
    monkeypatch.setattr(executor, "MIN_PIECE_ELEMENTS", 1)
    assert len(executor._pieces(qm, 75, 2)) > 2
    for threads in (1, 2, 3):
        got = run_layers(qm, q, keep=True, threads=threads)
        assert got.keys() == whole.keys()
        for name in whole:
            assert got[name].dtype == whole[name].dtype
            np.testing.assert_array_equal(got[name], whole[name])


def test_threads_setting_is_checked(monkeypatch):
    monkeypatch.setenv("FPGA_ACCEL_THREADS", "3")
    assert executor.default_threads() == 3
    monkeypatch.setenv("FPGA_ACCEL_THREADS", "zero")
    with pytest.raises(Exception, match="FPGA_ACCEL_THREADS must be a positive integer"):
        executor.default_threads()
    with pytest.raises(Exception, match="threads must be a positive integer"):
        run_layers(None, {}, threads=0)


@pytest.mark.parametrize("in_min, in_max", [(0, 255), (-128, 127), (3, 200), (-100, -2)])
def test_weight_dot_bits_bounds_every_partial_sum(in_min, in_max):
    """The weight-based width holds every prefix sum of every output at the extreme inputs, is never
    above the type's worst case, and float32 sums within 24 bits are exact."""
    r = np.random.default_rng(11)
    w = r.integers(-128, 128, (6, 300))
    w[0] = 127  # one channel at the extreme
    bits = weight_dot_bits(w, in_min, in_max)
    assert bits <= signed_bits(300 * min(in_min * -128, in_max * -128, in_min * 127, in_max * 127, 0),
                               300 * max(in_min * -128, in_max * -128, in_min * 127, in_max * 127, 0))
    for x in (np.full(300, in_min), np.full(300, in_max), np.where(w[1] > 0, in_max, in_min),
              np.where(w[1] > 0, in_min, in_max), r.integers(in_min, in_max + 1, 300)):
        prefix = np.cumsum(w * x, axis=1)
        assert signed_bits(prefix.min(), prefix.max()) <= bits
    # exactly at the width: the extreme prefix needs all of it
    x = np.where(w > 0, in_max, in_min) if in_max > 0 else np.where(w > 0, in_min, in_max)
    sums = (w * x).sum(axis=1)
    assert max(abs(int(sums.max())), abs(int(sums.min()))) >= 1 << (bits - 3)
    if bits <= F32_EXACT_BITS:
        xs = r.integers(in_min, in_max + 1, (40, 300))
        np.testing.assert_array_equal((xs.astype(np.float32) @ w.T.astype(np.float32)).astype(np.int64), xs @ w.T)


@pytest.fixture(scope="module")
def example_qmodels(tmp_path_factory):
    d = tmp_path_factory.mktemp("dotbits")
    return {name: load_qmodel(fpga_accel.compile(data.model_path(name), d / f"{name}.fpga",
                                                 calib=data.load_calib(name), progress=False))
            for name in ("mnist_cnn", "mlp", "resnet_ds", "mnist_cnn_qdq")}


def test_layer_dot_dtype_falls_back_to_dot_bits():
    assert layer_dot_dtype({"dot_bits": 26}) == np.float64
    assert layer_dot_dtype({"dot_bits": 26, "emu_dot_bits": 24}) == np.float32
    assert layer_dot_dtype({"dot_bits": 60}) == np.int64


@pytest.mark.parametrize("name", ["mnist_cnn", "mlp", "resnet_ds", "mnist_cnn_qdq"])
def test_emu_dot_bits_from_the_weights(name, example_qmodels):
    """Every Conv / Gemm / MatMul config bounds its sums by its own weights, and a layer without the
    key (a bundle compiled before it) runs on dot_bits to the same integers."""
    qm = example_qmodels[name]
    dense = [lay for lay in qm.layers if lay.op_type in ("Conv", "Gemm", "MatMul")]
    assert dense and all(lay.config["emu_dot_bits"] <= lay.config["dot_bits"] for lay in dense)
    assert any(lay.config["emu_dot_bits"] < lay.config["dot_bits"] for lay in dense)
    for lay in dense:
        q = qm.tensors[lay.inputs[0]].qparams.qtype
        assert lay.config["emu_dot_bits"] == min(lay.config["dot_bits"],
                                                 weight_dot_bits(lay.consts["weights"], q.min, q.max))
    x, _ = data.load_test(name)
    from fpga_accel.ir.execute import run_graph

    feeds = {qm.model_inputs[0].name: x[:300]}
    pre = run_graph(qm.host_before, feeds) if qm.host_before.nodes else feeds
    q_in = {t.name: quantize(pre[t.name], t.qparams) for t in qm.inputs}
    new = run_layers(qm, q_in, keep=True)
    old_layers = [type(lay)(**{**vars(lay), "config": {k: v for k, v in lay.config.items() if k != "emu_dot_bits"}})
                  for lay in qm.layers]
    old = run_layers(type(qm)(**{**vars(qm), "layers": old_layers}), q_in, keep=True)
    for k in new:
        np.testing.assert_array_equal(new[k], old[k])


@pytest.mark.parametrize("name", ["mnist_cnn", "mlp", "resnet_ds"])
def test_dense_dot_exact_at_its_worst_inputs(name, example_qmodels):
    """Inputs at the type's extremes by the sign of each channel's weights reach the largest and
    smallest sums; the run path's dtype (float32 where emu_dot_bits <= 24) gives them exactly."""
    from fpga_accel.ops import lookup

    for lay in example_qmodels[name].layers:
        if lay.op_type not in ("Gemm", "MatMul"):
            continue
        q = example_qmodels[name].tensors[lay.inputs[0]].qparams.qtype
        w = lay.consts["weights"].astype(np.int64)
        hi = np.where(w > 0, q.max, q.min)  # row c: the largest sum of channel c
        lo = np.where(w > 0, q.min, q.max)
        x = np.concatenate([hi, lo]).astype(q.dtype)
        got = lookup(lay.op_type, lay.domain).run_dot(lay, [x])
        assert got.dtype == dot_dtype(lay.config["emu_dot_bits"])
        want = x.astype(np.int64) @ w.T
        np.testing.assert_array_equal(got.astype(np.int64), want)
        assert signed_bits(want.min(), want.max()) <= lay.config["emu_dot_bits"]
