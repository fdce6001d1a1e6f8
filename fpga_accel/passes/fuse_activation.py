"""Relu and constant Clip after an op that takes a fused clamp become that op's ``clip`` attribute."""
from __future__ import annotations

import math

from ..ops import get_op
from .base import Pass, register_pass
from .util import sole_reader


def clip_bounds(g, n) -> tuple[float, float] | None:
    """[lo, hi] of a Relu or of a Clip with constant (or absent) bounds, else None."""
    if n.op_type == "Relu":
        return 0.0, math.inf
    if n.op_type != "Clip":
        return None
    lo, hi = n.attrs.get("min"), n.attrs.get("max")  # opset < 11 keeps them as attributes
    for pos, default in ((1, lo), (2, hi)):
        name = n.input(pos)
        if name:
            v = g.const(name)
            if v is None or v.size != 1:
                return None
            default = float(v.reshape(()))
        if pos == 1:
            lo = -math.inf if default is None else float(default)
        else:
            hi = math.inf if default is None else float(default)
    return lo, hi


def compose(inner, outer) -> list[float]:
    """The single clamp equal to clamping to ``inner`` then to ``outer`` (disjoint ranges collapse
    to the constant that outer clamp gives)."""
    lo, hi = outer
    return [min(max(inner[0], lo), hi), min(max(inner[1], lo), hi)]


@register_pass
class FuseActivation(Pass):
    """``Relu`` (clamp [0, inf]) and ``Clip`` with constant bounds (ReLU6 is [0, 6]) directly after
    a node whose op accepts a fused ``clip`` (Conv, Gemm, MatMul, Add, ...), when that node's output
    has no other reader, are removed and become the producer's ``clip``; two clamps compose."""

    name = "fuse_activation"
    description = "fuse Relu / Clip into the producer's clip attribute"

    def apply(self, g) -> bool:
        changed = False
        for act in list(g.nodes):
            bounds = clip_bounds(g, act)
            if bounds is None or g.info(act.inputs[0]).dtype.kind != "f":
                continue
            x = act.inputs[0]
            prod = g.producer(x)
            if prod is None or sole_reader(g, x) is not act or "clip" not in get_op(prod).attrs:
                continue
            old = prod.attrs.get("clip")
            prod.attrs["clip"] = list(bounds) if old is None else compose(old, bounds)
            g.remove_nodes([act])
            prod.outputs = [act.outputs[0] if o == x else o for o in prod.outputs]
            g.tensors.pop(x, None)
            changed = True
        return changed
