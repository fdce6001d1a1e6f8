"""Folding a per-channel affine map ``y * s + t`` into the Conv / Gemm / MatMul that produces ``y``.

Shared by the passes fold_batchnorm and fold_scale_bias (no pass lives here).
"""
from __future__ import annotations

import numpy as np

from .util import channel_axis, new_node


def producer_channel_axis(g, prod) -> int | None:
    """Axis of ``prod``'s output along which a per-channel map can be folded into it, else None."""
    if prod.attrs.get("clip") is not None:
        return None  # the clamp sits between the product and the affine map
    if not all(g.is_const(i) for i in prod.inputs[1:] if i):
        return None  # weights and bias are rewritten, so they must be known
    rank = len(g.shape(prod.outputs[0]))
    if prod.op_type == "Conv":
        return channel_axis(prod, rank)
    if prod.op_type == "Gemm" and not prod.attrs.get("transA"):
        return 1
    if prod.op_type == "MatMul" and rank == 2 and g.const(prod.inputs[1]).ndim == 2:
        return 1
    return None


def fold_affine(g, prod, consumer, s: np.ndarray | None, t: np.ndarray | None) -> None:
    """Make ``prod`` compute ``consumer``'s output ``prod(x) * s + t`` (s, t per output channel,
    either may be None) and remove ``consumer``. ``prod``'s output must have no other reader."""
    w = g.const(prod.inputs[1])
    dt = w.dtype
    m = g.shape(prod.outputs[0])[producer_channel_axis(g, prod)]
    s64 = np.ones(m) if s is None else np.asarray(s, np.float64)
    t64 = np.zeros(m) if t is None else np.asarray(t, np.float64)
    if prod.op_type == "Conv":
        new_w = w.astype(np.float64) * s64.reshape((m,) + (1,) * (w.ndim - 1))
        b = g.const(prod.input(2))
        b64 = np.zeros(m) if b is None else b.astype(np.float64)
        prod.inputs = [prod.inputs[0], g.add_const(prod.name + "_w", new_w.astype(dt)),
                       g.add_const(prod.name + "_b", (b64 * s64 + t64).astype(dt))]
    elif prod.op_type == "Gemm":
        col = s64.reshape(-1, 1) if prod.attrs["transB"] else s64.reshape(1, -1)
        new_w = w.astype(np.float64) * col
        c = g.const(prod.input(2))
        c64 = np.zeros(m) if c is None else prod.attrs["beta"] * c.astype(np.float64)
        new_c = c64 * s64 + t64  # broadcasts like C did: (M,), (1, M) or a scalar grown to (M,)
        prod.inputs = [prod.inputs[0], g.add_const(prod.name + "_w", new_w.astype(dt)),
                       g.add_const(prod.name + "_c", new_c.astype(dt))]
        prod.attrs["beta"] = 1.0
    else:  # MatMul: scale the columns; a shift turns it into a Gemm
        new_w = g.add_const(prod.name + "_w", (w.astype(np.float64) * s64.reshape(1, -1)).astype(dt))
        if t is None:
            prod.inputs = [prod.inputs[0], new_w]
        else:
            g.remove_nodes([prod])
            prod = new_node(g, "Gemm", [prod.inputs[0], new_w, g.add_const(prod.name + "_c", t64.astype(dt))],
                            prod.outputs, base=prod.name)
    old = prod.outputs[0]
    g.remove_nodes([consumer])
    prod.outputs[0] = consumer.outputs[0]
    g.tensors.pop(old, None)
