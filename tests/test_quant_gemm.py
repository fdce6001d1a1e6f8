"""End-to-end sanity of the contract: a requantised int8 GEMM against the float product."""
import numpy as np
import pytest

from fpga_accel.quant import (
    accumulator_bits,
    activation_params,
    clamp_bounds,
    dequantize,
    fold_zero_point,
    quantize,
    quantize_bias,
    requant_multipliers,
    requantize,
    signed_bits,
    weight_params,
)


@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_int8_gemm_is_within_the_error_bound_of_the_float_product(relu, seed):
    g = np.random.default_rng(seed)
    K = 96
    X = g.normal(0.3, 1.0, (40, K))
    W = g.normal(0, 0.2, (24, K)) * g.uniform(0.05, 2.0, (24, 1))  # channel ranges differ
    b = g.normal(0, 0.5, 24)
    Y = X @ W.T + b
    if relu:
        Y = np.maximum(Y, 0)

    px = activation_params(X.min(), X.max())  # signed int8, zero point != 0
    pw = weight_params(W, axis=0)
    py = activation_params(Y.min(), Y.max())  # uint8 after ReLU
    qx, qw = quantize(X, px), quantize(W, pw)
    qb = quantize_bias(b, px.scale, pw)

    acc = (qx.astype(np.int64) - px.zero_point) @ qw.astype(np.int64).T + qb
    folded = qx.astype(np.int64) @ qw.astype(np.int64).T + fold_zero_point(qb, qw, px.zero_point)
    np.testing.assert_array_equal(acc, folded)  # what hardware accumulates is the same integer
    width = accumulator_bits(px.qtype, pw.qtype, K, signed_bits(folded.min(), folded.max()))
    assert signed_bits(acc.min(), acc.max()) <= width

    M, shift = requant_multipliers(px.scale * pw.scales / py.scale)
    lo, hi = clamp_bounds(py.qtype, py.zero_point, py.scale, (0.0, None) if relu else None)
    qy = requantize(acc, M, shift, py.zero_point, lo, hi)
    got = dequantize(qy, py, np.float64)

    # error bound per element: operand rounding (half a step each), bias rounding, output rounding
    # (half a step) and the multiplier's rounding (|acc| · 2^-(shift+1) output steps)
    sx, sw = px.scale, pw.scales
    operands = (np.abs(X).sum(axis=1, keepdims=True) + K * sx / 2) * sw / 2 + sx / 2 * np.abs(W).sum(axis=1)
    bound = operands + sx * sw / 2 + py.scale * (0.5 + np.abs(acc) * 2.0 ** -(shift + 1.0)) + 1e-9
    err = np.abs(got - Y)
    assert np.all(err <= bound)
    assert err.mean() < 0.5 * py.scale  # rounding to nearest: typically well under half an output step
