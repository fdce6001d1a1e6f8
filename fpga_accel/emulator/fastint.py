"""Fast exact evaluation of the contract's integer arithmetic for the emulator; no op lives here.

Every integer of magnitude below 2^24 is a float32 and below 2^53 a float64, and a sum or product
of such integers is computed exactly whenever the exact result (and, for sums, every partial sum)
stays below that bound. The emulator uses this to run dot products on BLAS and to requantise in
float arithmetic; the integers are those of ``quant.arith`` (the tests compare them bit for bit),
and anything that could leave the exact range runs the int64 definitions instead.
"""
from __future__ import annotations

import functools

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


def weight_dot_bits(weights, in_min: int, in_max: int) -> int:
    """Signed width of every partial sum of Σ_k x_k·w[c, k] over inputs x_k in [in_min, in_max] for
    these integer ``weights`` (output channel first), in any order of summation: a bound from the
    weights themselves, often a few bits below the type's worst case (``arith.accumulator_bits``),
    so that more layers qualify for float32 in :func:`dot_dtype`. A partial sum is a sum over a
    subset of the terms, so it lies in [Σ_k min(0, term_k), Σ_k max(0, term_k)] over the extremes."""
    w = np.asarray(weights, np.int64).reshape(len(weights), -1)
    if w.size == 0:
        return 1
    a, b = w * int(in_min), w * int(in_max)
    lo = np.minimum(np.minimum(a, b), 0).sum(axis=1)
    hi = np.maximum(np.maximum(a, b), 0).sum(axis=1)
    return arith.signed_bits(int(lo.min()), int(hi.max()))


def layer_dot_dtype(config) -> np.dtype:
    """:func:`dot_dtype` of a Conv / Gemm / MatMul layer: from its ``emu_dot_bits`` (the bound of
    :func:`weight_dot_bits` on its own weights), or from ``dot_bits`` (the types' worst case) in
    bundles compiled before the key existed."""
    return dot_dtype(config.get("emu_dot_bits", config["dot_bits"]))


def requantize_dot(layer, dot: np.ndarray) -> np.ndarray:
    """A Conv / Gemm / MatMul layer's outputs from its dot products without the bias (channels last):
    :func:`requantize_acc` with the layer's folded bias and constants."""
    c, k = layer.config, layer.consts
    return requantize_acc(dot, k["bias"], k["M"], k["shift"], c["zp_out"], c["lo"], c["hi"], c["acc_bits"],
                          name=layer.name)


def requant_is_monotone(layer) -> bool:
    """Whether the layer's requantisation is non-decreasing in the accumulator for every channel:
    clamp(zp + ((acc + bias)·M + 2^(shift−1)) >> shift, lo, hi) is when M >= 0 and the shift is a
    right shift (>= 1, as ``arith.requantize`` demands); then a max over accumulators and the
    requantisation commute."""
    k = layer.consts
    if not all(key in k for key in ("M", "shift", "bias")):
        return False
    M, shift = np.asarray(k["M"]), np.asarray(k["shift"])
    return (M.dtype.kind in "iu" and shift.dtype.kind in "iu" and M.size > 0 and shift.size > 0
            and int(M.min()) >= 0 and int(shift.min()) >= arith.MIN_SHIFT)


@functools.lru_cache(maxsize=256)
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


_UNSIGNED = {1: np.dtype(np.uint8), 2: np.dtype(np.uint16), 4: np.dtype(np.uint32), 8: np.dtype(np.uint64)}
_CONSTANTS: dict = {}  # requantisation constants per layer, see float_constants
_MAX_CONSTANTS = 1024


