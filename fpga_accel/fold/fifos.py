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
