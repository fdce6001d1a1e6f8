"""Remove nodes that copy their input: Identity, and Dropout at inference."""
from __future__ import annotations

from .base import Pass, register_pass


def _copies(g, n) -> bool:
    """Whether ``n`` passes its first input through unchanged at inference."""
    if n.op_type == "Identity":
        return True
    if n.op_type != "Dropout":
        return False
    # the importer accepts a Dropout only when it cannot drop (inference, or ratio 0)
    mask = n.outputs[1] if len(n.outputs) > 1 else ""
    return not (mask and (g.consumers(mask) or g.is_graph_output(mask)))


@register_pass
class DropIdentity(Pass):
    """Identity and inference-mode Dropout are bypassed; graph output names never change.

    An Identity that only renames a graph input (or another output) to a graph output is kept:
    the output name has to be produced by some node.
    """

    name = "drop_identity"
    description = "bypass Identity and inference Dropout"

    def apply(self, g) -> bool:
        changed = False
        for n in list(g.nodes):
            if not _copies(g, n):
                continue
            src, dst = n.inputs[0], n.outputs[0]
            if g.is_graph_output(dst) and (g.producer(src) is None or g.is_graph_output(src)):
                if n.op_type == "Identity":
                    continue  # nothing else can produce this output name
                n.op_type, n.inputs, n.outputs, n.attrs = "Identity", [src], [dst], {}
            else:
                g.bypass(n)
            changed = True
        return changed
