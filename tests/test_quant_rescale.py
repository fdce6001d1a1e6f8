"""Add / Concat / AveragePool rescaling: exact integer reference and accuracy against float."""
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from fpga_accel.errors import InputError
from fpga_accel.quant import (
    MULT_BITS,
    QParams,
    activation_params,
    add,
    add_constants,
    apply_rescale,
    average,
    concat,
    concat_constants,
    dequantize,
    pool_constants,
    quantize,
    requant_multiplier,
)


def ref_rescale(qs, r):
    """Σ M_i (q_i − zp_i) / 2^shift rounded half up, + zp_out, clamped: exact rationals, one element at a time."""
    out = []
    for vals in zip(*qs):
        s = sum(Fraction(M * (int(q) - zp)) for q, zp, M in zip(vals, r.zero_points, r.multipliers))
        out.append(min(max(r.zp_out + math.floor(s / 2 ** r.shift + Fraction(1, 2)), r.lo), r.hi))
    return out


params_st = st.builds(lambda lo, hi, t: activation_params(lo, hi, t),
                      st.floats(-20, 0), st.floats(0.01, 20), st.sampled_from(["int8", "uint8", "int4", "int16"]))


@settings(max_examples=150, deadline=None)
@given(params_st, params_st, params_st, st.integers(0, 2 ** 32))
# inputs 28,000x apart in scale: the shared shift leaves the small one's multiplier coarse (2 of 2^9),
# so a sum past the limit may land inside it, within the bound
@example(activation_params(-1.0, 7.0, "int4"), activation_params(0.0, 1.25, "int16"),
         activation_params(0.0, 1.0, "int8"), 1)
def test_add_equals_rational_reference_and_float_sum(pa, pb, pout, seed):
    assume(max(pa.scale, pb.scale) / pout.scale < 2 ** 15)  # beyond, requant_multiplier refuses (tested there)
    r = add_constants([pa, pb], pout)
    assert max(r.multipliers) < 2 ** MULT_BITS
    g = np.random.default_rng(seed)
    qa = g.integers(pa.qmin, pa.qmax + 1, size=40)
    qb = g.integers(pb.qmin, pb.qmax + 1, size=40)
    got = add([qa, qb], r)
    assert got.tolist() == ref_rescale([qa, qb], r)
    # accuracy: within half a step plus the multipliers' rounding of the exact float sum, unless clamped
    xa, xb = dequantize(qa, pa, np.float64), dequantize(qb, pb, np.float64)
    exact = pout.zero_point + (xa + xb) / pout.scale
    bound = 0.5 + (np.abs(qa - pa.zero_point) + np.abs(qb - pb.zero_point)) * 2.0 ** -(r.shift + 1) + 1e-9
    inside = (exact > pout.qmin) & (exact < pout.qmax)
    assert np.all(np.abs(got - exact)[inside] <= bound[inside])
    # clamped: within the same bound of the clamped sum, and at the limit once beyond the bound
    assert np.all(np.abs(got - np.clip(exact, pout.qmin, pout.qmax)) <= bound)
    assert np.all(got[exact >= pout.qmax + bound] == pout.qmax)
    assert np.all(got[exact <= pout.qmin - bound] == pout.qmin)


def test_add_shares_one_shift_and_normalises_the_largest_multiplier():
    pa, pb, pout = QParams(0.02, 3, "int8"), QParams(0.005, -1, "int8"), QParams(0.04, 0, "int8")
    r = add_constants([pa, pb], pout)
    assert (r.multipliers[0], r.shift) == requant_multiplier(0.5)
    assert r.multipliers[1] == round(0.125 * 2 ** r.shift)


def test_add_broadcasts_and_fused_relu_clamps_at_zero_point():
    pa, pb = activation_params(-2, 2), activation_params(-1, 1)
    pout = activation_params(-3, 3)
    r = add_constants([pa, pb], pout, clip=(0.0, None))
    qa = quantize(np.linspace(-2, 2, 12).reshape(3, 4), pa)
    qb = quantize(np.array([-1.0, -0.5, 0.5, 1.0]), pb)  # broadcast along the last axis
    got = add([qa, qb], r)
    assert got.shape == (3, 4) and got.min() >= pout.zero_point
    want = quantize(np.maximum(dequantize(qa, pa, np.float64) + dequantize(qb, pb, np.float64), 0), pout)
    assert np.max(np.abs(got - want)) <= 1


def test_concat_identity_and_rescale():
    p1, p2 = activation_params(0, 4), activation_params(0, 8)
    rs = concat_constants([p1, p2], p2)
    q1 = np.arange(256, dtype=np.uint8).reshape(1, -1)
    q2 = np.arange(256, dtype=np.uint8)[::-1].reshape(1, -1)
    out = concat([q1, q2], rs, axis=0)
    np.testing.assert_array_equal(out[1], q2[0])  # same parameters: exactly the identity
    assert out[0].tolist() == ref_rescale([q1[0]], rs[0])
    assert np.max(np.abs(out[0] - q1[0] * p1.scale / p2.scale)) <= 0.5 + 1e-6


@pytest.mark.parametrize("k", [4, 9, 49])
def test_average_pool_sum_then_requantise(k):
    pin = activation_params(0, 6)
    pout = activation_params(0, 6)
    g = np.random.default_rng(k)
    windows = g.integers(0, 256, size=(10, 3, k))  # (positions, channels, window)
    sums = (windows - pin.zero_point).sum(axis=-1)
    c = pool_constants(pin, pout, [k])
    got = average(sums, k, c)
    mean = dequantize(windows, pin, np.float64).mean(axis=-1)
    shift = c.table[k][1]
    bound = 0.5 + np.abs(sums) * 2.0 ** -(shift + 1) + 1e-9
    assert np.all(np.abs(got - (pout.zero_point + mean / pout.scale)) <= bound)


def test_average_pool_with_per_position_divisors():
    pin, pout = QParams(0.1, -5, "int8"), QParams(0.05, 0, "int8")
    c = pool_constants(pin, pout, range(1, 10), clip=(0.0, 6.0))
    sums = np.array([[[30, -40]], [[7, 9]]])  # (H, W, C) sums of centred values
    divisors = np.array([[[4]], [[9]]])  # broadcast over channels
    got = average(sums, divisors, c)
    for idx in np.ndindex(sums.shape):
        d = divisors[idx[0], idx[1], 0]
        M, shift = c.table[d]
        want = min(max(c.zp_out + math.floor(Fraction(int(sums[idx]) * M, 2 ** shift) + Fraction(1, 2)), c.lo), c.hi)
        assert got[idx] == want
    with pytest.raises(InputError, match=r"layer 'pool2': no constants for divisor\(s\) \[12\]"):
        average(sums, 12, c, name="pool2")


def test_rescale_errors():
    p = activation_params(0, 1)
    with pytest.raises(InputError, match="no inputs"):
        add_constants([], p)
    r = add_constants([p, p], p)
    with pytest.raises(InputError, match="1 input\\(s\\) for constants of 2"):
        apply_rescale([np.array([1])], r)
    with pytest.raises(InputError, match="must be integers"):
        add([np.array([1.0]), np.array([1])], r)
    with pytest.raises(InputError, match="divisors must be integers >= 1"):
        pool_constants(p, p, [0])
