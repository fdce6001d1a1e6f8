"""The integer arithmetic of the contract (DESIGN.md §3), written once; docs/integer-contract.md.

Host boundary: :func:`quantize` (round half to even, then clamp) and :func:`dequantize`.
Accelerator: an exact multiply-accumulate into an accumulator of :func:`accumulator_bits` bits,
then :func:`requantize`, the one place where an accumulator is scaled and rounded:

    out = clamp(zp_out + ((acc · M + 2^(shift−1)) >> shift), lo, hi)

with M < 2^MULT_BITS and shift in 1..62 from :func:`requant_multiplier`, and ``>>`` an arithmetic
(floor) shift, so ties round up (towards +inf). Constants use Python integers; arrays use int64.
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import InputError
from .params import ChannelQParams, QParams
from .qtype import QType, parse_qtype

#: Width of the unsigned requantisation multiplier M, normalised into [2^16, 2^17): M fits the
#: 18-bit signed B port of a DSP48E1/E2 as a non-negative value, leaving the 25/27-bit A port to the
#: accumulator, so one DSP does acc·M for accumulators up to 25/27 bits (a cascade of two beyond).
MULT_BITS = 17
MIN_SHIFT, MAX_SHIFT = 1, 62
#: Widest accumulator :func:`requantize` accepts: ACC_BITS + MULT_BITS <= 63 keeps acc·M + 2^61
#: inside int64 (|acc·M| < 2^(ACC_BITS−1+MULT_BITS) <= 2^62, and 2^62 + 2^61 < 2^63).
MAX_ACC_BITS = 63 - MULT_BITS
INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1

Params = QParams | ChannelQParams


def signed_bits(lo: int, hi: int) -> int:
    """Smallest N >= 1 with [lo, hi] inside the N-bit two's complement range [−2^(N−1), 2^(N−1)−1]."""
    lo, hi = int(lo), int(hi)
    return max((-lo - 1).bit_length() if lo < 0 else 0, hi.bit_length() if hi > 0 else 0) + 1


def quantize(x, params: Params, *, name: str = "tensor") -> np.ndarray:
    """Float → integers of ``params.qtype``: clamp(round_half_even(x / scale) + zero_point, qmin, qmax).

    Computed in float64 (x / scale is one IEEE division). ±Inf saturate; NaN is an InputError.
    Per-channel params scale along their axis; weights clamp to the narrow range.
    """
    x = np.asarray(x)
    if x.dtype.kind not in "biuf" or x.dtype.itemsize > 8:
        x = x.astype(np.float64)
    if x.dtype.kind == "f" and np.isnan(x).any():
        raise InputError(f"tensor '{name}': {int(np.isnan(x).sum())} NaN value(s) cannot be quantised")
    # in place on one float64 array (the division converts x to float64 as it goes)
    q = np.asarray(np.divide(x, params.broadcast_scale(x.shape), dtype=np.float64))  # 0-d stays an array
    np.rint(q, out=q)
    q += params.zero_point
    np.clip(q, params.qmin, params.qmax, out=q)
    return q.astype(params.qtype.dtype)


def dequantize(q, params: Params, dtype=np.float32) -> np.ndarray:
    """Integers → float: scale · (q − zero_point), computed in float64 then cast to ``dtype``."""
    q = np.asarray(q)
    if q.dtype.kind not in "iu":
        raise InputError(f"dequantize needs an integer array, got dtype {q.dtype}")
    real = (q.astype(np.int64) - params.zero_point) * params.broadcast_scale(q.shape)
    return np.asarray(real, dtype=np.float64).astype(dtype)


def quantize_bias(bias, in_scale: float, w_params: ChannelQParams, *, name: str = "layer") -> np.ndarray:
    """Bias → int32 at scale s_in · s_w[c]: round_half_even(b[c] / (s_in · s_w[c])), no clamping.

    Raises InputError naming the layer if a value does not fit int32.
    """
    b = np.asarray(bias, dtype=np.float64).reshape(-1)
    if b.size != w_params.scales.size:
        raise InputError(f"layer '{name}': bias has {b.size} values for {w_params.scales.size} output channels")
    if not np.all(np.isfinite(b)):
        raise InputError(f"layer '{name}': bias contains NaN/Inf; fix the model's bias")
    s = float(in_scale) * w_params.scales
    q = np.rint(b / s)
    bad = np.flatnonzero((q < INT32_MIN) | (q > INT32_MAX))
    if bad.size:
        c = int(bad[0])
        raise InputError(f"layer '{name}': bias {float(b[c])!r} of channel {c} is {q[c]:.4g} at scale s_in·s_w = {s[c]:.4g} "
                         f"and overflows int32 ({bad.size} channel(s)); widen the input's calibration range or "
                         f"check for an all-zero weight channel with a large bias")
    return q.astype(np.int32)


