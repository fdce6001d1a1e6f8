"""Fast exact evaluation of the contract's integer arithmetic for the emulator; no op lives here.

Every integer of magnitude below 2^24 is a float32 and below 2^53 a float64, and a sum or product
of such integers is computed exactly whenever the exact result (and, for sums, every partial sum)
stays below that bound. The emulator uses this to run dot products on BLAS and to requantise in
float arithmetic; the integers are those of ``quant.arith`` (the tests compare them bit for bit),
and anything that could leave the exact range runs the int64 definitions instead.
"""
from __future__ import annotations

import numpy as np

from ..quant import arith

F32_EXACT_BITS = 24
F64_EXACT_BITS = 53
#: rows of a per-channel operation are grouped so numpy's inner loop runs over at least this many
#: elements (a loop over a handful of channels is several times slower per element)
_MIN_ROW = 512
_CHUNK = 1 << 16  # float64 elements per block of the requantisation (512 KiB)


def dot_dtype(dot_bits: int) -> np.dtype:
    """The cheapest dtype in which every partial sum of a ``dot_bits``-wide dot product is exact."""
    if dot_bits <= F32_EXACT_BITS:
        return np.dtype(np.float32)
    if dot_bits <= F64_EXACT_BITS:
        return np.dtype(np.float64)
    return np.dtype(np.int64)


def storage_dtype(lo: int, hi: int) -> np.dtype:
    """The smallest integer dtype holding [lo, hi]."""
    for dt in (np.uint8, np.int8, np.uint16, np.int16, np.int32):
        info = np.iinfo(dt)
        if info.min <= lo and hi <= info.max:
            return np.dtype(dt)
    return np.dtype(np.int64)


def _rows(a: np.ndarray, *per_channel: np.ndarray):
    """``a`` (..., C) viewed as 2-D rows of k·C elements and the per-channel vectors tiled k times."""
    c = a.shape[-1]
    flat = a.reshape(-1, c)
    k = 1
    while c * k < _MIN_ROW and flat.shape[0] % (2 * k) == 0:
        k *= 2
    return flat.reshape(-1, c * k), [np.tile(np.broadcast_to(v, (c,)), k) for v in per_channel]


def requantize_acc(acc: np.ndarray, bias, M, shift, zp_out: int, lo: int, hi: int, acc_bits: int, *,
                   name: str = "layer") -> np.ndarray:
    """``arith.requantize(acc + bias, M, shift, zp_out, lo, hi)`` with per-channel constants on the
    last axis, for an accumulator of exact integers held in a float or integer array.

    In float64 this is clamp(floor(acc·M/2^shift + (bias·M + 2^(shift−1) + zp_out·2^shift)/2^shift),
    lo, hi): exact when the numerator over 2^shift, |acc + bias|·M + 2^(shift−1) + |zp_out|·2^shift,
    stays below 2^53 (every term and partial sum is then an integer below 2^53 scaled by a power of
    two, and floor(t + zp_out) = floor(t) + zp_out). Otherwise the int64 definition runs. Returns the
    values in the smallest integer dtype that holds [lo, hi].
    """
    out_dtype = storage_dtype(lo, hi)
    M = np.asarray(M, np.int64)
    shift = np.asarray(shift, np.int64)
    bias = np.asarray(bias, np.int64)
    top = (1 << (acc_bits - 1)) * int(M.max()) + (abs(zp_out) + 1) * (1 << int(shift.max())) if M.size else 0
    if acc.dtype.kind != "f" or top >= 1 << F64_EXACT_BITS or acc.size == 0:
        a = np.rint(acc).astype(np.int64) if acc.dtype.kind == "f" else acc.astype(np.int64)
        return arith.requantize(a + bias, M, shift, zp_out, lo, hi, name=name).astype(out_dtype)
    inv = np.exp2(-shift.astype(np.float64))
    scale = M.astype(np.float64) * inv
    offset = (bias.astype(np.float64) * M + np.exp2(shift.astype(np.float64) - 1)) * inv + zp_out
    a2, (m, b) = _rows(acc, scale, offset)
    out = np.empty(a2.shape, out_dtype)
    step = max(1, _CHUNK // a2.shape[1])
    t = np.empty((min(step, a2.shape[0]), a2.shape[1]))
    for i in range(0, a2.shape[0], step):  # blocks that stay in cache
        blk = t[:len(a2[i:i + step])]
        np.multiply(a2[i:i + step], m, out=blk)
        blk += b
        np.floor(blk, out=blk)
        np.clip(blk, lo, hi, out=out[i:i + step], casting="unsafe")  # exact integers: the cast keeps them
    return out.reshape(acc.shape)


def rescale_sum(qs, multipliers, zero_points, offset, shift: int, zp_out: int, lo: int, hi: int, *,
                name: str = "layer") -> np.ndarray:
    """``requantize(Σ_i (q_i − zp_i)·M_i + offset, 1, shift, zp_out, lo, hi)`` (inputs broadcasting
    like numpy; ``offset`` an integer array or 0), as the smallest integer dtype holding [lo, hi].

    In float64 the sum is Σ_i q_i·(M_i/2^shift) + (offset − Σ_i zp_i·M_i + 2^(shift−1))/2^shift, exact
    when every term and partial sum is an integer below 2^53 scaled by 2^−shift; otherwise the
    int64 definition runs.
    """
    out_dtype = storage_dtype(lo, hi)
    qs = [np.asarray(q) for q in qs]
    offset = np.asarray(offset, np.int64)
    widths = [max(abs(int(q.min())), abs(int(q.max()))) * abs(m) if q.size else 0 for q, m in zip(qs, multipliers)]
    bound = sum(widths) + sum(abs(z * m) for z, m in zip(zero_points, multipliers)) + int(np.abs(offset).max()) + (1 << shift)
    if bound >= 1 << (F64_EXACT_BITS - 1) or shift > F64_EXACT_BITS - 1:
        acc = offset
        for q, zp, m in zip(qs, zero_points, multipliers):
            acc = acc + (q.astype(np.int64) - zp) * m
        return arith.requantize(acc, 1, shift, zp_out, lo, hi, name=name).astype(out_dtype)
    inv = 2.0 ** -shift
    const = (offset - sum(z * m for z, m in zip(zero_points, multipliers)) + (1 << (shift - 1))) * inv
    shape = np.broadcast_shapes(*(q.shape for q in qs), const.shape)
    out = np.empty(shape, out_dtype)
    n = shape[0] if shape else 1
    step = max(1, _CHUNK // max(1, int(np.prod(shape[1:]))))
    def rows(a, s):  # images s.. of an operand, or all of it when it broadcasts along the batch
        return a[s:s + step] if a.ndim == len(shape) and a.shape[0] == n and n > 1 else a

    for s in range(0, n, step):
        t = np.multiply(rows(qs[0], s), multipliers[0] * inv, dtype=np.float64)
        for q, m in zip(qs[1:], multipliers[1:]):
            t = t + np.multiply(rows(q, s), m * inv, dtype=np.float64)
        t = t + rows(const, s)
        np.floor(t, out=t)
        np.clip(t, lo - zp_out, hi - zp_out, out=t)
        t += zp_out
        out[s:s + step] = t
    return out
