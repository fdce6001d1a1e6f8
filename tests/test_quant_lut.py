"""Lookup tables: indexing, equality with direct evaluation, accuracy and errors."""
import numpy as np
import pytest

from fpga_accel.errors import InputError
from fpga_accel.quant import QParams, activation_params, apply_lut, dequantize, make_lut, quantize

FUNCTIONS = {
    "sigmoid": (lambda x: 1 / (1 + np.exp(-x)), (0.0, 1.0)),
    "tanh": (np.tanh, (-1.0, 1.0)),
    "hardsigmoid": (lambda x: np.clip(0.2 * x + 0.5, 0, 1), (0.0, 1.0)),
    "leakyrelu": (lambda x: np.where(x >= 0, x, 0.01 * x), (-0.08, 8.0)),
}


@pytest.mark.parametrize("fn_name", list(FUNCTIONS))
@pytest.mark.parametrize("in_type", ["int8", "uint8", "int4", "uint3", "int10"])
def test_lut_equals_direct_evaluation(fn_name, in_type):
    fn, (olo, ohi) = FUNCTIONS[fn_name]
    pin = activation_params(-8.0, 8.0, in_type) if in_type[0] == "i" else activation_params(0.0, 8.0, in_type)
    pout = activation_params(olo, ohi)
    lut = make_lut(fn, pin, pout, name=fn_name)
    assert lut.shape == (pin.qtype.levels,) and lut.dtype == pout.qtype.dtype
    r = np.random.default_rng(1)
    q = r.integers(pin.qmin, pin.qmax + 1, size=(3, 5, 7)).astype(pin.qtype.dtype)
    x = dequantize(q, pin, dtype=np.float64)
    got = apply_lut(q, lut, pin.qtype)
    np.testing.assert_array_equal(got, quantize(fn(x), pout))
    # within half an output step of the float function wherever it is inside the output range
    y = fn(x)
    inside = (y >= olo) & (y <= ohi)
    err = np.abs(dequantize(got, pout, dtype=np.float64) - y)[inside]
    assert np.all(err <= pout.scale / 2 * (1 + 1e-9))


def test_indexing_is_q_minus_type_min():
    p = QParams(1.0, 0, "int4")
    lut = make_lut(lambda x: x, p, p)
    assert lut.tolist() == list(range(-8, 8))  # entry 0 is q = -8
    assert apply_lut(np.array([-8, 0, 7]), lut, "int4").tolist() == [-8, 0, 7]
    pu = QParams(1.0, 3, "uint3")
    lut_u = make_lut(lambda x: -x, pu, QParams(1.0, 4, "uint3"))
    # unsigned: entry i is q = i, real i - 3, output -(i - 3) + 4 clamped to 0..7
    assert lut_u.tolist() == [7, 6, 5, 4, 3, 2, 1, 0]


def test_lut_errors():
    p = QParams(0.1, 0, "int8")
    with pytest.raises(InputError, match=r"layer 'log1': the table function gives NaN at input -12.8 \(integer -128\)"):
        make_lut(lambda x: np.where(x < 0, np.nan, x), p, p, name="log1")
    with pytest.raises(InputError, match="must be elementwise"):
        make_lut(lambda x: x[:3], p, p)
    lut = make_lut(np.tanh, p, p)
    with pytest.raises(InputError, match="needs 256 entries"):
        apply_lut(np.array([0]), lut[:100], "int8")
    with pytest.raises(InputError, match="outside uint4"):
        apply_lut(np.array([16]), np.zeros(16), "uint4")
    with pytest.raises(InputError, match="must be integers"):
        apply_lut(np.array([0.5]), lut, "int8")