def fold_zero_point(bias_q, w_q, zp_in: int, axis: int = 0) -> np.ndarray:
    """Bias with the input zero point folded in: bias_q[c] − zp_in · Σ_k w_q[c, k] (int64).

    Σ_k (q_k − zp_in)·w_k + bias_q == Σ_k q_k·w_k + fold_zero_point(...), exactly, so hardware
    multiplies the stored input integers (padding must then carry zp_in, the integer of 0.0).
    """
    w = np.moveaxis(np.asarray(w_q, dtype=np.int64), axis, 0)
    return np.asarray(bias_q, dtype=np.int64).reshape(-1) - int(zp_in) * w.reshape(w.shape[0], -1).sum(axis=1)


def accumulator_bits(in_qtype: QType | str, w_qtype: QType | str, reduction_len: int,
                     bias_bits: int | None = 32) -> int:
    """Exact worst-case signed width of bias + Σ_{k<K} x_k·w_k over every value of both types.

    The extremes of a sum of independent terms are the sums of the extreme terms: K times the
    smallest / largest of the four corner products, plus the most negative / positive ``bias_bits``
    bias (None: no bias). Partial sums lie between them (0 is a product), so they fit too.
    """
    a, w = parse_qtype(in_qtype), parse_qtype(w_qtype)
    k = int(reduction_len)
    if k < 1:
        raise InputError(f"reduction length must be >= 1, got {reduction_len!r}")
    corners = [a.min * w.min, a.min * w.max, a.max * w.min, a.max * w.max]
    lo, hi = k * min(corners), k * max(corners)
    if bias_bits is not None:
        if int(bias_bits) < 1:
            raise InputError(f"bias_bits must be >= 1 or None, got {bias_bits!r}")
        lo, hi = lo - (1 << (bias_bits - 1)), hi + (1 << (bias_bits - 1)) - 1
    return signed_bits(lo, hi)


def requant_multiplier(m: float, *, name: str = "layer") -> tuple[int, int]:
    """Real multiplier m > 0 → (M, shift) with m ≈ M / 2^shift, 2^(MULT_BITS−1) <= M < 2^MULT_BITS.

    M = round_half_even(m · 2^shift) (exact: m · 2^shift is a float scaled by a power of two), so
    |M / 2^shift − m| <= 2^−(shift+1) and the relative error is at most 2^−MULT_BITS.
    """
    m = float(m)
    if not (math.isfinite(m) and m > 0):
        raise InputError(f"layer '{name}': requantisation multiplier m = {m!r} must be a positive finite number; "
                         f"check the scales (m = s_in·s_w / s_out)")
    shift = MULT_BITS - math.frexp(m)[1]
    M = round(math.ldexp(m, shift))
    if M == 1 << MULT_BITS:  # rounding carried into the next power of two
        shift -= 1
        M = round(math.ldexp(m, shift))
    if shift < MIN_SHIFT:
        raise InputError(f"layer '{name}': requantisation multiplier m = {m!r} is too large (needs shift {shift} < "
                         f"{MIN_SHIFT}); every nonzero accumulator would saturate. The output scale is too small "
                         f"for its inputs: check its calibration range")
    if shift > MAX_SHIFT:
        raise InputError(f"layer '{name}': requantisation multiplier m = {m!r} is too small (needs shift {shift} > "
                         f"{MAX_SHIFT}). The output scale is far larger than its inputs': check the calibration "
                         f"ranges (an all-zero input?)")
    return M, shift


def requant_multipliers(ms, *, name: str = "layer") -> tuple[np.ndarray, np.ndarray]:
    """:func:`requant_multiplier` of each value: (M, shift) as int64 arrays of the shape of ``ms``."""
    ms = np.asarray(ms, dtype=np.float64)
    pairs = [requant_multiplier(m, name=f"{name}[{i}]") for i, m in enumerate(ms.reshape(-1))]
    M = np.array([p[0] for p in pairs], dtype=np.int64).reshape(ms.shape)
    shift = np.array([p[1] for p in pairs], dtype=np.int64).reshape(ms.shape)
    return M, shift


