"""Integer rescaling for residual Add, Concat and average pooling (DESIGN.md §3).

Each is a sum of centred inputs times integer multipliers, rounded once by :func:`requantize`:

    acc = Σ_i (q_i − zp_i) · M_i                         exact, int64
    out = requantize(acc, 1, shift, zp_out, lo, hi)      = clamp(zp_out + ((acc + 2^(shift−1)) >> shift))

- **Add** (and n-ary Sum): M_i = round_half_even(s_i / s_out · 2^shift) with one shared shift, taken
  from the largest ratio so its M is normalised into [2^16, 2^17) (all M_i < 2^17). No input is
  rounded on its own: each product keeps ``shift`` fractional bits, which is what TFLite's
  left_shift=20 pre-shift buys, and the only rounding is the final one.
- **Concat**: each input alone (one term) to the output scale; equal parameters give the identity.
- **AveragePool**: acc = Σ_window (q − zp_in), then requantize with (M, shift) of
  m = s_in / (s_out · d), d the window's divisor (kernel size, or the count of valid elements when
  padding is excluded). Hardware may sum the stored integers and subtract d·zp_in: same integers.
Only the constants use floats; applying them is integer-only.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from .arith import clamp_bounds, requant_multiplier, requantize
from .params import QParams


@dataclass(frozen=True)
class Rescale:
    """Constants of out = clamp(zp_out + round(Σ_i M_i·(q_i − zero_points[i]) / 2^shift), lo, hi)."""

    multipliers: tuple[int, ...]
    zero_points: tuple[int, ...]
    shift: int
    zp_out: int
    lo: int
    hi: int


def rescale_constants(in_params: Sequence[QParams], out_params: QParams, *, clip=None,
                      name: str = "layer") -> Rescale:
    """Constants that map the inputs' sum to ``out_params`` (Add / Sum; one input for Concat).

    ``clip`` is a fused Relu/Clip interval, turned into the clamp by :func:`clamp_bounds`.
    """
    if not in_params:
        raise InputError(f"layer '{name}': no inputs to rescale")
    ratios = [p.scale / out_params.scale for p in in_params]
    _, shift = requant_multiplier(max(ratios), name=name)
    # r · 2^shift is exact (power-of-two scaling); rounding is monotone, so every M_i <= the normalised
    # M of the largest ratio < 2^MULT_BITS.
    Ms = tuple(round(r * 2.0 ** shift) for r in ratios)
    lo, hi = clamp_bounds(out_params.qtype, out_params.zero_point, out_params.scale, clip)
    return Rescale(Ms, tuple(p.zero_point for p in in_params), shift, out_params.zero_point, lo, hi)


def apply_rescale(qs: Sequence, r: Rescale, *, name: str = "layer") -> np.ndarray:
    """Σ_i (q_i − zp_i)·M_i requantised (inputs broadcast like numpy); int64 in [r.lo, r.hi]."""
    if len(qs) != len(r.multipliers):
        raise InputError(f"layer '{name}': {len(qs)} input(s) for constants of {len(r.multipliers)}")
    acc = np.int64(0)
    for q, zp, M in zip(qs, r.zero_points, r.multipliers):
        q = np.asarray(q)
        if q.dtype.kind not in "iu":
            raise InputError(f"layer '{name}': inputs must be integers, got dtype {q.dtype}")
        acc = acc + (q.astype(np.int64) - zp) * M
    return requantize(np.asarray(acc), 1, r.shift, r.zp_out, r.lo, r.hi, name=name)


def add_constants(in_params: Sequence[QParams], out_params: QParams, *, clip=None, name: str = "add") -> Rescale:
    """Residual Add / Sum: one multiplier per input, one shared shift (see module docs)."""
    return rescale_constants(in_params, out_params, clip=clip, name=name)


def add(qs: Sequence, r: Rescale, *, name: str = "add") -> np.ndarray:
    """Integer Add of already-quantised inputs with constants from :func:`add_constants`."""
    return apply_rescale(qs, r, name=name)


def concat_constants(in_params: Sequence[QParams], out_params: QParams, *, name: str = "concat") -> list[Rescale]:
    """Concat: one single-input :class:`Rescale` per input, to the output's scale and zero point."""
    return [rescale_constants([p], out_params, name=f"{name}[{i}]") for i, p in enumerate(in_params)]


def concat(qs: Sequence, rescales: Sequence[Rescale], axis: int, *, name: str = "concat") -> np.ndarray:
    """Requantise each input with its constants and concatenate along ``axis`` (int64)."""
    if len(qs) != len(rescales):
        raise InputError(f"layer '{name}': {len(qs)} input(s) for {len(rescales)} set(s) of constants")
    parts = [apply_rescale([q], r, name=f"{name}[{i}]") for i, (q, r) in enumerate(zip(qs, rescales))]
    return np.concatenate(parts, axis=axis)


@dataclass(frozen=True)
class PoolRescale:
    """Average-pool constants: ``table[d] = (M, shift)`` of s_in / (s_out · d) per divisor d."""

    table: Mapping[int, tuple[int, int]]
    zp_in: int
    zp_out: int
    lo: int
    hi: int


def pool_constants(in_params: QParams, out_params: QParams, divisors, *, clip=None,
                   name: str = "avgpool") -> PoolRescale:
    """Constants for every divisor that occurs (e.g. [k·k], or 1..k·k when padding is excluded)."""
    ds = sorted({int(d) for d in np.asarray(divisors).reshape(-1)})
    if not ds or ds[0] < 1:
        raise InputError(f"layer '{name}': divisors must be integers >= 1, got {ds[:5]}")
    table = {d: requant_multiplier(in_params.scale / (out_params.scale * d), name=f"{name} (divisor {d})")
             for d in ds}
    lo, hi = clamp_bounds(out_params.qtype, out_params.zero_point, out_params.scale, clip)
    return PoolRescale(table, in_params.zero_point, out_params.zero_point, lo, hi)


def average(window_sums, divisors, c: PoolRescale, *, name: str = "avgpool") -> np.ndarray:
    """requantize(Σ_window (q − zp_in), M_d, shift_d) with ``divisors`` broadcasting onto the sums."""
    sums = np.asarray(window_sums)
    d = np.asarray(divisors)
    if d.dtype.kind not in "iu":
        raise InputError(f"layer '{name}': divisors must be integers, got dtype {d.dtype}")
    uniq, inv = np.unique(d, return_inverse=True)
    missing = [int(u) for u in uniq if int(u) not in c.table]
    if missing:
        raise InputError(f"layer '{name}': no constants for divisor(s) {missing[:5]}; pass them to pool_constants")
    M = np.array([c.table[int(u)][0] for u in uniq], dtype=np.int64)[inv].reshape(d.shape)
    shift = np.array([c.table[int(u)][1] for u in uniq], dtype=np.int64)[inv].reshape(d.shape)
    return requantize(sums, M, shift, c.zp_out, c.lo, c.hi, name=name)
