"""Which nodes run on the FPGA and which stay on the host.

The accelerated part is one connected stretch of the graph. Ops whose placement is HOST
(Softmax, ArgMax, ...) run on the host in float, either before it (no hardware node upstream,
e.g. pre-processing) or after it (no hardware node downstream, e.g. a final Softmax). A host op
with hardware nodes both upstream and downstream would split the accelerated part in two, which
the compiler does not support: those nodes are listed in ``splitting`` so callers can report them.

A model that carries its own quantisation (QDQ / QONNX) marks the float nodes before its first
and after its last quantised tensor (``g.meta["preprocess"]`` / ``["postprocess"]``, see
frontend/qdq.py): they are host nodes whatever their op.

The rule follows the data flow, not the order of the node list, so a Softmax on one output branch
stays "after" even when a node of another branch happens to be listed later.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .ops import HARDWARE, HOST, REMOVED, lookup


@dataclass
class Partition:
    """The nodes of a graph by where they run (each list in graph order)."""

    hardware: list = field(default_factory=list)
    host_before: list = field(default_factory=list)
    host_after: list = field(default_factory=list)
    splitting: list = field(default_factory=list)  # host ops inside the accelerated part: a problem

    def placement(self, node) -> str:
        """Where one node of the partitioned graph runs: "hardware" or "host"."""
        return "hardware" if any(n is node for n in self.hardware) else "host"

    @property
    def ok(self) -> bool:
        return not self.splitting


def _kind(node, g) -> str:
    if node.name in g.meta.get("preprocess", ()) or node.name in g.meta.get("postprocess", ()):
        return HOST  # float pre-/post-processing of a model that carries its own quantisation
    op = lookup(node.op_type, node.domain)
    return op.placement_of(node, g) if op is not None else HARDWARE


def partition(g) -> Partition:
    """Split ``g``'s nodes into the accelerated part and the host ops before and after it.

    HARDWARE nodes form the accelerated part. A REMOVED node (folded away by the passes: Identity,
    Cast, ...) goes with its neighbours: to the host when it sits among host ops past either end of
    the accelerated part (ArgMax → Cast), to the accelerated part otherwise; it never splits it.
    """
    producer = {o: n for n in g.nodes for o in n.outputs if o}
    readers: dict[str, list] = {}
    for n in g.nodes:
        for i in n.inputs:
            readers.setdefault(i, []).append(n)
    kind = {id(n): _kind(n, g) for n in g.nodes}

    def reach(order, neighbours) -> dict[int, set[str]]:
        """For each node, the kinds of nodes reachable from it through ``neighbours``."""
        seen: dict[int, set[str]] = {}
        for n in order:  # neighbours come earlier in ``order``, so their sets are complete
            s: set[str] = set()
            for m in neighbours(n):
                s |= seen[id(m)] | {kind[id(m)]}
            seen[id(n)] = s
        return seen

    up = reach(g.nodes, lambda n: [producer[i] for i in n.inputs if i in producer])
    down = reach(g.nodes[::-1], lambda n: [r for o in n.outputs for r in readers.get(o, [])])

    p = Partition()
    for n in g.nodes:
        k, hw_up, hw_down = kind[id(n)], HARDWARE in up[id(n)], HARDWARE in down[id(n)]
        if k == HOST:
            target = p.host_after if not hw_down else p.host_before if not hw_up else p.splitting
        elif k == REMOVED and not hw_down and HOST in up[id(n)]:
            target = p.host_after
        elif k == REMOVED and not hw_up and HOST in down[id(n)]:
            target = p.host_before
        else:
            target = p.hardware
        target.append(n)
    return p
