"""Quantisation a model carries itself (QDQ, QONNX), as the quantiser uses it.

The frontend (``frontend/qdq.py``, ``frontend/qonnx.py``), the quantiser ops' constant folding and
the ``index_given`` pass leave it in ``graph.meta`` (docs/integer-contract.md §11):

- ``"qparams"``: {tensor: :class:`QParams`} for activations; ``"qparams_by_node"``: the same
  parameters under the name of the node writing the tensor, noted before the layout passes
  rename tensors (a channels-last Conv writes ``y_nhwc``) but keep node names;
- ``"weights"``: {initializer: (q, :class:`ChannelQParams`)} — the exact integers of a weight
  tensor (signed, zero point folded in, ``narrow=False``) next to the float weights
  ``scale · q`` the graph holds;
- ``"biases"``: {initializer: (q int32, scales)} — integer biases, for inspection (the quantiser
  recovers them exactly from the float bias, see :func:`weight_for`);
- ``"preprocess"`` / ``"postprocess"``: names of float nodes before the model's first and after
  its last quantiser, which run on the host.

Compiler passes may rewrite a weight initializer after import: permute its input features (a
Transpose absorbed into the rows), transpose it, or scale each output channel (BatchNorm or a
per-channel Mul folded in). The integers survive all of these up to a sign per channel, so given
weights are found by value, not by name: :func:`match_weights`.
"""
from __future__ import annotations

import warnings
from typing import Mapping

import numpy as np

from . import arith
from .params import ChannelQParams, QParams, QuantWarning, fit_bias, weight_params
from .qtype import MAX_BITS, QType

Given = tuple[np.ndarray, ChannelQParams]

#: relative agreement of float weights with scale · q that counts as "the same numbers" (float32
#: rounding of a product is 6e-8; a folded BatchNorm adds a few more roundings)
REL_TOL = 1e-5


def given_qparams(g) -> dict[str, QParams]:
    return dict(g.meta.get("qparams") or {})


def given_by_node(g) -> dict[str, QParams]:
    return dict(g.meta.get("qparams_by_node") or {})


def given_weights(g) -> dict[str, Given]:
    return dict(g.meta.get("weights") or {})


def weight_qtype(lo: int, hi: int) -> QType | None:
    """Smallest signed type (2..16 bits) holding every integer in [lo, hi], None if none does."""
    bits = max(2, arith.signed_bits(min(lo, 0), max(hi, 0)))
    return QType(bits, True) if bits <= MAX_BITS else None


def channel_axis(scale: np.ndarray, shape: tuple[int, ...]) -> int | None:
    """Axis along which ``scale`` (broadcasting against ``shape``) varies: None for one value,
    −1 when it varies along more than one axis or does not broadcast."""
    s = np.asarray(scale)
    if s.size == 1:
        return None
    if s.ndim > len(shape):
        return -1
    full = (1,) * (len(shape) - s.ndim) + s.shape
    axes = [a for a, d in enumerate(full) if d != 1]
    if len(axes) != 1 or full[axes[0]] != shape[axes[0]]:
        return -1
    return axes[0]


def record_weights(g, name: str, q: np.ndarray, scale, zero_point, fmt: tuple[int, int],
                   axis: int | None = None) -> bool:
    """Record the integers of a constant quantised by the model: real = scale · (q − zero_point).

    ``fmt`` is the (min, max) of the integer format (e.g. (−127, 127) for narrow int8) and sets
    the type; ``axis`` is the axis of a per-channel scale and zero point (None: per tensor, or
    found from the shape of ``scale``). Zero points are folded in (q − zp, signed). Returns False,
    recording nothing, when the constant does not fit the contract (non-integer zero point,
    scale varying along several axes, more than 16 bits, non-positive scale).
    """
    q = np.asarray(q)
    if q.ndim == 0 or q.size == 0:
        return False
    scale = np.asarray(scale, dtype=np.float64)
    zp = np.asarray(zero_point if zero_point is not None else 0, dtype=np.float64)
    if axis is None:
        axis = channel_axis(scale, q.shape)
        zp_axis = channel_axis(zp, q.shape)
        if axis == -1 or zp_axis == -1 or (axis is not None and zp_axis is not None and zp_axis != axis):
            return False
        axis = axis if axis is not None else zp_axis
    if not (np.all(np.isfinite(scale)) and np.all(scale > 0)) or np.any(zp != np.rint(zp)):
        return False
    n = q.shape[axis or 0]
    scales = np.broadcast_to(scale.reshape(-1), (n,)) if scale.size in (1, n) else None
    zps = np.broadcast_to(zp.reshape(-1), (n,)) if zp.size in (1, n) else None
    if scales is None or zps is None:
        return False
    qt = weight_qtype(int(fmt[0] - zps.max()), int(fmt[1] - zps.min()))
    if qt is None:
        return False
    view = [1] * q.ndim
    view[axis or 0] = n
    centred = np.rint(q).astype(np.int64) - zps.astype(np.int64).reshape(view)
    params = ChannelQParams(scales.copy(), qt, axis or 0, narrow=False)
    g.meta.setdefault("weights", {})[name] = (centred.astype(qt.dtype), params)
    return True


def record_bias(g, name: str, q: np.ndarray, scale) -> None:
    """Record an int32 bias given by the model (for inspection and tests)."""
    g.meta.setdefault("biases", {})[name] = (np.asarray(q, np.int32), np.asarray(scale, np.float64).reshape(-1))


def _rows(a: np.ndarray, axis: int) -> np.ndarray:
    return np.moveaxis(a, axis, 0).reshape(a.shape[axis], -1)


