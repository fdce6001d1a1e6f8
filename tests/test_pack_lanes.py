"""pack_lanes: lane i of a word at bits [i*bits, (i+1)*bits), two's complement, for every width."""
from __future__ import annotations

import numpy as np
import pytest

from fpga_accel.pe.packing import pack_lanes


def reference(values: np.ndarray, bits: int) -> list[int]:
    """One word per row by the definition: lane 0 in the low bits."""
    rows = np.asarray(values).reshape(-1, values.shape[-1])
    return [sum((int(x) & ((1 << bits) - 1)) << (j * bits) for j, x in enumerate(row)) for row in rows]


@pytest.mark.parametrize("bits", [1, 2, 3, 4, 5, 7, 8, 9, 12, 16, 17, 24, 32])
@pytest.mark.parametrize("lanes", [1, 2, 3, 7, 8, 9, 16, 21, 33, 64, 130])
def test_words_follow_the_definition(bits, lanes):
    rng = np.random.default_rng(bits * 1000 + lanes)
    x = rng.integers(-(1 << (bits - 1)), 1 << bits, (2, 3, lanes))
    x[0, 0] = -(1 << (bits - 1))  # the extremes of both signednesses
    x[0, 1] = (1 << bits) - 1
    words = pack_lanes(x, bits)
    assert words.shape == (2, 3)
    assert [int(w) for w in words.ravel()] == reference(x, bits)
    assert all(0 <= int(w) < 1 << (bits * lanes) for w in words.ravel())
