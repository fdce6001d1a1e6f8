"""Channels-first spatial ops switch to channels-last, wrapped in a pair of Transposes."""
from __future__ import annotations

from ..ops import get_op
from .base import Pass, register_pass
from .util import fresh_tensor, new_node, perm_to_first, perm_to_last, refresh


@register_pass
class ToNHWC(Pass):
    """Every op with a ``layout`` attribute still in "NCHW" (Conv, pools, BatchNormalization, ...)
    on a rank 3 or 4 input gets ``layout="NHWC"``, a Transpose to channels-last on its data input
    and one back to channels-first on its output, which keeps its name.

    The result computes the same values with more Transposes; transpose_sinking and
    cancel_transposes then remove those that meet their inverse. Weights keep their ONNX layout.
    """

    name = "to_nhwc"
    description = "spatial ops to NHWC layout with Transposes around them"

    def apply(self, g) -> bool:
        changed = False
        for n in list(g.nodes):
            if "layout" not in get_op(n).attrs or n.attrs.get("layout", "NCHW") != "NCHW":
                continue
            rank = len(g.shape(n.inputs[0]))
            extra = [o for o in n.outputs[1:] if o]
            if rank not in (3, 4) or any(g.consumers(o) or g.is_graph_output(o) for o in extra):
                continue  # e.g. MaxPool's Indices: their values depend on the layout
            x, y = n.inputs[0], n.outputs[0]
            x_last, y_last = fresh_tensor(g, x + "_nhwc"), fresh_tensor(g, y + "_nhwc")
            new_node(g, "Transpose", [x], [x_last], base=n.name + "_to_nhwc", perm=perm_to_last(rank))
            new_node(g, "Transpose", [y_last], [y], base=n.name + "_to_nchw", perm=perm_to_first(rank))
            n.inputs[0], n.outputs = x_last, [y_last, *n.outputs[1:]]
            n.attrs["layout"] = "NHWC"
            changed = True
        if changed:
            refresh(g)
        return changed
