"""What `compile` would make of a model, without calibration data and without writing anything.

:func:`inspect` lists the nodes after a flow with their shapes, MACs, parameters and placement,
and :func:`lowering_problems` runs compile's own checks on the ``hardware`` flow: the partition
(host ops between hardware nodes make dataflow segments), the integer lowering (``quantize_model``) and the
processing-element lowering of the HLS generator (``codegen.network.lower_model``, the function
compile calls). Calibration only sets the ranges, which decide none of these checks, so the
integer lowering runs with a placeholder range for every tensor compile would calibrate.
"""
from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..errors import Problem, UnsupportedModelError

#: the range given to every tensor calibration would observe when only lowering is checked
PLACEHOLDER_RANGE = (-1.0, 1.0)


@dataclass
class NodeInfo:
    """One node of the inspected graph."""

    index: int
    name: str
    op_type: str
    output_shapes: list[tuple[int, ...]]
    macs: int
    params: int
    placement: str  # "hardware", "host", "removed by passes" or "host: splits the accelerated part"


@dataclass
class Inspection:
    """:func:`inspect`'s answer. ``problems`` is empty when compile can build the model."""

    graph: object  # the IR after ``flow``
    flow: str
    passes: list[str]  # passes that changed the graph, in order
    nodes: list[NodeInfo]
    host_before: list = field(default_factory=list)
    host_after: list = field(default_factory=list)
    splitting: list = field(default_factory=list)  # host nodes between hardware nodes
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def hardware(self) -> list[str]:
        """Names of the nodes placed on the accelerator, in graph order."""
        return [n.name for n in self.nodes if n.placement == "hardware"]

    @property
    def host(self) -> list[str]:
        """Names of the nodes that run on the host (removed nodes are neither)."""
        return [n.name for n in self.nodes if n.placement.startswith("host")]


def lowering_problems(g, config=None) -> list[Problem]:
    """Every reason compile would refuse ``g`` (the IR after the ``hardware`` flow), naming node
    and op: a node without an integer form, a layer without a processing element (in each dataflow
    segment when host ops split the accelerated part). Empty when compile can build it (board fit
    aside)."""
    from ..codegen.network import lower_model
    from ..partition import partition
    from ..quant.config import QuantConfig
    from ..quant.quantizer import quantize_model, split_edges, tensors_to_observe
    from ..segments import split_segments

    cfg = config or QuantConfig()
    given = dict(g.meta.get("qparams") or {})
    between = bool(partition(g).splitting)
    if between:  # as compile: host ops between hardware nodes run between segments
        g.meta["host_between"] = True
    try:
        _, hw, _ = split_edges(g)
        ranges = {t: PLACEHOLDER_RANGE for t in tensors_to_observe(g, hw, cfg) if t not in given}
        with warnings.catch_warnings():  # placeholder ranges: warnings about them mean nothing
            warnings.simplefilter("ignore")
            qm = quantize_model(g, ranges, cfg, given=given or None)
        for part in split_segments(qm).segments if between else [qm]:
            lower_model(part, {})  # folding 1 x 1 everywhere: what any board can take
    except UnsupportedModelError as e:
        return list(e.problems)
    return []


def inspect(model, input_shapes: Mapping[str, tuple[int, ...]] | None = None, flow: str = "cleanup") -> Inspection:
    """Inspect an ONNX model (path, bytes or ModelProto) as compile would see it.

    The nodes are listed after ``flow`` (a name of ``fpga_accel.passes.FLOWS``); placement is as
    compile places them (layout-only nodes at the edges of the accelerated part go to the host).
    ``problems`` come from :func:`lowering_problems` on the ``hardware`` flow, whatever ``flow``.
    """
    from ..frontend import import_onnx
    from ..ops import REMOVED, get_op
    from ..partition import partition
    from ..passes import run_flow

    if isinstance(model, os.PathLike):
        model = os.fspath(model)
    g = import_onnx(model, input_shapes=input_shapes)
    hw_graph = g.copy() if flow != "hardware" else g
    applied = run_flow(g, flow)
    if hw_graph is not g:
        run_flow(hw_graph, "hardware")
    problems = lowering_problems(hw_graph)

    part = partition(g)
    split_ids = {id(n) for n in part.splitting}
    hw_ids = {id(n) for n in part.hardware}
    if part.ok:  # as compile places them: layout-only nodes at the edges go to the host
        from ..quant.quantizer import split_edges

        hw_ids = {id(n) for n in split_edges(g)[1]}
    nodes = []
    for i, n in enumerate(g.nodes):
        op = get_op(n)
        if id(n) in split_ids:
            where = "host: between segments"
        elif op.placement_of(n, g) == REMOVED:
            where = "removed by passes"
        else:
            where = "hardware" if id(n) in hw_ids else "host"
        nodes.append(NodeInfo(i, n.name, n.op_type, [g.shape(o) for o in n.outputs if o], op.macs(n, g),
                              op.params(n, g), where))
    return Inspection(g, flow, list(dict.fromkeys(applied)), nodes, list(part.host_before), list(part.host_after),
                      list(part.splitting), problems)
