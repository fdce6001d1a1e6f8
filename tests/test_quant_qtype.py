"""QType: ranges, storage dtypes, HLS/C names, parsing and its errors."""
import numpy as np
import pytest

from fpga_accel.errors import InputError
from fpga_accel.quant import QType, parse_qtype


@pytest.mark.parametrize("bits", range(2, 17))
@pytest.mark.parametrize("signed", [True, False])
def test_range_and_storage(bits, signed):
    t = QType(bits, signed)
    assert t.max - t.min + 1 == 2 ** bits == t.levels
    assert t.min == (-(2 ** (bits - 1)) if signed else 0)
    info = np.iinfo(t.dtype)
    assert info.min <= t.min and t.max <= info.max
    assert t.dtype.itemsize == (1 if bits <= 8 else 2)
    assert t.dtype.kind == ("i" if signed else "u")
    assert t.hls == f"ap_{'' if signed else 'u'}int<{bits}>"
    assert t.c_name == f"{t.dtype.name}_t"
    assert parse_qtype(t.name) == t and QType.parse(str(t)) == t


@pytest.mark.parametrize("spec,want", [("int8", QType(8, True)), ("uint4", QType(4, False)), ("i6", QType(6, True)),
                                       ("u3", QType(3, False)), (" INT16 ", QType(16, True)), ("uint2", QType(2, False))])
def test_parse(spec, want):
    assert parse_qtype(spec) == want


def test_known_names():
    assert (QType(8).hls, QType(8).c_name, str(QType(8))) == ("ap_int<8>", "int8_t", "int8")
    assert (QType(4, False).hls, QType(4, False).c_name, QType(4, False).dtype) == ("ap_uint<4>", "uint8_t", np.uint8)
    assert QType(12, False).c_name == "uint16_t"


@pytest.mark.parametrize("bits", [0, 1, 17, 32, -8])
def test_bits_outside_range(bits):
    with pytest.raises(InputError, match=rf"bits must be in 2\.\.16, got {bits}"):
        QType(bits)


@pytest.mark.parametrize("spec", ["int17", "uint1", "float8", "int", "8", "int8x"])
def test_parse_errors(spec):
    with pytest.raises(InputError, match="int"):
        parse_qtype(spec)


def test_non_integer_bits_and_frozen():
    with pytest.raises(InputError, match="must be an integer"):
        QType(8.0)
    with pytest.raises(InputError, match="must be an integer"):
        QType(True)
    t = QType(8)
    with pytest.raises(AttributeError):
        t.bits = 4
    assert hash(t) == hash(QType(8, True))
