"""Which nodes run on the FPGA and which stay on the host.

The accelerated part is one connected stretch of the graph. Ops whose placement is HOST
(Softmax, ArgMax, ...) run on the host in float, either before it (no hardware node upstream,
e.g. pre-processing) or after it (no hardware node downstream, e.g. a final Softmax). A host op
with hardware nodes both upstream and downstream splits the accelerated part in two: those nodes
are listed in ``splitting`` (see below for what compile does with them).

A model that carries its own quantisation (QDQ / QONNX) marks the float nodes before its first
and after its last quantised tensor (``g.meta["preprocess"]`` / ``["postprocess"]``, see
frontend/qdq.py): they are host nodes whatever their op.

The rule follows the data flow, not the order of the node list, so a Softmax on one output branch
stays "after" even when a node of another branch happens to be listed later.

Compile does not refuse them: it sets ``g.meta["host_between"]`` and the quantiser makes those
nodes host float layers (quant/host_float.py), run on the host between segments — the tiled
engine's (fpga_accel/tiled/segments.py), or separate dataflow designs (fpga_accel/segments/) — as
are the integer layers the user names (``compile(host_layers=...)``) and, on the tiled engine, those
it cannot run (LRN).

The user may cut the accelerated part short (``compile --host-nodes``): :func:`place_on_host`
marks the named nodes and every node downstream of them (``g.meta["host_nodes"]``) as host
nodes, so they run after the accelerated part, in float, like a final Softmax.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .errors import InputError
from .ops import HARDWARE, HOST, REMOVED, lookup


@dataclass
class Partition:
    """The nodes of a graph by where they run (each list in graph order)."""

    hardware: list = field(default_factory=list)
    host_before: list = field(default_factory=list)
    host_after: list = field(default_factory=list)
    splitting: list = field(default_factory=list)  # host ops inside the accelerated part: they split it

    def placement(self, node) -> str:
        """Where one node of the partitioned graph runs: "hardware" or "host"."""
        return "hardware" if any(n is node for n in self.hardware) else "host"

    @property
    def ok(self) -> bool:
        return not self.splitting


def _kind(node, g) -> str:
    if node.name in g.meta.get("preprocess", ()) or node.name in g.meta.get("postprocess", ()):
        return HOST  # float pre-/post-processing of a model that carries its own quantisation
    if node.name in g.meta.get("host_nodes", ()):
        return HOST  # the user cut the accelerated part before this node
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


def place_on_host(g, names) -> list[str]:
    """Run the nodes ``names`` and everything downstream of them on the host (the accelerated part
    is one stretch, so nothing after a host node can stay on it). Names are those of the graph
    after the hardware flow (``fpga-accel inspect MODEL --flow hardware``). Returns the names of
    every node moved, in graph order."""
    names = [n for n in dict.fromkeys(names) if n]
    known = {n.name for n in g.nodes}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise InputError(f"--host-nodes names node(s) {unknown} that the model does not have after its hardware "
                         f"passes (a node fused into its neighbour, such as a Relu after a Conv, no longer exists); "
                         f"`fpga-accel inspect MODEL --flow hardware` lists the node names")
    producer = {o: n.name for n in g.nodes for o in n.outputs if o}
    moved = set(names)
    for n in g.nodes:  # graph order: a node's producers come first
        if any(producer.get(i) in moved for i in n.inputs if i):
            moved.add(n.name)
    g.meta["host_nodes"] = sorted(moved)
    return [n.name for n in g.nodes if n.name in moved]
