"""Exact integer dot products, fast: float64 BLAS when every partial sum stays below 2^53.

float64 represents every integer of magnitude ≤ 2^53 exactly, and each partial sum of a dot
product with |Σ| bounded by 2^(acc_bits−1) ≤ 2^52 is such an integer, so the BLAS result is
the exact integer result. Wider accumulators fall back to int64 arithmetic.
"""
from __future__ import annotations

import numpy as np

F64_EXACT_BITS = 53


def int_matmul(a: np.ndarray, b: np.ndarray, acc_bits: int) -> np.ndarray:
    """a @ b exactly, as int64. ``acc_bits`` bounds the width of every partial sum (no bias)."""
    if acc_bits <= F64_EXACT_BITS:
        return np.rint(a.astype(np.float64) @ b.astype(np.float64)).astype(np.int64)
    return a.astype(np.int64) @ b.astype(np.int64)


def int_einsum(spec: str, a: np.ndarray, b: np.ndarray, acc_bits: int) -> np.ndarray:
    if acc_bits <= F64_EXACT_BITS:
        r = np.einsum(spec, a.astype(np.float64), b.astype(np.float64), optimize=True)
        return np.rint(r).astype(np.int64)
    return np.einsum(spec, a.astype(np.int64), b.astype(np.int64), optimize=True)
