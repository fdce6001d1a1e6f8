"""The stream FIFOs of a folded design, estimated before any code is generated, by the code
generator's own depth rules.

The rules (used by both the fold and ``codegen/network.py``):

- every stream is ``DEFAULT_DEPTH`` deep, deepened by the burst slack of the stage reading it at
  the network's interval (:func:`burst_depth`, ``Stage.input_slack``), or by the burst the stage
  writing it writes back to back (``Stage.output_burst``: a global pool's result), whichever is more;
- on a fork each branch into layers is as deep as the words of the fork tensor the other branches
  hold back while their chains of line buffers fill (:func:`branch_backlog`, :func:`fork_depths`),
  capped at one image; a branch into a hardware output stays at the default depth (its adapter
  drains it whatever the other branches do).

:func:`estimate_fifos` lays the streams out as the generator does (a source stream per tensor, a
chain of duplicates on a fork, a width converter where lanes differ, the top's port streams at
the default depth) on the fold's LayerDesigns, so its estimate equals the generated streams
(:func:`generated_fifos`) until the timed simulation or a hand-set depth changes them.

Where the memories go: the FIFOs the LUT-bound placement (``design.py``) binds to BRAM18 are recorded
by shape, ``[{"depth", "bits", "count"}]`` (FIFOs of one shape cost the same wherever they are), and
:func:`bram_streams` picks, from the generated streams, the first ``count`` of each shape: the one rule
by which the top binds them (``BIND_STORAGE type = fifo impl = bram``) and the generated streams are
re-priced (:func:`generated_fifos`). A stream whose depth the sizing changed no longer has its shape and
stays where the tool puts it, priced there.
"""
from __future__ import annotations

import functools
import math
from itertools import pairwise
from dataclasses import dataclass

from ..pe.io import io_lanes
from .resources import Usage, fifo_cost, fifo_movable, fifo_srl

DEFAULT_DEPTH = 2  # Vitis HLS's depth for a stream without a depth pragma
WINDOWS = ("sliding_window", "parallel_window")
PLUMBING = ("width_convert", "duplicate")


@dataclass
class Fifo:
    stage: str  # the stage it feeds (or the stream's name)
    depth: int
    width: int
    where: str = "auto"  # "bram": bound to BRAM18 (LUTs over budget)

    @property
    def usage(self) -> Usage:
        return fifo_cost(self.depth, self.width, self.where)


def burst_depth(depth: int, slack: int) -> int:
    """A stream's depth once the stage reading it in bursts has ``slack`` words written meanwhile."""
    return max(depth, DEFAULT_DEPTH + slack) if slack > 0 else depth


