"""Choosing activation and weight parameters from ranges; degenerate and invalid ranges."""
import warnings

import numpy as np
import pytest

from fpga_accel.errors import InputError
from fpga_accel.quant import (
    DEGENERATE_SCALE,
    ChannelQParams,
    QParams,
    QType,
    QuantWarning,
    activation_params,
    dequantize,
    quantize,
    weight_params,
)


def test_non_negative_range_is_unsigned():
    p = activation_params(0.0, 6.0)
    assert p.qtype == QType(8, False) and p.zero_point == 0 and p.scale == pytest.approx(6.0 / 255)


def test_negative_range_is_signed_and_zero_is_exact():
    p = activation_params(-1.0, 3.0)
    assert p.qtype == QType(8, True)
    assert p.scale == pytest.approx(4.0 / 255)
    assert p.zero_point == -128 - round(-1.0 / p.scale)  # -64 (-63.75 rounds to -64)
    assert quantize(0.0, p) == p.zero_point and dequantize(quantize(0.0, p), p) == 0.0


@pytest.mark.parametrize("lo,hi", [(2.0, 5.0), (-7.0, -3.0), (-0.1, 0.05), (-100.0, 1e-3), (1e-6, 3e-6)])
@pytest.mark.parametrize("bits", [2, 4, 8, 16])
def test_range_is_widened_to_zero_and_ends_within_half_step(lo, hi, bits):
    p = activation_params(lo, hi, bits=bits)
    wlo, whi = min(lo, 0.0), max(hi, 0.0)
    assert p.qtype.bits == bits and p.qtype.signed == (wlo < 0)
    ends = dequantize(np.array([p.qmin, p.qmax]), p, dtype=np.float64)
    assert abs(ends[0] - wlo) <= p.scale / 2 * (1 + 1e-9) and abs(ends[1] - whi) <= p.scale / 2 * (1 + 1e-9)
    assert dequantize(quantize(0.0, p), p) == 0.0


def test_explicit_unsigned_type_may_cover_negatives():
    p = activation_params(-1.0, 1.0, "uint8")
    assert p.qtype == QType(8, False) and p.zero_point == 128
    back = dequantize(quantize(np.array([-1.0, 1.0]), p), p, dtype=np.float64)
    assert np.all(np.abs(back - [-1.0, 1.0]) <= p.scale / 2 * (1 + 1e-12))


def test_all_zero_tensor_warns_with_its_name():
    with pytest.warns(QuantWarning, match="tensor 'relu3_out'.*all zero"):
        p = activation_params(0.0, 0.0, name="relu3_out")
    assert p.scale == DEGENERATE_SCALE and p.zero_point == 0 and p.qtype == QType(8, False)


@pytest.mark.parametrize("lo,hi", [(np.nan, 1.0), (0.0, np.inf), (-np.inf, 0.0)])
def test_non_finite_range_is_an_error_naming_the_tensor(lo, hi):
    with pytest.raises(InputError, match="tensor 'conv1_out': range .* is not finite"):
        activation_params(lo, hi, name="conv1_out")


def test_inverted_range_is_an_error():
    with pytest.raises(InputError, match="tensor 'x'.*lo > hi"):
        activation_params(2.0, 1.0, name="x")


def test_qparams_validation():
    with pytest.raises(InputError, match="scale must be a positive"):
        QParams(0.0, 0, "int8")
    with pytest.raises(InputError, match="zero point 300 is outside uint8"):
        QParams(0.1, 300, "uint8")
    with pytest.raises(InputError, match="zero point must be an integer"):
        QParams(0.1, 1.5, "uint8")
    assert QParams(0.5, np.int64(3), "u8").qtype == QType(8, False)


@pytest.mark.parametrize("axis", [0, 1])
@pytest.mark.parametrize("bits", [2, 4, 8])
def test_weight_params_per_channel_symmetric_narrow(axis, bits):
    r = np.random.default_rng(axis * 10 + bits)
    w = r.standard_normal((5, 6, 3)) * r.uniform(0.01, 3, size=(5, 1, 1) if axis == 0 else (1, 6, 1))
    p = weight_params(w, axis=axis, qtype=QType(bits))
    qmax = 2 ** (bits - 1) - 1
    absmax = np.abs(np.moveaxis(w, axis, 0)).reshape(w.shape[axis], -1).max(axis=1)
    np.testing.assert_allclose(p.scales, absmax / qmax, rtol=1e-15)
    q = quantize(w, p)
    assert q.min() >= -qmax and q.max() <= qmax  # narrow: -q is always representable
    # each channel's largest |w| lands exactly on ±qmax and every weight is within half a step
    assert np.all(np.abs(np.moveaxis(q, axis, 0)).reshape(w.shape[axis], -1).max(axis=1) == qmax)
    err = np.abs(dequantize(q, p, dtype=np.float64) - w)
    assert np.all(err <= p.broadcast_scale(w.shape) / 2 * (1 + 1e-12))


def test_all_zero_weight_channel_warns_naming_layer_and_channel():
    w = np.ones((4, 3))
    w[2] = 0
    with pytest.warns(QuantWarning, match=r"layer 'fc1': output channel\(s\) \[2\] are all zero"):
        p = weight_params(w, name="fc1")
    assert p.scales[2] == DEGENERATE_SCALE and np.all(p.scales[[0, 1, 3]] == 1 / 127)
    with pytest.warns(QuantWarning, match="layer 'fc2': all 4 output channels"):
        weight_params(np.zeros((4, 3)), name="fc2")


def test_weight_errors_name_the_layer():
    w = np.ones((2, 2))
    w[1, 1] = np.nan
    with pytest.raises(InputError, match="layer 'conv2': weights contain 1 NaN/Inf"):
        weight_params(w, name="conv2")
    with pytest.raises(InputError, match="need a signed type"):
        weight_params(np.ones((2, 2)), qtype="uint8")
    with pytest.raises(InputError, match="layer 'c': channel axis 3 is out of range"):
        weight_params(np.ones((2, 2)), axis=3, name="c")


def test_channel_params_broadcast_and_equality():
    p = ChannelQParams([0.5, 0.25], "int4", axis=1)
    assert p.broadcast_scale((3, 2, 7)).shape == (1, 2, 1)
    with pytest.raises(InputError, match="2 channels on axis 1 do not fit a tensor of shape \\(3, 5\\)"):
        p.broadcast_scale((3, 5))
    assert p == ChannelQParams(np.array([0.5, 0.25]), QType(4), axis=1)
    assert p != ChannelQParams([0.5, 0.25], "int4", axis=0)
    assert (p.qmin, p.qmax, p.zero_point) == (-7, 7, 0)
    assert ChannelQParams([1.0], "int4", narrow=False).qmin == -8


def test_no_warning_for_ordinary_ranges():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        activation_params(-1, 1)
        weight_params(np.eye(3) + 0.1)
