"""Packing of integers into stream / ROM words (lane 0 in the low bits, two's complement)."""
from __future__ import annotations

import numpy as np


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
