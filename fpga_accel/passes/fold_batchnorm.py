"""Inference BatchNormalization: folded into the Conv / Gemm / MatMul before it, or else a Mul + Add."""
from __future__ import annotations

import numpy as np

from .affine import fold_affine, producer_channel_axis
from .base import Pass, register_pass
from .util import channel_axis, new_node, refresh, sole_reader


def bn_scale_shift(g, bn) -> tuple[np.ndarray, np.ndarray] | None:
    """(s, t) with ``BN(x) = x * s + t`` per channel (float64), or None if a parameter is not constant."""
    params = [g.const(i) for i in bn.inputs[1:5]]
    if len(params) != 4 or any(p is None for p in params):
        return None
    scale, bias, mean, var = (p.astype(np.float64) for p in params)
    s = scale / np.sqrt(var + float(bn.attrs.get("epsilon", 1e-5)))
    return s, bias - mean * s


def unwrap_unsqueeze(g, bn) -> bool:
    """``Squeeze(BN(Unsqueeze(x)))`` that only adds and removes trailing unit axes (PyTorch's
    BatchNorm1d on a dense layer, as older exporters wrote it) → ``BN(x)`` on the 2-D tensor."""
    unsq = g.producer(bn.inputs[0])
    sq = sole_reader(g, bn.outputs[0])
    if unsq is None or sq is None or unsq.op_type != "Unsqueeze" or sq.op_type != "Squeeze" \
            or sole_reader(g, bn.inputs[0]) is not bn or channel_axis(bn, 3) != 1:
        return False
    x, wide = g.shape(unsq.inputs[0]), g.shape(bn.inputs[0])
    if len(x) < 2 or wide[:2] != x[:2] or any(d != 1 for d in wide[2:]) or g.shape(sq.outputs[0]) != x:
        return False
    g.remove_nodes([unsq, sq])
    g.tensors.pop(bn.inputs[0], None)
    g.tensors.pop(bn.outputs[0], None)
    bn.inputs[0], bn.outputs = unsq.inputs[0], [sq.outputs[0]]
    return True


@register_pass
class FoldBatchNorm(Pass):
    """Every inference BatchNormalization with constant parameters disappears.

    After a Conv, a Gemm, or a 2-D MatMul by a constant matrix whose output it alone reads, it is
    folded into the weights and bias (a bias is created when absent; the MatMul becomes a Gemm).
    Otherwise it becomes ``Mul(x, s) + t`` with per-channel constants shaped to broadcast on the
    channel axis ((C, 1, 1) for NCHW rank 4, (C,) for channels-last or rank 2).
    """

    name = "fold_batchnorm"
    description = "fold BatchNormalization into the producer's weights, or lower it to Mul + Add"

    def apply(self, g) -> bool:
        changed = False
        for bn in list(g.nodes):
            if bn.op_type != "BatchNormalization" or any(o for o in bn.outputs[1:]):
                continue  # extra outputs mean training mode
            st = bn_scale_shift(g, bn)
            if st is None:
                continue
            s, t = st
            unwrap_unsqueeze(g, bn)
            x = bn.inputs[0]
            rank = len(g.shape(x))
            axis = channel_axis(bn, rank)
            prod = g.producer(x)
            if prod is not None and sole_reader(g, x) is bn and prod.op_type in ("Conv", "Gemm", "MatMul") \
                    and producer_channel_axis(g, prod) == axis:
                fold_affine(g, prod, bn, s, t)
            else:
                self._to_mul_add(g, bn, s, t, rank, axis)
            changed = True
        if changed:
            refresh(g)
        return changed

    @staticmethod
    def _to_mul_add(g, bn, s, t, rank, axis) -> None:
        dt = g.info(bn.inputs[0]).dtype
        shape = (len(s),) + (1,) * (rank - 1 - axis)
        mid = g.unique_name(bn.outputs[0] + "_scaled")
        g.remove_nodes([bn])
        new_node(g, "Mul", [bn.inputs[0], g.add_const(bn.name + "_scale", s.reshape(shape).astype(dt))], [mid],
                 base=bn.name + "_mul")
        new_node(g, "Add", [mid, g.add_const(bn.name + "_shift", t.reshape(shape).astype(dt))], [bn.outputs[0]],
                 base=bn.name + "_add")
