"""Integer lowering shared by the elementwise arithmetic ops (Add, Sub, Sum, Mul, Div); no op lives here.

Two layer forms, both rounded once by :func:`~fpga_accel.quant.arith.requantize`:

- **Sum** (Add, Sub, Sum): ``acc = Σ_i (q_i − zp_i)·M_i + B``, ``out = requantize(acc, 1, shift)``.
  The multipliers and the shared shift are :func:`~fpga_accel.quant.rescale.add_constants`'s.
  A subtracted tensor keeps its positive multiplier and enters negated (zp_i − q_i, the same N+1
  bits), which is stored as the multiplier −M_i. A constant operand t (scalar or per channel) is
  folded into the sum as the integer ``B = round_half_even(t / s_out · 2^shift)``:
  it carries ``shift`` fractional bits like every product, so it adds no rounding of its own
  (quantising it to the input's scale instead would round it, and clip it to the input's range).
- **Scale** (Mul / Div by a constant c, scalar or per channel): ``acc = sign(c)·(q − zp_in)``,
  ``out = requantize(acc, M, shift)`` with (M, shift) of ``|m|``, m = s_in·c / s_out. The contract's
  multipliers are positive, so a negative c negates the centred input (exact: zp_in − q), and the
  one rounding is then of the true product acc·|m| = (q − zp_in)·m. A zero (or negligible, below
  2^−(MAX_SHIFT−MULT_BITS+1)) multiplier gives M = 0, shift = 1: the output is zp_out, exactly what
  rounding the product would give.
- **Product** (Mul of two tensors): ``acc = (q_a − zp_a)·(q_b − zp_b)``, m = s_a·s_b / s_out.

"Per channel" means varying along one non-batch axis: the last one (channels) once the hardware
flow made spatial tensors channels-last, axis 1 of a tensor no spatial op touched. Per-channel
constants are kept in the tensor's rank (size 1 on the other axes), so they broadcast. Constants
that vary along two axes, along the batch axis, or would enlarge the tensor by broadcasting are
refused with an error naming the node.
"""
from __future__ import annotations

import math

import numpy as np

from ...emulator.fastint import rescale_sum
from ...errors import InputError
from ...quant import arith, rescale
from ...quant.arith import MAX_ACC_BITS, MAX_SHIFT, MULT_BITS
from ...quant.qmodel import QLayer
from ..base import unsupported


def channel_constant(node, ctx, name: str, tensor: str) -> np.ndarray:
    """A constant operand in the rank of ``tensor``: size 1 on every axis but at most one (not the batch).

    Refused unless it broadcasts onto the tensor's shape without changing it and is a scalar or a
    per-channel vector.
    """
    c = np.asarray(ctx.const(name), dtype=np.float64)
    shape = tuple(ctx.g.shape(tensor))
    try:
        ok = c.ndim <= len(shape) and np.broadcast_shapes(c.shape, shape) == shape
    except ValueError:
        ok = False
    if not ok:
        raise unsupported(node, f"constant '{name}' of shape {c.shape} does not broadcast onto the tensor {shape} "
                                f"without enlarging it", ctx.g)
    if not np.all(np.isfinite(c)):
        raise InputError(f"layer '{node.name}': constant '{name}' contains NaN/Inf")
    full = c.reshape((1,) * (len(shape) - c.ndim) + c.shape)
    varying = [d for d, n in enumerate(full.shape) if n > 1]
    if len(varying) > 1 or varying == [0]:
        raise unsupported(node, f"constant '{name}' of shape {c.shape} varies along axes {varying} of the tensor "
                                f"{shape}; only scalar or per-channel constants (one non-batch axis) are "
                                f"supported", ctx.g)
    return full


def const_inputs(node, ctx) -> list[bool]:
    return [ctx.g.is_const(i) for i in node.inputs]


