"""The two steps every absorbed quantiser takes (QDQ and QONNX alike): its parameters recorded
on a tensor (``graph.meta["qparams"]``), the node itself bypassed."""
from __future__ import annotations

from ..errors import Problem
from ..ir.graph import Node
from ..ir.qparams import QParams


def record(g, name: str, p: QParams, problems: list[Problem], node) -> None:
    """Give tensor ``name`` the parameters ``p``; a second, different record is a problem."""
    qp = g.meta.setdefault("qparams", {})
    old = qp.get(name)
    if old is not None and old != p:
        problems.append(Problem(node.name, node.op_type, f"tensor '{name}' is quantised twice with different "
                                f"parameters ({old} and {p})"))
        return
    qp[name] = p


def bypass(g, src: str, dst: str, base: str) -> str:
    """Make the readers of ``dst`` read ``src`` (a removed quantiser in between); returns the name
    the value keeps. A graph output keeps its name: ``src``'s producer is renamed (its record too)."""
    tmp = Node(g.unique_name(base), "Identity", [src], [dst])
    g.nodes.append(tmp)
    g.bypass(tmp)
    if not g.is_graph_output(dst):
        return src
    qp = g.meta.get("qparams", {})
    if src in qp and src not in g.tensors and src not in g.input_names:
        qp[dst] = qp.pop(src)
    return dst
