"""The integer arithmetic against exact rational references and brute force."""
import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fpga_accel.errors import InputError
from fpga_accel.quant import (
    MAX_ACC_BITS,
    MULT_BITS,
    ChannelQParams,
    QParams,
    QType,
    accumulator_bits,
    activation_params,
    clamp_bounds,
    dequantize,
    fold_zero_point,
    quantize,
    quantize_bias,
    requant_multiplier,
    requant_multipliers,
    requantize,
    signed_bits,
)

ACC_LIM = 1 << (MAX_ACC_BITS - 1)


def ref_requant(acc: int, M: int, shift: int, zp: int, lo: int, hi: int) -> int:
    """The documented rounding in exact rational arithmetic: zp + floor(acc·M / 2^shift + 1/2), clamped."""
    v = zp + math.floor(Fraction(acc * M, 2 ** shift) + Fraction(1, 2))
    return min(max(v, lo), hi)


# --- requantize -----------------------------------------------------------------------------

@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(-ACC_LIM, ACC_LIM - 1), min_size=1, max_size=20),
       st.integers(0, 2 ** MULT_BITS - 1), st.integers(1, 62), st.integers(-2 ** 15, 2 ** 16 - 1),
       st.integers(-2 ** 16, 2 ** 16), st.integers(0, 2 ** 17))
def test_requantize_equals_rational_reference(accs, M, shift, zp, lo, width):
    hi = lo + width
    got = requantize(np.array(accs, dtype=np.int64), M, shift, zp, lo, hi)
    assert got.dtype == np.int64
    assert got.tolist() == [ref_requant(a, M, shift, zp, lo, hi) for a in accs]


@settings(max_examples=200, deadline=None)
@given(st.integers(-2 ** 20, 2 ** 20), st.integers(2 ** 16, 2 ** 17 - 1), st.integers(1, 40))
def test_requantize_unclamped_matches_reference(acc, M, shift):
    big = 2 ** 40
    assert int(requantize(np.array([acc]), M, shift, 0, -big, big)[0]) == ref_requant(acc, M, shift, 0, -big, big)


def test_ties_round_up_towards_plus_infinity():
    # M = 1, shift = 1: acc / 2 exactly; halves go up: -3/2 -> -1, -1/2 -> 0, 1/2 -> 1, 3/2 -> 2
    got = requantize(np.array([-3, -1, 1, 3, -4, 4]), 1, 1, 0, -100, 100)
    assert got.tolist() == [-1, 0, 1, 2, -2, 2]


def test_extreme_widths_do_not_overflow():
    acc = np.array([-ACC_LIM, ACC_LIM - 1, -1, 0, 1])
    M, shift = 2 ** MULT_BITS - 1, 62
    got = requantize(acc, M, shift, 5, -2 ** 40, 2 ** 40)
    assert got.tolist() == [ref_requant(int(a), M, shift, 5, -2 ** 40, 2 ** 40) for a in acc]
    got = requantize(acc, M, 1, 0, -2 ** 62, 2 ** 62)
    assert got.tolist() == [ref_requant(int(a), M, 1, 0, -2 ** 62, 2 ** 62) for a in acc]


def test_per_channel_broadcast_on_last_axis():
    r = np.random.default_rng(0)
    acc = r.integers(-2 ** 24, 2 ** 24, size=(2, 3, 4, 5))
    M = r.integers(2 ** 16, 2 ** 17, size=5)
    shift = r.integers(10, 30, size=5)
    got = requantize(acc, M, shift, -3, -128, 127)
    for c in range(5):
        want = requantize(acc[..., c], int(M[c]), int(shift[c]), -3, -128, 127)
        np.testing.assert_array_equal(got[..., c], want)


@pytest.mark.parametrize("acc,M,shift,match", [
    (np.array([2 ** 46]), 1, 1, "need 48 bits, more than 46"),
    (np.array([1.0]), 1, 1, "must be integers, got dtype float64"),
    (np.array([1]), 2 ** 17, 1, r"M must be in \[0, 2\^17\)"),
    (np.array([1]), -1, 1, r"M must be in \[0, 2\^17\)"),
    (np.array([1]), 1, 0, "shift must be in 1..62"),
    (np.array([1]), 1, 63, "shift must be in 1..62"),
    (np.ones((2, 3), dtype=np.int64), np.ones(2, dtype=np.int64), 1, "do not broadcast onto accumulators"),
])
def test_requantize_rejects(acc, M, shift, match):
    with pytest.raises(InputError, match=f"layer 'conv9'.*{match}"):
        requantize(acc, M, shift, 0, -128, 127, name="conv9")


def test_requantize_width_limit_is_exact():
    requantize(np.array([-ACC_LIM, ACC_LIM - 1]), 1, 1, 0, 0, 0)  # 46 bits: accepted
    with pytest.raises(InputError, match="need 47 bits"):
        requantize(np.array([ACC_LIM]), 1, 1, 0, 0, 0)
    with pytest.raises(InputError, match="need 47 bits"):
        requantize(np.array([ACC_LIM], dtype=np.uint64), 1, 1, 0, 0, 0)