def _reconstruct(w2: np.ndarray, q2: np.ndarray, s_entry: np.ndarray, qt: QType):
    """(q, scales) with w2[c] == scales[c] · q[c] when each row of w2 is a rescaled (sign flips
    allowed) permutation of the same row of q2; else None."""
    aw, aq = np.abs(w2).max(axis=1), np.abs(q2).max(axis=1)
    if not np.array_equal(aw == 0, aq == 0):
        return None
    r = np.where(aq == 0, s_entry, aw / np.maximum(aq, 1))
    r = np.where(np.abs(r / s_entry - 1) <= REL_TOL, s_entry, r)  # unchanged channel: the exact scale
    tol = REL_TOL * aw[:, None] + 1e-30
    if np.any(np.abs(np.sort(np.abs(w2), axis=1) - r[:, None] * np.sort(np.abs(q2), axis=1)) > tol):
        return None
    q = np.rint(w2 / r[:, None])
    if np.any(np.abs(q * r[:, None] - w2) > tol) or q.min() < qt.min or q.max() > qt.max:
        return None
    return q.astype(np.int64), r


def match_weights(given: Mapping[str, Given], w, axis: int, prefer: str | None = None) -> Given | None:
    """The given integers and scales of the float weights ``w`` (output channels on ``axis``).

    ``w`` matches a given constant when, channel by channel, it is that constant's integers times
    a positive or negative factor, with the input features in any order (what BatchNorm folding,
    Transpose absorption and transposition leave). The result has ``w``'s layout, the
    constant's type and one scale per output channel (the given scale where the channel is
    unchanged). ``prefer`` (the initializer's name) is tried first. None when nothing matches.
    """
    w = np.asarray(w, dtype=np.float64)
    if w.ndim == 0 or not np.all(np.isfinite(w)):
        return None
    axis %= w.ndim
    w2 = _rows(w, axis)
    names = sorted(given, key=lambda n: n != prefer)
    for name in names:
        q, p = given[name]
        if q.size != w.size:
            continue
        for a in sorted(range(q.ndim), key=lambda a: a != p.axis):
            if q.shape[a] != w2.shape[0]:
                continue
            per_tensor = bool(np.all(p.scales == p.scales[0]))
            if a != p.axis and not per_tensor:
                continue
            s_entry = np.full(w2.shape[0], p.scales[0]) if per_tensor else p.scales
            hit = _reconstruct(w2, _rows(q.astype(np.int64), a), s_entry, p.qtype)
            if hit is not None:
                q_new, scales = hit
                shape = (w.shape[axis],) + tuple(np.delete(np.array(w.shape), axis))
                q_out = np.moveaxis(q_new.reshape(shape), 0, axis).astype(p.qtype.dtype)
                return q_out, ChannelQParams(scales, p.qtype, axis, narrow=False)
    return None


def weight_for(ctx, node, name: str, w, axis: int, *, bias=None, in_scale: float | None = None
               ) -> tuple[np.ndarray, ChannelQParams]:
    """Integer weights and their parameters for a layer with float weights ``w`` (output
    channels on ``axis``) read from initializer ``name``.

    Weights the model gives (``ctx.given_weights``) are used exactly; otherwise they are derived
    from the floats (:func:`~fpga_accel.quant.params.weight_params`, symmetric, narrow, at the
    configured bit width). A model that gives weights for other layers but not this one gets a
    :class:`QuantWarning`. Given weights need nothing for the bias: at the given scales ``s_in · s_w``,
    ``quantize_bias`` gives back the model's int32 bias exactly. Derived ones, given ``bias`` and the
    input's scale, have their scales raised where that bias would overflow int32
    (:func:`~fpga_accel.quant.params.fit_bias`).
    """
    chosen = (getattr(ctx, "chosen_weights", None) or {}).get(node.name)
    if chosen is not None:  # rounded by a method (quant/methods.py) at the scales derived here
        wp = weight_params(w, axis=axis, qtype=ctx.weight_qtype(node), name=node.name)
        fitted = _fit(wp, node, bias, in_scale)
        return (chosen, wp) if fitted is wp else (arith.quantize(w, fitted, name=node.name), fitted)
    given = getattr(ctx, "given_weights", None) or {}
    hit = match_weights(given, w, axis, prefer=name) if given else None
    if hit is not None:
        return hit
    if given:
        warnings.warn(f"layer '{node.name}': the model gives quantised weights, but none match this layer's "
                      f"weights '{name}'; they are quantised from the float values at "
                      f"{ctx.weight_qtype(node)} instead", QuantWarning, stacklevel=2)
    wp = _fit(weight_params(w, axis=axis, qtype=ctx.weight_qtype(node), name=node.name), node, bias, in_scale)
    return arith.quantize(w, wp, name=node.name), wp


def _fit(wp: ChannelQParams, node, bias, in_scale) -> ChannelQParams:
    return wp if bias is None or in_scale is None else fit_bias(wp, bias, in_scale, name=node.name)


#: ops whose output holds the input's integers unchanged, wherever they run
_LAYOUT = {"Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze", "Identity"}


def resolve_given(g, name: str, params: Mapping[str, QParams]) -> QParams | None:
    """Parameters of ``name`` from a given tensor it is a reshaping of (through Reshape,
    Transpose, ... on the host before the accelerated part), or None."""
    seen = set()
    while name not in params:
        if name in seen:
            return None
        seen.add(name)
        prod = g.producer(name)
        if prod is None or prod.op_type not in _LAYOUT:
            return None
        name = prod.inputs[0]
    return params[name]
