"""A Split is one Slice per part: each part becomes its own single-output node."""
from __future__ import annotations

import numpy as np

from ..ops import get_op
from ..ops.family.attrs import normalize_axis
from .base import Pass, register_pass
from .util import new_node, refresh


@register_pass
class SplitToSlices(Pass):
    """A Split with constant sizes becomes one ``Slice`` (constant starts, ends and axes) per output,
    each keeping that output's name; outputs nobody reads are dropped. In hardware a channel split
    is then a fork of the stream into one channel_slice PE per part (the IR's layers have one output
    each)."""

    name = "split_to_slices"
    description = "Split into one Slice per part"

    def apply(self, g) -> bool:
        changed = False
        for n in list(g.nodes):
            if n.op_type != "Split" or n.domain or (n.input(1) and not g.is_const(n.input(1))):
                continue
            x = n.inputs[0]
            shape = g.shape(x)
            axis = normalize_axis(n, n.attrs["axis"], len(shape))
            sizes = get_op(n).sizes(n, g.const(n.input(1)) if n.input(1) else None, shape[axis])
            g.remove_nodes([n])
            starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
            axes = g.add_const(n.name + "_axes", np.array([axis], np.int64))
            for k, (y, start, size) in enumerate(zip(n.outputs, starts, sizes)):
                if not y or not (g.consumers(y) or g.is_graph_output(y)):
                    continue
                lo = g.add_const(f"{n.name}_start{k}", np.array([start], np.int64))
                hi = g.add_const(f"{n.name}_end{k}", np.array([start + size], np.int64))
                new_node(g, "Slice", [x, lo, hi, axes], [y], base=f"{n.name}_{k}")
            changed = True
        if changed:
            refresh(g)
            g.prune()
        return changed
