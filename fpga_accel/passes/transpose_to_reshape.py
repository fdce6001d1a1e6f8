"""A Transpose of a graph input that only moves unit axes is a Reshape (no data moves)."""
from __future__ import annotations

import numpy as np

from .base import Pass, register_pass
from .util import moves_only_unit_axes, new_node, perm_of, refresh


@register_pass
class TransposeToReshape(Pass):
    """``Transpose(x, p)`` on a graph input where the axes longer than 1 keep their order and the
    batch stays first (a one-channel NCHW image going to NHWC) becomes ``Reshape(x, [0, ...])``,
    which costs nothing in a stream. Only graph inputs: elsewhere the Transpose may still meet
    its inverse, which the other layout passes need to see."""

    name = "transpose_to_reshape"
    description = "input Transposes that move only unit axes become Reshapes"

    def apply(self, g) -> bool:
        changed = False
        for t in list(g.nodes):
            if t.op_type != "Transpose" or t.inputs[0] not in g.input_names:
                continue
            if not moves_only_unit_axes(perm_of(g, t), g.shape(t.inputs[0])):
                continue
            target = np.array([0, *g.shape(t.outputs[0])[1:]], np.int64)
            g.remove_nodes([t])
            new_node(g, "Reshape", [t.inputs[0], g.add_const(t.name + "_shape", target)], t.outputs, base=t.name)
            changed = True
        if changed:
            refresh(g)
        return changed
