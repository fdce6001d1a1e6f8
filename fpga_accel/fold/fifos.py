"""The stream FIFOs of a folded design, estimated before any code is generated.

One FIFO feeds every input of every stage: the default depth (2), deepened by the stage's burst
slack at the design's interval (``Stage.input_slack``, as the code generator's ``burst_depths``
does), and on a fork each branch as deep as the other branches' slack (their line buffers fill
first), capped at one image. Widths are the reading layer's lanes times the tensor's bits. The
bundle replaces this estimate by the generated streams' own depths (:func:`generated_fifos`),
and by the depths the timed simulation finds when compile sizes them.
"""
from __future__ import annotations

from dataclasses import dataclass

from .lower import elems
from .resources import Usage, fifo_cost, fifo_srl

DEFAULT_DEPTH = 2  # Vitis HLS's depth for a stream without a depth pragma


@dataclass
class Fifo:
    stage: str  # the stage it feeds (or the stream's name)
    depth: int
    width: int

    @property
    def usage(self) -> Usage:
        return fifo_cost(self.depth, self.width)


def estimate_fifos(qm, plans, layers, io, readers: dict[str, list[int]], lanes_of) -> list[Fifo]:
    """The FIFOs of a design before its code exists (see the module docstring): ``layers`` are its
    LayerDesigns, ``io`` its adapter stages, ``readers`` the layers reading each tensor and
    ``lanes_of(tensor)`` the lanes its stream carries."""
    interval = max([1, *(s.cycles() for lay in layers for s in lay.stages), *(s.cycles() for s in io)])
    fifos, first = [], {}  # first: layer -> its first stage's FIFOs (a fork's branches)
    for i, (lay, plan, ld) in enumerate(zip(qm.layers, plans, layers)):
        if plan.kind == "none":
            continue
        want = plan.in_lanes(ld.fold)
        for k, s in enumerate(ld.stages):
            if s.kind == "width_convert":
                widths = [s.params["IN_LANES"] * s.params["BITS"]]
            elif s.kind == "duplicate":
                widths = [s.params["LANES"] * s.params["BITS"]]
            elif all(x.kind == "width_convert" for x in ld.stages[:k]):  # the layer's first PE reads every input
                widths = [(want or lanes_of(t)) * qm.tensors[t].qparams.qtype.bits for t in lay.inputs
                          if t in qm.tensors]
            else:  # the PEs after it the stream before them: a window's words (SIMD lanes, PX pixels)
                widths = [s.inputs[0].word_bits] if s.inputs else \
                    [(want or lanes_of(lay.inputs[0])) * qm.tensors[lay.inputs[0]].qparams.qtype.bits]
            made = [Fifo(s.name, DEFAULT_DEPTH + s.input_slack(interval), w) for w in widths]
            if s.kind not in ("width_convert", "duplicate") and i not in first:
                first[i] = made
            fifos += made
    for t, rs in readers.items():  # a fork: each branch holds what the other branches' bursts hold back
        branches = [first[r] for r in rs if first.get(r)]
        if len(branches) < 2 or t not in qm.tensors:
            continue
        image = elems(qm.tensors[t].shape) // max(1, lanes_of(t))
        for b, own in enumerate(branches):
            others = max(f.depth for k, br in enumerate(branches) if k != b for f in br)
            for f in own:
                f.depth = max(f.depth, min(image, others))
    return fifos + [Fifo(s.name, DEFAULT_DEPTH, s.params["LANES"] * s.params["BITS"]) for s in io if s.kind == "output"]


def fifo_usage(fifos: list[Fifo]) -> Usage:
    total = Usage()
    for f in fifos:
        total = total + f.usage
    return total


def fifo_summary(fifos: list[Fifo], source: str) -> dict:
    """The manifest's ``fold.fifos`` entry: count, SRL / RAM split, resources, and where the depths
    come from."""
    u = fifo_usage(fifos)
    return {"source": source, "count": len(fifos), "srl": sum(fifo_srl(f.depth, f.width) for f in fifos),
            "words": sum(f.depth for f in fifos), "bits": sum(f.depth * f.width for f in fifos), **u.as_dict()}


def generated_fifos(streams: list[dict]) -> list[Fifo]:
    """The network's FIFOs from ``manifest["hls"]["streams"]`` (the region's ``s<k>`` streams; the
    tops' port streams belong to the I/O adapters)."""
    return [Fifo(s["name"], int(s["depth"]), int(s["bits"])) for s in streams if str(s["name"]).startswith("s")]