def branch_backlog(chain, shape, lanes: int) -> int:
    """Words of a fork tensor (``shape``, NCHW or flat, ``lanes`` per word) a branch whose stages are
    ``chain`` holds back before its first output: a sliding window reads (last row of its first
    window + 1 + stride) input rows first, scaled to the fork tensor's rows; any other stage one pixel."""
    shape = [int(d) for d in shape]
    image = math.prod(shape[1:]) // lanes
    row_words = math.prod(shape[2:]) // lanes if len(shape) == 4 else image
    rows_t = shape[1] if len(shape) == 4 else 1
    total = 0
    for st in chain:
        if st.kind in WINDOWS:
            p = st.params
            rows = min(p["IH"], p["DH"] * (p["KH"] - 1) + 1 - p["PAD_T"]) + p["SH"]
            total += math.ceil(rows * rows_t / p["IH"]) * row_words
        else:
            total += max(1, row_words // max(1, shape[2] if len(shape) == 4 else 1))
    return total


def fork_depths(backlogs: list[int], image: int, outputs: int = 0) -> list[tuple[int, int]]:
    """(depth, the other branches' backlog) per branch of a fork: first the branches into layers
    (``backlogs``), then ``outputs`` branches into hardware outputs. A layer's branch is the largest
    backlog of the others plus the default depth, capped at one image (which can never deadlock): its
    reader may wait on them. An output's branch is read by its adapter, which waits on no other branch
    (one m_axi port or DMA channel per output, every receive armed before any send), so nothing piles
    up in it: the default depth."""
    out = []
    for i in range(len(backlogs)):
        others = max([x for k, x in enumerate(backlogs) if k != i] or [0])
        out.append((max(DEFAULT_DEPTH, min(image, others + DEFAULT_DEPTH)), others))
    return out + [(DEFAULT_DEPTH, 0)] * outputs


def estimate_fifos(qm, plans, layers, io, readers: dict[str, list[int]], lanes_of) -> list[Fifo]:
    """The FIFOs of a design before its code exists (see the module docstring): ``layers`` are its
    LayerDesigns, ``io`` its adapter stages, ``readers`` the layers reading each tensor and
    ``lanes_of(tensor)`` the lanes its stream carries."""
    pes = [[s for s in ld.stages if s.kind not in PLUMBING] for ld in layers]
    # the generator's interval: its calls (PEs, converters, duplicates), not the I/O adapters
    interval = max([0, *(s.cycles() for ld in layers for s in ld.stages),
                    *(s.cycles() for s in io if s.kind in PLUMBING)])
    outputs = [t.name for t in qm.outputs]

    @functools.cache
    def users(t: str) -> list[tuple[int, int]]:
        """(layer, input) reading ``t`` past passthrough layers, in layer order."""
        out = []
        for r in dict.fromkeys(readers.get(t, [])):
            if plans[r].kind == "none":
                out += users(qm.layers[r].outputs[0])
            else:
                out += [(r, k) for k, x in enumerate(qm.layers[r].inputs) if x == t]
        return sorted(out)

    def sinks(t: str) -> list[int]:
        out = [o for o, name in enumerate(outputs) if name == t]
        for r in dict.fromkeys(readers.get(t, [])):
            if plans[r].kind == "none":
                out += sinks(qm.layers[r].outputs[0])
        return out

    def chain(r: int) -> list:
        stages, seen = [], set()
        while r not in seen:
            seen.add(r)
            stages += pes[r]
            lay = qm.layers[r]
            nxt = users(lay.outputs[0]) if len(lay.outputs) == 1 else []
            if len(nxt) != 1 or len(qm.layers[nxt[0][0]].inputs) != 1 or not pes[nxt[0][0]]:
                break  # the join (or another fork) ends the branch
            r = nxt[0][0]
        return stages

    fifos: list[Fifo] = []

    def read_by(depth: int, width: int, stage, writer=None) -> None:
        slack = max(stage.input_slack(interval), writer.output_burst() if writer is not None else 0)
        fifos.append(Fifo(stage.name, burst_depth(depth, slack), width))

    sources = [(t.name, None) for t in qm.inputs] + \
        [(t, i) for i, lay in enumerate(qm.layers) if plans[i].kind != "none" for t in lay.outputs]
    for t, i in sources:  # i: the producing layer, None for a hardware input
        is_input = i is None
        if t not in qm.tensors:
            continue
        lanes, bits = lanes_of(t), qm.tensors[t].qparams.qtype.bits
        width = lanes * bits
        us, ss = users(t), sinks(t)
        dups = [s for s in (io if is_input else layers[i].stages) if s.kind == "duplicate" and s.layer == t]
        writer = None if is_input else next((s for s in reversed(layers[i].stages) if s.kind != "duplicate"), None)
        n = len(us) + len(ss)
        if n == 0 and not is_input:  # a stream nothing reads is still declared
            fifos.append(Fifo(t, DEFAULT_DEPTH, width))
        if n <= 1:
            depths = [None]  # the source stream itself
        else:
            image = math.prod(int(d) for d in qm.tensors[t].shape[1:]) // lanes
            backlogs = [branch_backlog(chain(r), qm.tensors[t].shape, lanes) for r, _ in us]
            depths = [d for d, _ in fork_depths(backlogs, image, len(ss))]
            # the source and every duplicate's second output but the last feed the next duplicate
            for j, d in enumerate(dups[: n - 1]):  # the first duplicate reads the writer's own stream
                read_by(DEFAULT_DEPTH, width, d, writer if j == 0 else None)
        for (r, k), depth in zip(us, depths):
            port = is_input and depth is None  # the top's in<i> stream: no depth pragma reaches it
            src, first = DEFAULT_DEPTH if depth is None else depth, pes[r][0]
            wrote = writer if depth is None else None  # a fork's branch is written by a duplicate
            conv = next((s for s in layers[r].stages if s.kind == "width_convert" and s.params["INPUT"] == k), None)
            if conv is not None:  # the stream feeds the converter, a new one the PE
                if port:
                    fifos.append(Fifo(conv.name, src, width))
                else:
                    read_by(src, width, conv, wrote)
                read_by(DEFAULT_DEPTH, conv.params["OUT_LANES"] * bits, first)
                continue
            w = first.inputs[k].word_bits if k < len(first.inputs) else width
            if port:
                fifos.append(Fifo(first.name, src, w))
            else:
                read_by(src, w, first, wrote)
        for o, depth in zip(ss, depths[len(us):]):
            narrow = io_lanes(lanes, bits)
            if narrow != lanes:  # a converter in front of the output: its input is a stream of the network
                conv = next(s for s in io if s.kind == "width_convert" and s.layer == outputs[o])
                read_by(DEFAULT_DEPTH if depth is None else depth, width, conv, writer if depth is None else None)
            fifos.append(Fifo(outputs[o], DEFAULT_DEPTH, narrow * bits))  # the top's out<i> stream
    for stages in pes:  # the streams inside a layer, between its PEs
        for before, st in pairwise(stages):
            read_by(DEFAULT_DEPTH, st.inputs[0].word_bits if st.inputs else 0, st, before)
    return fifos


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
            "bram_bound": sum(f.where == "bram" for f in fifos),
            "words": sum(f.depth for f in fifos), "bits": sum(f.depth * f.width for f in fifos), **u.as_dict()}


