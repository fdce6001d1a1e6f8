"""Packing of integers into stream / ROM words (lane 0 in the low bits, two's complement)."""
from __future__ import annotations

import numpy as np


class PackedLanes:
    """The words of :func:`pack_lanes`, packed on first use (``np.asarray``): the folder lowers a
    layer for every folding it prices and writes none of them; only the written project packs."""

    def __init__(self, values: np.ndarray, bits: int):
        self._values, self._bits, self._words = np.asarray(values, dtype=np.int64), bits, None
        self.shape = self._values.shape[:-1]

    def __array__(self, dtype=None, copy=None):
        if self._words is None:
            self._words = pack_lanes(self._values, self._bits)
        return self._words if dtype is None else self._words.astype(dtype)


def pack_lanes(values: np.ndarray, bits: int) -> np.ndarray:
    """Pack the last axis of ``values`` (lane i at bits [i*bits, (i+1)*bits)) into one word each.

    Returns an object array of Python ints (words may exceed 64 bits)."""
    v = np.asarray(values, dtype=np.int64)
    mask = (1 << bits) - 1
    lanes = v.shape[-1]
    flat = v.reshape(-1, lanes)
    out = np.empty(flat.shape[0], dtype=object)
    for i, row in enumerate(flat):
        w = 0
        for j in range(lanes - 1, -1, -1):
            w = (w << bits) | (int(row[j]) & mask)
        out[i] = w
    return out.reshape(v.shape[:-1])
