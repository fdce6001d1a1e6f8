"""Name, for a model that carries its own quantisation, the node computing each given tensor."""
from __future__ import annotations

from .base import Pass, register_pass


@register_pass
class IndexGiven(Pass):
    """``g.meta["qparams_by_node"][node] = g.meta["qparams"][tensor]`` for every node that writes a
    tensor whose parameters the model gives (QDQ / QONNX import). Changes no node.

    It runs after the folding and fusing passes, when a Conv writes the name of the Relu it
    absorbed, and before the layout passes, which rename the tensors of channels-last ops (a Conv
    writes ``y_nhwc``) but keep the names of the nodes; the quantiser then finds the parameters
    by node (``QuantContext.act``).
    """

    name = "index_given"
    description = "remember which node computes each tensor with given quantisation parameters"

    def apply(self, g) -> bool:
        given = g.meta.get("qparams")
        if not given:
            return False
        by_node = g.meta.setdefault("qparams_by_node", {})
        for n in g.nodes:
            if n.outputs and n.outputs[0] in given:
                by_node[n.name] = given[n.outputs[0]]
        return False
