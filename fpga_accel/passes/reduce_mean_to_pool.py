"""A ReduceMean over exactly the two spatial axes of an image is a GlobalAveragePool."""
from __future__ import annotations

from ..ops import get_op
from .base import Pass, register_pass
from .util import fresh_tensor, new_node, refresh

#: spatial axes of a rank-4 tensor -> the layout they are the spatial axes of
_LAYOUTS = {(2, 3): "NCHW", (1, 2): "NHWC"}


def spatial_layout(g, n) -> str | None:
    """The layout in which ReduceMean ``n`` averages over exactly the spatial axes (H, W) of a
    rank-4 float tensor, or None."""
    x = n.inputs[0]
    rank = len(g.shape(x))
    if n.op_type != "ReduceMean" or rank != 4 or g.info(x).dtype.kind != "f" or g.is_const(x):
        return None
    if n.input(1) and not g.is_const(n.input(1)):
        return None
    axes = get_op(n).axes(n, [None, g.const(n.input(1)) if n.input(1) else None], rank)
    return None if axes is None else _LAYOUTS.get(tuple(sorted(axes)))


@register_pass
class ReduceMeanToPool(Pass):
    """``ReduceMean`` over axes (2, 3) of a rank-4 tensor — PyTorch's ``x.mean((2, 3))`` and the
    form its dynamo exporter gives ``AdaptiveAvgPool2d(1)`` — is a ``GlobalAveragePool``; over
    axes (1, 2) it is one in layout "NHWC" (a channels-last model). The axes may be an attribute
    or a constant input (opset 18), negative or in any order. With ``keepdims=0`` a ``Flatten``
    (axis 1) drops the two unit axes. Any other ReduceMean (over the channels, over one spatial
    axis, over a rank-3 sequence) stays as it is: it runs on the host."""

    name = "reduce_mean_to_pool"
    description = "ReduceMean over the spatial axes to GlobalAveragePool"

    def apply(self, g) -> bool:
        changed = False
        for n in list(g.nodes):
            layout = spatial_layout(g, n)
            if layout is None:
                continue
            x, y = n.inputs[0], n.outputs[0]
            g.remove_nodes([n])  # first, so the pool can take its name
            if n.attrs.get("keepdims", 1):
                new_node(g, "GlobalAveragePool", [x], [y], base=n.name, layout=layout)
            else:
                pooled = fresh_tensor(g, y + "_pooled")
                new_node(g, "GlobalAveragePool", [x], [pooled], base=n.name, layout=layout)
                new_node(g, "Flatten", [pooled], [y], base=n.name + "_flatten", axis=1)
            changed = True
        if changed:
            refresh(g)
            g.prune()
        return changed