def generated_fifos(streams: list[dict], moved=None) -> list[Fifo]:
    """The network's FIFOs from ``manifest["hls"]["streams"]``: the region's ``s<k>`` streams at
    their depths, and the tops' port streams (``in<i>`` / ``out<i>``), declared without a depth
    pragma, at the default depth; those :func:`bram_streams` picks by ``moved`` (``fold.fifo_bram``)
    in BRAM18."""
    fifos = [Fifo(s["name"], int(s["depth"]) if str(s["name"]).startswith("s") else DEFAULT_DEPTH, int(s["bits"]))
             for s in streams]
    bound = bram_streams([(f.stage, f.depth, f.width) for f in fifos], moved)
    for f in fifos:
        f.where = "bram" if f.stage in bound else "auto"
    return fifos


def fifo_placement(fifos: list[Fifo]) -> list[dict]:
    """The FIFOs placed in BRAM18 by shape: ``[{"depth", "bits", "count"}]`` (the manifest's
    ``fold.fifo_bram``), smallest shape first."""
    shapes: dict[tuple[int, int], int] = {}
    for f in fifos:
        if f.where == "bram":
            shapes[(f.depth, f.width)] = shapes.get((f.depth, f.width), 0) + 1
    return [{"depth": d, "bits": w, "count": n} for (d, w), n in sorted(shapes.items())]


def bram_streams(streams, moved) -> set[str]:
    """Names of the streams bound to BRAM18: of ``streams`` ((name, depth, bits), in the network's
    order; ports ``in<i>`` / ``out<i>`` never), the first ``count`` of each shape ``moved`` lists (a
    manifest's ``fold.fifo_bram``; entries that are not well-formed are ignored), those the tool
    would put in LUTRAM only."""
    want: dict[tuple[int, int], int] = {}
    for e in moved if isinstance(moved, list) else []:
        vals = [e.get(k) for k in ("depth", "bits", "count")] if isinstance(e, dict) else []
        if len(vals) == 3 and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in vals):
            want[(vals[0], vals[1])] = want.get((vals[0], vals[1]), 0) + vals[2]
    out = set()
    for name, depth, bits in streams:
        key = (depth, bits)
        if str(name).startswith("s") and want.get(key, 0) > 0 and fifo_movable(depth, bits):
            want[key] -= 1
            out.add(name)
    return out
