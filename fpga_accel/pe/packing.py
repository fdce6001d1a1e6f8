"""Packing of integers into stream / ROM words (lane 0 in the low bits, two's complement)."""
from __future__ import annotations

import numpy as np


class PackedLanes:
    """The words of :func:`pack_lanes`, packed on first use (``np.asarray``): the folder lowers a
    layer for every folding it prices and writes none of them; only the written project packs."""

    def __init__(self, values, bits: int, shape: tuple[int, ...] | None = None):
        """``values``: the lanes (last axis), or a function returning them, then with the words'
        ``shape``, so that a folding the folder only prices never lays its weights out."""
        if callable(values):
            self._values, self.shape = values, tuple(shape)
        else:
            self._values = np.asarray(values, dtype=np.int64)
            self.shape = self._values.shape[:-1]
        self._bits, self._words = bits, None

    def __array__(self, dtype=None, copy=None):
        if self._words is None:
            values = self._values() if callable(self._values) else self._values
            self._words = pack_lanes(np.asarray(values, dtype=np.int64), self._bits)
        return self._words if dtype is None else self._words.astype(dtype)


def pack_lanes(values: np.ndarray, bits: int) -> np.ndarray:
    """Pack the last axis of ``values`` (lane i at bits [i*bits, (i+1)*bits)) into one word each.

    Returns an object array of Python ints (words may exceed 64 bits)."""
    v = np.asarray(values, dtype=np.int64)
    lanes = v.shape[-1]
    flat = (v.reshape(-1, lanes) & ((1 << bits) - 1)).astype(np.uint64)
    out = np.empty(flat.shape[0], dtype=object)
    if lanes * bits <= 64:  # one machine word: shift and or the lanes in place
        out[:] = _words(flat, bits).tolist()
    elif bits in (8, 16, 32, 64):  # whole bytes: each row's lanes, little-endian, are the word's bytes
        rows = flat.astype(f"<u{bits // 8}")
        out[:] = [int.from_bytes(r.tobytes(), "little") for r in rows]
    else:  # 64-bit chunks of whole lanes, joined per row
        k = 64 // bits
        chunks = [_words(flat[:, i:i + k], bits).tolist() for i in range(0, lanes, k)]
        step = k * bits
        out[:] = [sum(c << (i * step) for i, c in enumerate(row)) for row in zip(*chunks)]
    return out.reshape(v.shape[:-1])


def _words(lanes: np.ndarray, bits: int) -> np.ndarray:
    """Rows of at most 64 bits of lanes (uint64, already masked) as one uint64 each."""
    w = np.zeros(lanes.shape[0], np.uint64)
    for j in range(lanes.shape[1]):
        w |= lanes[:, j] << np.uint64(j * bits)
    return w
