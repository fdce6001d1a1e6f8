"""FIFO sizing by simulation: the smallest depth per stream that keeps the steady-state interval.

Start from the generated depths when they keep the interval, else from each stream's maximum
occupancy with unbounded FIFOs (which cannot slow anything down: the replay then times every
access exactly as unbounded), and shrink the streams one by one, the
largest memory (depth x width) first, each to the smallest depth (binary search, never below 2)
at which the network neither deadlocks nor loses more than ``tolerance`` of the target interval
with the other depths as they stand. The target is the interval with unbounded FIFOs (the cost model's figure when the
cost model is right). Only the streams of the network region (``s<k>_...``) are sized: the tops'
``in<i>_s`` / ``out<i>_s`` and the adapters' inner streams keep their depths, and so do the streams
in ``fixed`` (depths set by hand). ``settle`` first lengthens the batch until the measured interval
is the steady state's (:func:`settled_images`). A ``deadline`` (``time.monotonic()``) stops the search with
:class:`SizingTimeout`.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from ..fold.resources import fifo_cost
from .errors import SimulationError
from .simulate import DEFAULT_DEPTH, Simulator, steady_images

UNBOUNDED = 1 << 40
MAX_EVENTS = 20_000_000  # stream accesses of one traced run (16 bytes each)
REGION = re.compile(r"s\d+_\w*")  # the network region's streams (codegen/network.py names them s<k>_<tensor>)


@dataclass
class Sizing:
    target: float  # interval with unbounded FIFOs
    before: float | None  # interval at the generated depths (None: deadlock)
    after: float  # interval at the sized depths
    generated: dict[str, int]
    sized: dict[str, int]
    replays: int = 0
    images: int = 0  # the batch the intervals were measured on
    bram18: dict[str, int] = field(default_factory=dict)  # FIFO BRAM18 at the generated / sized depths

    def to_dict(self) -> dict:
        return dict(self.__dict__)


class SizingTimeout(SimulationError):
    """The sizing search ran past its deadline."""


def fifo_bram18(depth: int, bits: int) -> int:
    """BRAM18 of one FIFO (``fold.resources.fifo_cost``: shift registers or LUTRAM need none)."""
    return fifo_cost(depth, bits).bram18


def settled_images(sim: Simulator, images: int, max_events: int = MAX_EVENTS) -> int:
    """Enough images that the second half of the batch, where the interval is measured, runs in the
    steady state with unbounded FIFOs: at least ``images`` and :func:`steady_images`, at most what
    ``max_events`` stream accesses hold."""
    tr, procs, _ = sim.trace(images, check=False)
    free = sim.replay(tr, procs, sim.depths(tr, procs, {s: UNBOUNDED for s in tr.streams if REGION.fullmatch(s)}),
                      images)
    if free.deadlock or not free.cycles_per_image or not free.latency:
        return images
    per_image = max(1, len(tr.events) // images)
    need = steady_images(free.latency, free.cycles_per_image)
    return int(max(images, min(need, max_events // per_image)))


def size_fifos(sim: Simulator, images: int = 6, tolerance: float = 0.005, fixed=(),
               deadline: float | None = None, settle: bool = False) -> Sizing:
    if settle:
        images = settled_images(sim, images)
    tr, procs, _ = sim.trace(images, check=False)
    sizable = [s for i, s in enumerate(tr.streams) if REGION.fullmatch(s) and procs.writer[i] >= 0
               and procs.reader[i] >= 0 and s in sim.generated and s not in fixed]
    generated = {s: sim.generated.get(s, DEFAULT_DEPTH) for s in sizable}
    count = [0]

    def interval(depths: dict[str, int]) -> float | None:
        if deadline is not None and time.monotonic() > deadline:
            raise SizingTimeout(f"FIFO sizing stopped after {count[0]} replays: past its time limit")
        count[0] += 1
        res = sim.replay(tr, procs, sim.depths(tr, procs, depths), images)
        return None if res.deadlock else res.cycles_per_image

    free = sim.replay(tr, procs, sim.depths(tr, procs, {s: UNBOUNDED for s in sizable}), images)
    if free.deadlock or not free.cycles_per_image:
        raise SimulationError("the network does not finish even with unbounded FIFOs")
    target = free.cycles_per_image
    occupancy = {f.name: f.max_occupancy for f in free.fifos}
    limit = target * (1 + tolerance)
    # start from the generated depths when they keep the interval (each stream then only shrinks, so
    # no FIFO grows into a larger memory), else from the unbounded occupancy, which always does
    depths = dict(generated)
    start = interval(depths)
    if start is None or start > limit:
        depths = {s: max(DEFAULT_DEPTH, occupancy.get(s, DEFAULT_DEPTH)) for s in sizable}
    bits = {s: int(b) for s, b in _stream_bits(sim).items()}
    for s in sorted(sizable, key=lambda k: (-depths[k] * bits.get(k, 8), k)):  # the largest memories first
        lo, hi = DEFAULT_DEPTH, depths[s]  # hi keeps the interval
        while lo < hi:
            mid = (lo + hi) // 2
            got = interval({**depths, s: mid})
            if got is not None and got <= limit:
                hi = mid
            else:
                lo = mid + 1
        depths[s] = hi
    after = interval(depths)
    before = interval(generated)
    bram = {"generated": sum(fifo_bram18(d, bits.get(s, 8)) for s, d in generated.items()),
            "sized": sum(fifo_bram18(d, bits.get(s, 8)) for s, d in depths.items())}
    return Sizing(target, before, after, generated, depths, count[0], images, bram)


def _stream_bits(sim: Simulator) -> dict[str, int]:
    return {s["name"]: s["bits"] for s in (sim.manifest.get("hls") or {}).get("streams", [])}