def float_constants(bias: np.ndarray, M: np.ndarray, shift: np.ndarray, zp_out: int, lo: int, c: int):
    """(scale, offset) float64 vectors of ``c`` channels: M / 2^shift and
    (bias·M + 2^(shift−1)) / 2^shift + zp_out − lo, cached by value (layers call with the same
    constants on every batch, and computing them costs more than requantising one image)."""
    key = (bias.tobytes(), M.tobytes(), shift.tobytes(), bias.shape, M.shape, shift.shape, zp_out, lo, c)
    hit = _CONSTANTS.get(key)
    if hit is None:
        inv = np.exp2(-shift.astype(np.float64))
        scale = np.broadcast_to(M.astype(np.float64) * inv, (c,)).copy()
        offset = (bias.astype(np.float64) * M + np.exp2(shift.astype(np.float64) - 1)) * inv + (zp_out - lo)
        hit = (scale, np.broadcast_to(offset, (c,)).copy(), {})
        if len(_CONSTANTS) >= _MAX_CONSTANTS:
            _CONSTANTS.clear()
        _CONSTANTS[key] = hit
    return hit


def requant_exact_in_float64(acc_bits: int, M, shift, zp_out: int, lo: int) -> bool:
    """Whether :func:`requantize_acc`'s float64 form is exact for accumulators (with the bias) of
    ``acc_bits`` signed bits: |acc + bias|·M + 2^(shift−1) + |zp_out − lo|·2^shift < 2^53."""
    M, shift = np.asarray(M, np.int64), np.asarray(shift, np.int64)
    if not M.size:
        return True
    top = (1 << (acc_bits - 1)) * int(M.max()) + (abs(int(zp_out) - int(lo)) + 1) * (1 << int(shift.max()))
    return top < 1 << F64_EXACT_BITS