def _int_array(v, what: str, name: str) -> np.ndarray:
    a = np.asarray(v)
    if a.dtype.kind not in "iu":
        raise InputError(f"layer '{name}': {what} must be integers, got dtype {a.dtype}")
    return a.astype(np.int64)


def requantize(acc, M, shift, zp_out: int, lo: int, hi: int, *, name: str = "layer") -> np.ndarray:
    """out = clamp(zp_out + ((acc · M + 2^(shift−1)) >> shift), lo, hi), elementwise, as int64.

    This is the contract's only rounding of an accumulator: add half, arithmetic shift (floor), i.e.
    round half up. ``M`` and ``shift`` are scalars or arrays broadcasting against ``acc``; a 1-D array
    lines up with the last axis (channels, NHWC). Raises InputError if acc is wider than
    MAX_ACC_BITS (int64 could overflow), M is outside [0, 2^MULT_BITS) or shift outside 1..62.
    """
    acc = np.asarray(acc)
    if acc.dtype.kind not in "iu":
        raise InputError(f"layer '{name}': accumulators must be integers, got dtype {acc.dtype}")
    if acc.size:  # checked before the cast to int64, which could wrap a uint64
        width = signed_bits(acc.min(), acc.max())
        if width > MAX_ACC_BITS:
            raise InputError(f"layer '{name}': accumulator values need {width} bits, more than {MAX_ACC_BITS} "
                             f"(= 63 − MULT_BITS); use fewer bits or a shorter reduction")
    acc = acc.astype(np.int64)
    M, shift = _int_array(M, "multipliers", name), _int_array(shift, "shifts", name)
    if M.size and (M.min() < 0 or M.max() >= 1 << MULT_BITS):
        raise InputError(f"layer '{name}': multiplier M must be in [0, 2^{MULT_BITS}), got {M.min()}..{M.max()}")
    if shift.size and (shift.min() < MIN_SHIFT or shift.max() > MAX_SHIFT):
        raise InputError(f"layer '{name}': shift must be in {MIN_SHIFT}..{MAX_SHIFT}, got {shift.min()}..{shift.max()}")
    lo, hi, zp_out = int(lo), int(hi), int(zp_out)
    if lo > hi:
        raise InputError(f"layer '{name}': clamp bounds [{lo}, {hi}] are empty")
    try:
        shape = np.broadcast_shapes(acc.shape, M.shape, shift.shape)
    except ValueError:
        shape = None
    if shape != acc.shape:
        raise InputError(f"layer '{name}': multipliers {M.shape} / shifts {shift.shape} do not broadcast onto "
                         f"accumulators {acc.shape} (per-channel constants go on the last axis)")
    r = (acc * M + np.left_shift(np.int64(1), shift - 1)) >> shift
    return np.clip(r + zp_out, lo, hi)


def clamp_bounds(qtype: QType | str, zp: int, scale: float, clip=None) -> tuple[int, int]:
    """Integer clamp [lo, hi] of a fused Relu / ReLU6 / Clip [c_lo, c_hi] (None: the type range).

    Each bound is the quantised value of the float bound, zp + round_half_even(c / scale), and the
    result is intersected with the type range; a None or infinite bound is open. Because
    quantisation is monotone, clamp(quantize(x), lo, hi) == quantize(clip(x, c_lo, c_hi)) for all x.
    """
    qt = parse_qtype(qtype)
    if clip is None:
        return qt.min, qt.max
    scale, zp = float(scale), int(zp)
    if not (math.isfinite(scale) and scale > 0):
        raise InputError(f"scale must be a positive finite number, got {scale!r}")
    c_lo = -math.inf if clip[0] is None else float(clip[0])
    c_hi = math.inf if clip[1] is None else float(clip[1])
    if math.isnan(c_lo) or math.isnan(c_hi) or c_lo > c_hi:
        raise InputError(f"clip interval [{c_lo}, {c_hi}] is not a valid interval")
    q_lo = zp + float(np.rint(c_lo / scale))
    q_hi = zp + float(np.rint(c_hi / scale))
    if q_lo > qt.max or q_hi < qt.min:
        raise InputError(f"clip interval [{c_lo}, {c_hi}] lies outside the range of {qt} with scale {scale} and "
                         f"zero point {zp}; the output's calibration range should include the clipped values")
    return int(max(q_lo, qt.min)), int(min(q_hi, qt.max))
