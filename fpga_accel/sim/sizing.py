"""FIFO sizing by simulation: the smallest depth per stream that keeps the steady-state interval.

Start from depths that cannot slow anything down (each stream's maximum occupancy with unbounded
FIFOs: the replay then times every access exactly as unbounded), and shrink the streams one by
one, largest first, each to the smallest depth (binary search, never below 2) at which the network
neither deadlocks nor loses more than ``tolerance`` of the target interval with the other depths
as they stand. The target is the interval with unbounded FIFOs (the cost model's figure when the
cost model is right). Only the streams of the network region (``s<k>_...``) are sized: the tops'
``in<i>_s`` / ``out<i>_s`` and the adapters' inner streams keep their depths.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from .errors import SimulationError
from .simulate import DEFAULT_DEPTH, Simulator

UNBOUNDED = 1 << 40


@dataclass
class Sizing:
    target: float  # interval with unbounded FIFOs
    before: float | None  # interval at the generated depths (None: deadlock)
    after: float  # interval at the sized depths
    generated: dict[str, int]
    sized: dict[str, int]
    replays: int = 0
    bram18: dict[str, int] = field(default_factory=dict)  # FIFO BRAM18 at the generated / sized depths

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def fifo_bram18(depth: int, bits: int) -> int:
    """BRAM18 of one FIFO: none for shift-register / LUTRAM FIFOs (<= 64 words or <= 4 Kbit, the fold
    model's rule for small arrays), else the fewest BRAM18 over the aspect ratios."""
    if depth <= 64 or depth * bits <= 4096:
        return 0
    return min(math.ceil(bits / w) * math.ceil(depth / d)
               for d, w in ((16384, 1), (8192, 2), (4096, 4), (2048, 9), (1024, 18), (512, 36)))


def size_fifos(sim: Simulator, images: int = 6, tolerance: float = 0.005) -> Sizing:
    tr, procs, _ = sim.trace(images, check=False)
    sizable = [s for i, s in enumerate(tr.streams) if s.startswith("s") and procs.writer[i] >= 0
               and procs.reader[i] >= 0 and s in sim.generated]
    generated = {s: sim.generated.get(s, DEFAULT_DEPTH) for s in sizable}
    count = [0]

    def interval(depths: dict[str, int]) -> float | None:
        count[0] += 1
        res = sim.replay(tr, procs, sim.depths(tr, procs, depths), images)
        return None if res.deadlock else res.cycles_per_image

    free = sim.replay(tr, procs, sim.depths(tr, procs, {s: UNBOUNDED for s in sizable}), images)
    if free.deadlock or not free.cycles_per_image:
        raise SimulationError("the network does not finish even with unbounded FIFOs")
    target = free.cycles_per_image
    occupancy = {f.name: f.max_occupancy for f in free.fifos}
    depths = {s: max(DEFAULT_DEPTH, occupancy.get(s, DEFAULT_DEPTH)) for s in sizable}
    limit = target * (1 + tolerance)
    for s in sorted(sizable, key=lambda k: -depths[k]):
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
    bits = {s: int(b) for s, b in _stream_bits(sim).items()}
    bram = {"generated": sum(fifo_bram18(d, bits.get(s, 8)) for s, d in generated.items()),
            "sized": sum(fifo_bram18(d, bits.get(s, 8)) for s, d in depths.items())}
    return Sizing(target, before, after, generated, depths, count[0], bram)


def _stream_bits(sim: Simulator) -> dict[str, int]:
    return {s["name"]: s["bits"] for s in (sim.manifest.get("hls") or {}).get("streams", [])}