# --- requant_multiplier ---------------------------------------------------------------------

@settings(max_examples=500, deadline=None)
@given(st.floats(min_value=2.0 ** -45, max_value=2.0 ** 15, allow_nan=False, allow_infinity=False))
def test_requant_multiplier_precision(m):
    M, shift = requant_multiplier(m)
    assert 2 ** (MULT_BITS - 1) <= M < 2 ** MULT_BITS and 1 <= shift <= 62
    err = abs(Fraction(M, 2 ** shift) - Fraction(m))
    assert err <= Fraction(m) * Fraction(1, 2 ** (MULT_BITS - 1))
    assert err <= Fraction(1, 2 ** (shift + 1))  # nearest: half a unit of the last place


def test_requant_multiplier_known_values():
    assert requant_multiplier(1.0) == (2 ** 16, 16)
    assert requant_multiplier(0.5) == (2 ** 16, 17)
    assert requant_multiplier(0.75) == (3 * 2 ** 15, 17)
    # just below 1: rounding carries to 2^17, renormalised to 2^16 with one less shift
    assert requant_multiplier(1.0 - 2.0 ** -30) == (2 ** 16, 16)
    M, shift = requant_multipliers([0.25, 0.003])
    assert M.tolist() == [requant_multiplier(0.25)[0], requant_multiplier(0.003)[0]]
    assert shift.tolist() == [18, requant_multiplier(0.003)[1]]


@pytest.mark.parametrize("m,match", [(0.0, "m = 0.0 must be a positive"), (-0.5, "m = -0.5 must be a positive"),
                                     (float("nan"), "m = nan"), (float("inf"), "m = inf"),
                                     (2.0 ** 16, "m = 65536.0 is too large"), (2.0 ** -50, r"m = 8.8.*e-16 is too small")])
def test_requant_multiplier_rejects(m, match):
    with pytest.raises(InputError, match=f"layer 'fc3'.*{match}"):
        requant_multiplier(m, name="fc3")


# --- accumulator width ----------------------------------------------------------------------

def _types():
    return [QType(b, s) for b in range(2, 9) for s in (True, False)]


def test_accumulator_bits_is_tight_against_brute_force():
    checked = 0
    for a, w in itertools.product(_types(), [QType(b, True) for b in range(2, 9)] + [QType(4, False)]):
        prods = np.outer(np.arange(a.min, a.max + 1), np.arange(w.min, w.max + 1))  # every product
        pmin, pmax = int(prods.min()), int(prods.max())
        for k in (1, 2, 3, 9, 100, 4608):
            for bias_bits in (None, 8, 32):
                b = 0 if bias_bits is None else 2 ** (bias_bits - 1)
                lo, hi = k * pmin - b, k * pmax + (b - 1 if b else 0)  # the true extreme sums
                n = accumulator_bits(a, w, k, bias_bits)
                assert -2 ** (n - 1) <= lo and hi <= 2 ** (n - 1) - 1, (a, w, k, bias_bits)
                assert lo < -2 ** (n - 2) or hi > 2 ** (n - 2) - 1, (a, w, k, bias_bits)  # n - 1 is too few
                checked += 1
    assert checked == 14 * 8 * 6 * 3


@pytest.mark.parametrize("a,w", [(QType(2, True), QType(2, True)), (QType(2, False), QType(3, True)),
                                 (QType(3, True), QType(2, True)), (QType(3, False), QType(3, True))])
@pytest.mark.parametrize("k", [1, 2, 3])
def test_accumulator_bits_by_enumerating_every_sum(a, w, k):
    terms = [x * y for x in range(a.min, a.max + 1) for y in range(w.min, w.max + 1)]
    sums = {sum(c) for c in itertools.product(terms, repeat=k)}
    assert accumulator_bits(a, w, k, None) == signed_bits(min(sums), max(sums))


def test_accumulator_bits_known():
    assert accumulator_bits("uint8", "int8", 1, None) == 16  # 255·(−128) = −32640 >= −2^15
    assert accumulator_bits("uint8", "int8", 2, None) == 17  # −65280
    assert accumulator_bits("int8", "int8", 1, None) == 16  # (−128)² = 16384
    assert accumulator_bits("int8", "int8", 2, None) == 17  # 2·(−128)² = 32768 > 2^15 − 1
    assert accumulator_bits("int8", "int8", 4608, 32) == 33
    with pytest.raises(InputError, match="reduction length must be >= 1"):
        accumulator_bits("int8", "int8", 0)


def test_signed_bits_by_definition():
    for lo in range(-70, 70):
        for hi in range(lo, 70, 7):
            n = signed_bits(lo, hi)
            assert -2 ** (n - 1) <= lo and hi < 2 ** (n - 1)
            assert n == 1 or lo < -2 ** (n - 2) or hi >= 2 ** (n - 2)


# --- host boundary --------------------------------------------------------------------------