# --- Sum form: Add, Sub, Sum ---------------------------------------------------------------------
def sum_layer(node, ctx, signs, const: np.ndarray | None = None) -> QLayer:
    """Σ_i signs[i]·x_i (+ const), for the non-constant inputs of ``node`` in order.

    ``const`` is the constant term as :func:`channel_constant` gives it (None: no constant).
    """
    tensors = [i for i in node.inputs if not ctx.g.is_const(i)]
    if not tensors:
        raise unsupported(node, "every input is a constant (the node should have been folded)", ctx.g)
    y = node.outputs[0]
    p_in = [ctx.act(t) for t in tensors]
    p_out = ctx.act(y)
    r = rescale.add_constants(p_in, p_out, clip=node.attrs.get("clip"), name=node.name)
    mults = [s * m for s, m in zip(signs, r.multipliers)]
    consts = {}
    width = sum(max(abs(p.qmin - p.zero_point), abs(p.qmax - p.zero_point)) * abs(m) for p, m in zip(p_in, mults))
    if const is not None:
        b = np.rint(const / p_out.scale * 2.0 ** r.shift)
        if not np.all(np.abs(b) < 2.0 ** 62):
            raise InputError(f"layer '{node.name}': the constant term {float(np.max(np.abs(const)))!r} is far outside "
                             f"the output's range (scale {p_out.scale!r}); check the calibration range")
        consts["offset"] = b.astype(np.int64)
        width += int(np.max(np.abs(consts["offset"])))
    if arith.signed_bits(-width, width) > MAX_ACC_BITS:
        raise InputError(f"layer '{node.name}': the rescaled sum needs more than {MAX_ACC_BITS} bits; the output "
                         f"scale {p_out.scale!r} is far smaller than the inputs' or the constant's range")
    config = {"multipliers": mults, "zero_points": list(r.zero_points), "shift": r.shift, "zp_out": r.zp_out,
              "lo": r.lo, "hi": r.hi, "acc_bits": arith.signed_bits(-width, width)}
    return QLayer(node.name, node.op_type, tensors, [y], config, consts)


def run_sum(layer, inputs) -> np.ndarray:
    """rescale.add's integers (plus the constant's offset), computed by fastint.rescale_sum."""
    c = layer.config
    return rescale_sum(inputs, c["multipliers"], c["zero_points"], layer.consts.get("offset", 0), c["shift"],
                       c["zp_out"], c["lo"], c["hi"], name=layer.name)


# --- Scale form: Mul / Div by a constant -------------------------------------------------------------
def signed_multipliers(m: np.ndarray, *, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(sign, M, shift) int64 arrays of the shape of ``m`` with m ≈ sign·M / 2^shift; a zero or
    negligible m gives sign 0, M = 0, shift = 1."""
    m = np.asarray(m, dtype=np.float64)
    sign = np.sign(m).astype(np.int64).reshape(-1)
    M = np.zeros(m.size, np.int64)
    shift = np.ones(m.size, np.int64)
    for i, v in enumerate(np.abs(m).reshape(-1)):
        if v == 0 or MULT_BITS - math.frexp(v)[1] > MAX_SHIFT:
            sign[i] = 0  # the product rounds to 0 for every accumulator the layer can see
            continue
        M[i], shift[i] = arith.requant_multiplier(float(v), name=f"{name}[{i}]")
    return sign.reshape(m.shape), M.reshape(m.shape), shift.reshape(m.shape)


def scale_layer(node, ctx, tensor: str, c: np.ndarray) -> QLayer:
    """x · c for a per-channel (or scalar) constant ``c`` from :func:`channel_constant`."""
    y = node.outputs[0]
    p_in, p_out = ctx.act(tensor), ctx.act(y)
    sign, M, shift = signed_multipliers(p_in.scale * c / p_out.scale, name=node.name)
    lo, hi = arith.clamp_bounds(p_out.qtype, p_out.zero_point, p_out.scale, node.attrs.get("clip"))
    config = {"zp_in": p_in.zero_point, "zp_out": p_out.zero_point, "lo": lo, "hi": hi}
    return QLayer(node.name, node.op_type, [tensor], [y], config, {"sign": sign, "M": M, "shift": shift})


def run_scale(layer, x) -> np.ndarray:
    c, k = layer.config, layer.consts
    acc = (np.asarray(x).astype(np.int64) - c["zp_in"]) * k["sign"]
    return arith.requantize(acc, k["M"], k["shift"], c["zp_out"], c["lo"], c["hi"], name=layer.name)


# --- Product form: Mul of two tensors ------------------------------------------------------------
def product_layer(node, ctx) -> QLayer:
    a, b = node.inputs
    y = node.outputs[0]
    pa, pb, p_out = ctx.act(a), ctx.act(b), ctx.act(y)
    M, shift = arith.requant_multiplier(pa.scale * pb.scale / p_out.scale, name=node.name)
    lo, hi = arith.clamp_bounds(p_out.qtype, p_out.zero_point, p_out.scale, node.attrs.get("clip"))
    config = {"zero_points": [pa.zero_point, pb.zero_point], "M": M, "shift": shift, "zp_out": p_out.zero_point,
              "lo": lo, "hi": hi}
    return QLayer(node.name, node.op_type, [a, b], [y], config)


def run_product(layer, a, b) -> np.ndarray:
    c = layer.config
    za, zb = c["zero_points"]
    acc = (np.asarray(a).astype(np.int64) - za) * (np.asarray(b).astype(np.int64) - zb)
    return arith.requantize(acc, c["M"], c["shift"], c["zp_out"], c["lo"], c["hi"], name=layer.name)
