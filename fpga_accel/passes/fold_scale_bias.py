"""A Mul / Add / Sub by per-channel constants right after a Conv or Gemm goes into its weights."""
from __future__ import annotations

import numpy as np

from .affine import fold_affine, producer_channel_axis
from .base import Pass, register_pass
from .util import per_channel, refresh, sole_reader


@register_pass
class FoldScaleBias(Pass):
    """``Conv/Gemm(x) * s``, ``+ t`` or ``- t`` with constants that vary along the output channels
    only (or not at all) are folded into the producer's weights and bias, when the producer's
    output has no other reader. Typical source: exporters that emit the bias as a separate Add
    (onnx model zoo MNIST) and BatchNorm lowered to Mul + Add. A MatMul takes a scale only (its
    bias is the business of matmul_add_to_gemm)."""

    name = "fold_scale_bias"
    description = "fold per-channel Mul/Add/Sub constants into the preceding Conv/Gemm"

    def apply(self, g) -> bool:
        changed = False
        for n in list(g.nodes):
            if n.op_type not in ("Mul", "Add", "Sub") or n.attrs.get("clip") is not None or len(n.inputs) != 2:
                continue
            for pos, y in enumerate(n.inputs):
                c = g.const(n.inputs[1 - pos])
                prod = g.producer(y)
                if c is None or prod is None or sole_reader(g, y) is not n or (n.op_type == "Sub" and pos == 1):
                    continue
                if np.result_type(c.dtype, g.info(y).dtype) != g.info(y).dtype:
                    continue  # the op would widen the dtype; folding would change it
                axis = producer_channel_axis(g, prod)
                if axis is None or (prod.op_type == "MatMul" and n.op_type != "Mul"):
                    continue
                v = per_channel(c, g.shape(y), axis)
                if v is None:
                    continue
                if n.op_type == "Mul":
                    fold_affine(g, prod, n, v, None)
                else:
                    fold_affine(g, prod, n, None, v if n.op_type == "Add" else -v)
                changed = True
                break
        if changed:
            refresh(g)
        return changed
