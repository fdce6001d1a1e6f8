"""Replace nodes whose outputs are known at compile time by constants, then prune dead code."""
from __future__ import annotations

import numpy as np

from ..ops import get_op
from .base import Pass, register_pass


@register_pass
class FoldConstants(Pass):
    """A node whose inputs are all constant (or whose value follows from shapes alone, e.g. Shape)
    becomes initializers; nodes and initializers nobody reads any more are removed.

    A graph output stays computed by a node: the IR has no constant outputs.
    """

    name = "fold_constants"
    description = "evaluate constant subgraphs at compile time; drop dead nodes and initializers"

    def apply(self, g) -> bool:
        folded = []
        for n in g.nodes:
            if any(g.is_graph_output(o) for o in n.outputs):
                continue
            value = get_op(n).const_value(n, g)
            if value is None:
                continue
            for out, v in zip(n.outputs, value):
                if out:
                    g.initializers[out] = np.asarray(v)
                    g.tensors.pop(out, None)
            folded.append(n)
        g.remove_nodes(folded)
        before = (len(g.nodes), len(g.initializers))
        g.prune()
        return bool(folded) or (len(g.nodes), len(g.initializers)) != before
