"""The quantised model cut into dataflow segments at its host steps.

Every layer of the whole :class:`QModel` is either a *host step* (a float op between hardware
nodes, quant/host_float.py, or a layer named in ``host_layers``) or belongs to exactly one segment.
A hardware layer's segment is the latest point its inputs become available: a tensor written by
segment k is there from segment k on; a host step runs after the latest segment it reads from, so
its output is there from the next segment on. Independent branches therefore share segments, and
two host steps in a row sit between the same two segments.

Each segment becomes a QModel of its own: its inputs are the tensors it reads and does not write
(hardware inputs of the model, or written by an earlier segment or a host step), its outputs those
it writes that anything outside it reads (or the model returns). Its host parts are empty graphs:
the session's quantisation and dequantisation stay at the whole model's boundary.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import InputError
from ..ir.graph import Graph, TensorInfo
from ..quant.host_float import is_host_float
from ..quant.qmodel import QModel

#: at most this many segments in one bundle (each is a kernel / IP of its own)
MAX_SEGMENTS = 32


@dataclass
class SegmentPlan:
    """The segment models, in order, and the steps: ``("segment", k)`` or ``("host", layer name)``."""

    segments: list[QModel]
    steps: list[tuple[str, int | str]]

    @property
    def host_steps(self) -> list[str]:
        return [v for k, v in self.steps if k == "host"]


def segment_name(model: str, k: int) -> str:
    return f"{model}_s{k}"


def split_segments(qm: QModel, host_layers=()) -> SegmentPlan:
    """Cut ``qm`` at its host float layers and at the layers named in ``host_layers``."""
    on_host = set(host_layers)
    unknown = sorted(on_host - {lay.name for lay in qm.layers})
    if unknown:
        raise InputError(f"host_layers names {unknown[:8]}, not layers of the quantised model; "
                         "`fpga-accel inspect MODEL --flow hardware` lists the layer names")
    on_host = _layout_beside_host(qm, on_host | {lay.name for lay in qm.layers if is_host_float(lay)})
    seg_of: dict[str, int] = {}  # tensor written by a segment -> that segment
    ready: dict[str, int] = {t.name: 0 for t in qm.inputs}  # tensor from the host -> first segment that may read it
    where: list[int] = []  # per layer: its segment, or (for a host step) the segment it runs before
    for lay in qm.layers:
        host = lay.name in on_host
        at = [seg_of[i] if i in seg_of else ready.get(i, 0) - (1 if host else 0) for i in lay.inputs if i]
        k = max(at, default=-1 if host else 0)
        if host:
            k = max(k, -1) + 1
            ready.update({o: k for o in lay.outputs})
            where.append(-k - 1)  # negative: a host step before segment k
        else:
            seg_of.update({o: k for o in lay.outputs})
            where.append(k)
    used = sorted({k for k in where if k >= 0})
    if not used:
        raise InputError(f"model '{qm.name}': every layer runs on the host; nothing is left for the accelerator")
    if len(used) > MAX_SEGMENTS:
        raise InputError(f"model '{qm.name}' splits into {len(used)} dataflow segments, more than {MAX_SEGMENTS}; "
                         "compile it for the tiled engine (--engine tiled)")
    renumber = {k: i for i, k in enumerate(used)}  # a host step may sit before a segment index with no layer
    steps: list[tuple[str, int | str]] = []
    for k in range(max(used) + 2):
        steps += [("host", lay.name) for lay, w in zip(qm.layers, where) if w < 0 and -w - 1 == k]
        if k in renumber:
            steps.append(("segment", renumber[k]))
    parts = [[lay for lay, w in zip(qm.layers, where) if w == k] for k in used]
    return SegmentPlan([_segment_model(qm, layers, segment_name(qm.name, i)) for i, layers in enumerate(parts)], steps)


def _layout_beside_host(qm: QModel, on_host: set[str]) -> set[str]:
    """``on_host`` with the layout-only layers (a Transpose to NCHW for a Softmax over the channels)
    that only feed host steps or only read from them: no PE moves a tensor's layout, the host does it
    for free while it runs the step (their integer reference, as for the edges of a one-part design)."""
    from ..quant.quantizer import LAYOUT_ONLY

    on_host = set(on_host)
    producer = {o: lay.name for lay in qm.layers for o in lay.outputs}
    model_outs = {t.name for t in qm.outputs}
    moved = True
    while moved:
        moved = False
        for lay in qm.layers:
            if lay.name in on_host or lay.op_type not in LAYOUT_ONLY:
                continue
            readers = [r.name for r in qm.layers if set(r.inputs) & set(lay.outputs)]
            fed = all(producer.get(i) in on_host for i in lay.inputs if i)
            feeds = readers and all(r in on_host for r in readers) and not set(lay.outputs) & model_outs
            if fed or feeds:
                on_host.add(lay.name)
                moved = True
    return on_host


def _segment_model(qm: QModel, layers, name: str) -> QModel:
    written = {o for lay in layers for o in lay.outputs}
    ins: list[str] = []
    for lay in layers:
        ins += [i for i in lay.inputs if i and i not in written and i not in ins]
    mine = {lay.name for lay in layers}
    read_outside = {i for lay in qm.layers if lay.name not in mine for i in lay.inputs}
    model_outs = {t.name for t in qm.outputs}
    outs = [o for lay in layers for o in lay.outputs if o in read_outside or o in model_outs]
    tensors = {t: qm.tensors[t] for t in ins + [o for lay in layers for o in lay.outputs]}
    return QModel(name, [tensors[t] for t in ins], [tensors[t] for t in outs], tensors, list(layers),
                  _passing(qm, name, ins, "host_before"), _passing(qm, name, outs, "host_after"))


def _passing(qm: QModel, name: str, tensors: list[str], side: str) -> Graph:
    """An empty host graph: the segment's tensors pass through it (shapes as the hardware holds them)."""
    g = Graph(name=f"{name}_{side}", opset=qm.host_before.opset, batch_symbol=qm.host_before.batch_symbol)
    g.inputs = [TensorInfo(t, qm.tensors[t].shape) for t in tensors]
    g.outputs = list(g.inputs)
    g.tensors = {t.name: t for t in g.inputs}
    return g
