"""A Transpose before Flatten → Gemm/MatMul is absorbed by permuting the weight rows."""
from __future__ import annotations

import numpy as np

from .base import Pass, register_pass
from .util import inverse_perm, moves_only_unit_axes, perm_of, refresh, sole_reader


def _flattens(g, f) -> bool:
    """``f`` turns (N, ...) into (N, K) keeping the batch (Flatten axis 1, or such a Reshape)."""
    if f.op_type == "Flatten":
        axis, rank = int(f.attrs.get("axis", 1)), len(g.shape(f.inputs[0]))
        return (axis + rank if axis < 0 else axis) == 1
    if f.op_type != "Reshape":
        return False
    target = g.const(f.inputs[1])
    out = g.shape(f.outputs[0])
    return (target is not None and len(out) == 2 and out[0] == g.shape(f.inputs[0])[0]
            and not any(int(d) == 0 for d in target[1:]))


def _weight(g, mm) -> tuple[np.ndarray, int] | None:
    """The constant weight of a Gemm/MatMul and the axis that runs over its input features."""
    w = g.const(mm.inputs[1])
    if w is None or w.ndim != 2:
        return None
    if mm.op_type == "Gemm" and not mm.attrs.get("transA"):
        return w, 1 if mm.attrs.get("transB") else 0
    if mm.op_type == "MatMul":
        return w, 0
    return None


def absorbs(g, perm, in_shape, f) -> bool:
    """Whether a Transpose(perm) of a tensor of shape ``in_shape`` read by ``f`` alone would be
    absorbed here (also asked by transpose_sinking before it moves a Transpose next to ``f``)."""
    if perm[0] != 0 or not _flattens(g, f):
        return False
    if moves_only_unit_axes(perm, in_shape):
        return True
    mm = sole_reader(g, f.outputs[0])
    return mm is not None and mm.inputs[0] == f.outputs[0] and _weight(g, mm) is not None


@register_pass
class TransposeIntoWeights(Pass):
    """``Transpose(x, p) → Flatten → Gemm/MatMul`` with constant weights (the Gemm the Flatten's
    sole reader, ``p`` keeping the batch first; the Transpose read by such Flattens only, one or
    several dense heads) loses the Transpose: the Flatten reads ``x``
    and the weight rows are permuted into ``x``'s order. This is how a Conv stack in NHWC feeds
    a dense layer trained on an NCHW flatten without moving any data. A Transpose that moves only
    unit axes (after a global pool) goes before any such Flatten: the flattened data is the same."""

    name = "transpose_into_weights"
    description = "absorb a Transpose before Flatten+Gemm into the weight rows"

    def apply(self, g) -> bool:
        changed = False
        for t in list(g.nodes):
            if t.op_type != "Transpose":
                continue
            perm, x_shape = perm_of(g, t), g.shape(t.inputs[0])
            readers = [] if g.is_graph_output(t.outputs[0]) else g.consumers(t.outputs[0])
            if not readers or any(f.inputs[0] != t.outputs[0] or not absorbs(g, perm, x_shape, f) for f in readers):
                continue  # every reader (one dense head or several) must take it
            for f in readers:
                if not moves_only_unit_axes(perm, x_shape):  # else the flattened data is the same
                    mm = sole_reader(g, f.outputs[0])
                    w, k_axis = _weight(g, mm)
                    y_shape = g.shape(t.outputs[0])
                    order = np.arange(int(np.prod(y_shape[1:]))).reshape((1, *y_shape[1:]))
                    order = order.transpose(inverse_perm(perm)).ravel()  # x position -> flat index in y
                    mm.inputs[1] = g.add_const(mm.name + "_w", np.ascontiguousarray(np.take(w, order, axis=k_axis)))
                f.inputs[0] = t.inputs[0]
            g.remove_nodes([t])
            g.tensors.pop(t.outputs[0], None)
            changed = True
        if changed:
            refresh(g)
            g.prune()
        return changed

