"""MatMul by a constant matrix followed by the addition of a constant bias becomes one Gemm."""
from __future__ import annotations

import numpy as np

from .base import Pass, register_pass
from .util import new_node, refresh, sole_reader


def gemm_bias(g, add, y: str, n_out: int) -> np.ndarray | None:
    """The constant that ``add`` adds to ``y`` when it fits Gemm's C of shape (1, n_out)."""
    other = add.inputs[1] if add.inputs[0] == y else add.inputs[0]
    c = g.const(other)
    if c is None or add.inputs.count(y) != 1 or c.ndim > 2:
        return None
    try:
        if np.broadcast_shapes((1, n_out), c.shape) != (1, n_out):
            return None
    except ValueError:
        return None
    return c


@register_pass
class MatMulAddToGemm(Pass):
    """``Add(MatMul(x, W), b)`` with 2-D ``x``, constant 2-D ``W`` and a constant bias that
    broadcasts over the batch (as PyTorch and tf2onnx export dense layers) → ``Gemm(x, W, b)``.
    The Gemm writes the Add's output tensor, so names downstream are unchanged."""

    name = "matmul_add_to_gemm"
    description = "MatMul(x, W) + b with constant W, b -> Gemm"

    def apply(self, g) -> bool:
        changed = False
        for mm in list(g.nodes):
            if mm.op_type != "MatMul" or mm.attrs.get("clip") is not None:
                continue
            x, w = mm.inputs
            wv = g.const(w)
            if wv is None or wv.ndim != 2 or len(g.shape(x)) != 2 or g.is_const(x):
                continue
            add = sole_reader(g, mm.outputs[0])
            if add is None or add.op_type != "Add" or add.attrs.get("clip") is not None:
                continue
            bias = gemm_bias(g, add, mm.outputs[0], wv.shape[1])
            if bias is None:
                continue
            b = g.add_const(add.name + "_bias", bias.astype(wv.dtype, copy=False))
            g.remove_nodes([mm, add])
            new_node(g, "Gemm", [x, w, b], [add.outputs[0]], base=mm.name)
            g.tensors.pop(mm.outputs[0], None)
            changed = True
        if changed:
            refresh(g)
        return changed