@settings(max_examples=200, deadline=None)
@given(st.floats(-50, 0), st.floats(0, 50), st.integers(2, 16), st.booleans(), st.data())
def test_quantize_round_trip_within_half_step(lo, hi, bits, signed, data):
    if hi - lo < 1e-6:
        return
    p = activation_params(lo, hi, QType(bits, signed))
    x = np.array(data.draw(st.lists(st.floats(lo, hi), min_size=1, max_size=30)))
    q = quantize(x, p)
    assert q.dtype == p.qtype.dtype and q.min() >= p.qmin and q.max() <= p.qmax
    back = dequantize(q, p, dtype=np.float64)
    assert np.all(np.abs(back - x) <= p.scale / 2 * (1 + 1e-9) + 1e-12)


def test_quantize_rounds_half_to_even_then_clamps():
    p = QParams(0.5, 10, "uint8")
    x = np.array([0.25, 0.75, 1.25, -0.25, -0.75, 200.0, -200.0, np.inf, -np.inf])
    assert quantize(x, p).tolist() == [10, 12, 12, 10, 8, 255, 0, 255, 0]
    with pytest.raises(InputError, match="tensor 'input0': 1 NaN"):
        quantize(np.array([1.0, np.nan]), p, name="input0")


def test_dequantize_per_channel():
    p = ChannelQParams([0.5, 2.0], "int8", axis=1)
    q = np.array([[1, 1], [-3, 4]], dtype=np.int8)
    np.testing.assert_array_equal(dequantize(q, p), np.array([[0.5, 2.0], [-1.5, 8.0]], dtype=np.float32))


def test_quantize_bias_and_overflow():
    wp = ChannelQParams([0.01, 0.02], "int8")
    q = quantize_bias([0.3, -0.25], 0.5, wp, name="conv1")
    assert q.dtype == np.int32 and q.tolist() == [60, -25]
    with pytest.raises(InputError, match=r"layer 'conv1': bias 1e\+20 of channel 1 .* overflows int32"):
        quantize_bias([0.0, 1e20], 0.5, wp, name="conv1")
    with pytest.raises(InputError, match="layer 'conv1': bias has 3 values for 2 output channels"):
        quantize_bias([0.0, 1.0, 2.0], 0.5, wp, name="conv1")


def test_folded_zero_point_gives_the_same_accumulator():
    r = np.random.default_rng(3)
    x = r.integers(0, 256, size=(7, 24))
    w = r.integers(-127, 128, size=(5, 24))
    b = r.integers(-2 ** 20, 2 ** 20, size=5)
    zp = 37
    centred = (x - zp) @ w.T + b
    folded = x @ w.T + fold_zero_point(b, w, zp, axis=0)
    np.testing.assert_array_equal(centred, folded)
    # conv weights (O, I, kH, kW) fold over everything but the output-channel axis
    wc = r.integers(-7, 8, size=(3, 2, 3, 3))
    np.testing.assert_array_equal(fold_zero_point(np.zeros(3), wc, 2), -2 * wc.reshape(3, -1).sum(axis=1))


# --- clamp bounds ---------------------------------------------------------------------------

def test_clamp_bounds_for_relu_relu6_clip():
    p = activation_params(-3.0, 7.0)  # int8
    assert clamp_bounds(p.qtype, p.zero_point, p.scale) == (-128, 127)
    assert clamp_bounds(p.qtype, p.zero_point, p.scale, (0.0, None)) == (p.zero_point, 127)
    lo, hi = clamp_bounds(p.qtype, p.zero_point, p.scale, (0.0, 6.0))
    assert (lo, hi) == (p.zero_point, p.zero_point + round(6.0 / p.scale))
    assert clamp_bounds(p.qtype, p.zero_point, p.scale, (-np.inf, 100.0)) == (-128, 127)


@settings(max_examples=200, deadline=None)
@given(st.floats(-10, 0), st.floats(0.1, 10), st.floats(-12, 12), st.floats(0, 12),
       st.lists(st.floats(-20, 20), min_size=1, max_size=20))
def test_clamp_after_quantize_equals_quantize_after_clip(lo, hi, c_lo, c_w, xs):
    p = activation_params(lo, hi)
    c_hi = c_lo + c_w
    try:
        b = clamp_bounds(p.qtype, p.zero_point, p.scale, (c_lo, c_hi))
    except InputError:
        return  # clip interval outside the representable range
    x = np.array(xs)
    np.testing.assert_array_equal(np.clip(quantize(x, p), *b), quantize(np.clip(x, c_lo, c_hi), p))


def test_clamp_bounds_errors():
    with pytest.raises(InputError, match=r"clip interval \[10.0, 20.0\] lies outside the range of uint8"):
        clamp_bounds("uint8", 0, 0.01, (10.0, 20.0))
    with pytest.raises(InputError, match="not a valid interval"):
        clamp_bounds("uint8", 0, 0.01, (2.0, 1.0))
    with pytest.raises(InputError, match="not a valid interval"):
        clamp_bounds("uint8", 0, 0.01, (np.nan, 1.0))