def requantize_acc(acc: np.ndarray, bias, M, shift, zp_out: int, lo: int, hi: int, acc_bits: int, *,
                   name: str = "layer") -> np.ndarray:
    """``arith.requantize(acc + bias, M, shift, zp_out, lo, hi)`` with per-channel constants on the
    last axis, for an accumulator of exact integers held in a float or integer array.

    In float64 this is lo + clamp(t, 0, hi − lo) with t = acc·M/2^shift + (bias·M + 2^(shift−1) +
    (zp_out − lo)·2^shift)/2^shift, truncated to an integer: exact when the numerator over
    2^shift, |acc + bias|·M + 2^(shift−1) + |zp_out − lo|·2^shift, stays below 2^53 (every term
    and partial sum is then an integer below 2^53 scaled by a power of two). Truncation is the floor
    because the clamped t is >= 0, and clamping commutes with the floor as the bounds are integers;
    lo is added back in the unsigned type of the output's width, whose wrap-around gives the signed
    result. Otherwise the int64 definition runs. Returns the values in the smallest integer dtype
    that holds [lo, hi].
    """
    lo, hi, zp_out = int(lo), int(hi), int(zp_out)
    out_dtype = storage_dtype(lo, hi)
    M = np.asarray(M, np.int64)
    shift = np.asarray(shift, np.int64)
    bias = np.asarray(bias, np.int64)
    if (acc.dtype.kind != "f" or not requant_exact_in_float64(acc_bits, M, shift, zp_out, lo) or acc.size == 0
            or lo > hi or acc.ndim == 0
            or any(v.ndim > 1 or v.size not in (1, acc.shape[-1]) for v in (M, shift, bias))):
        a = np.rint(acc).astype(np.int64) if acc.dtype.kind == "f" else acc.astype(np.int64)
        return arith.requantize(a + bias, M, shift, zp_out, lo, hi, name=name).astype(out_dtype)
    c = acc.shape[-1]
    scale, offset, tiled = float_constants(bias, M, shift, zp_out, lo, c)
    a2, _ = _rows(acc)
    k = a2.shape[1] // c
    if k not in tiled:
        tiled[k] = (np.tile(scale, k), np.tile(offset, k))
    m, b = tiled[k]
    unsigned = _UNSIGNED[out_dtype.itemsize]
    out = np.empty(a2.shape, unsigned)
    step = max(1, _CHUNK // a2.shape[1])
    t = np.empty((min(step, a2.shape[0]), a2.shape[1]))
    span = hi - lo
    for i in range(0, a2.shape[0], step):  # blocks that stay in cache
        src = a2[i:i + step]
        blk = t[:len(src)]
        np.copyto(blk, src)  # float32 -> float64 once (a mixed-type multiply converts in small buffers)
        blk *= m
        blk += b
        np.clip(blk, 0, span, out=blk)
        np.copyto(out[i:i + step], blk, casting="unsafe")  # exact integers >= 0: truncation keeps them
    if lo != 0:
        out += unsigned.type(lo % (1 << (8 * out_dtype.itemsize)))  # wraps to the signed values
    return out.view(out_dtype).reshape(acc.shape)


def rescale_sum(qs, multipliers, zero_points, offset, shift: int, zp_out: int, lo: int, hi: int, *,
                name: str = "layer") -> np.ndarray:
    """``requantize(Σ_i (q_i − zp_i)·M_i + offset, 1, shift, zp_out, lo, hi)`` (inputs broadcasting
    like numpy; ``offset`` an integer array or 0), as the smallest integer dtype holding [lo, hi].

    In float64 the sum is Σ_i q_i·(M_i/2^shift) + (offset − Σ_i zp_i·M_i + 2^(shift−1) +
    (zp_out − lo)·2^shift)/2^shift, exact when every term and partial sum is an integer below 2^53
    scaled by 2^−shift; clamped to [0, hi − lo] and truncated (= floored, as in
    :func:`requantize_acc`), lo added back with the unsigned type's wrap-around. Otherwise the
    int64 definition runs.
    """
    lo, hi, zp_out, shift = int(lo), int(hi), int(zp_out), int(shift)
    out_dtype = storage_dtype(lo, hi)
    qs = [np.asarray(q) for q in qs]
    offset = np.asarray(offset, np.int64)
    widths = [max(abs(int(q.min())), abs(int(q.max()))) * abs(m) if q.size else 0 for q, m in zip(qs, multipliers)]
    bound = (sum(widths) + sum(abs(z * m) for z, m in zip(zero_points, multipliers)) + int(np.abs(offset).max())
             + (abs(zp_out - lo) + 1) * (1 << shift))
    if bound >= 1 << (F64_EXACT_BITS - 1) or shift > F64_EXACT_BITS - 1 or lo > hi:
        acc = offset
        for q, zp, m in zip(qs, zero_points, multipliers):
            acc = acc + (q.astype(np.int64) - zp) * m
        return arith.requantize(acc, 1, shift, zp_out, lo, hi, name=name).astype(out_dtype)
    inv = 2.0 ** -shift
    const = (offset - sum(z * m for z, m in zip(zero_points, multipliers)) + (1 << (shift - 1))) * inv + (zp_out - lo)
    shape = np.broadcast_shapes(*(q.shape for q in qs), const.shape)
    unsigned = _UNSIGNED[out_dtype.itemsize]
    out = np.empty(shape, unsigned)
    n = shape[0] if shape else 1
    step = max(1, _CHUNK // max(1, int(np.prod(shape[1:]))))

    def rows(a, s):  # images s.. of an operand, or all of it when it broadcasts along the batch
        return a[s:s + step] if a.ndim == len(shape) and a.shape[0] == n and n > 1 else a

    per_block = min(step, n) * int(np.prod(shape[1:]))
    t_buf, u_buf = np.empty(per_block), np.empty(per_block)
    span = hi - lo
    for s in range(0, n, step):
        dst = out[s:s + step] if shape else out
        t = t_buf[:dst.size].reshape(dst.shape)
        u = u_buf[:dst.size].reshape(dst.shape)
        np.copyto(t, rows(qs[0], s))  # to float64 once: mixed-type arithmetic converts in small buffers
        t *= multipliers[0] * inv
        for q, m in zip(qs[1:], multipliers[1:]):
            np.copyto(u, rows(q, s))
            u *= m * inv
            t += u
        t += rows(const, s)
        np.clip(t, 0, span, out=t)
        np.copyto(dst, t, casting="unsafe")  # exact integers >= 0: truncation keeps them
    if lo != 0:
        out += unsigned.type(lo % (1 << (8 * out_dtype.itemsize)))  # wraps to the signed values
    return out.view(out_dtype)
