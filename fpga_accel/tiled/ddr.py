"""The DDR rules of the tiled engine's m_axi ports, shared by the cost model (``cost.py``) and the
timed simulation (``fpga_accel/sim/tiled_replay.py``), so both count the same bursts.

A stage's accesses to one port in one direction form *runs* of consecutive bytes (in the order
the engine's loops make them); a run is cut into AXI bursts at every 4 KiB boundary and at the
port's burst length (``max_beats`` beats of ``bus_bytes``). A burst occupies the DDR for
max(beats, bytes / sustained bytes a cycle); a read's data come ``latency`` cycles after its
request, and a port keeps at most ``outstanding`` bursts in flight per direction, so a stream of
many small bursts is bound by latency / outstanding per burst, not by the bandwidth.

On a Zynq board the masters reach the DDR through ports of the processing system (HP ports,
:class:`Rates` ``port``, ``ports``): narrower than the masters, clocked by the engine's clock, each
with one AXI read channel and one write channel. The block design puts the weights master on an HP
port of its own and the activations and descriptors masters on another (``Ps.hp_weights``), so a
step's weight reads and input reads each hold their own port's read channel. A burst occupies its
master's port channel for its direction for its beats as the port carries them: a downsizer splits
each ``bus_bytes`` beat into ⌈bus_bytes / port⌉ port beats, the bytes outside the access included
(the engine's masters issue bus-aligned bursts and mask the rest with strobes). The DDR and the port
channel each take a burst in their own time (the port's FIFOs decouple them) and it is done when
both are, so a lone stream takes the longer of its DDR time and its port time. The DDR's sustained
rate is shared by every port and both directions; what bursts hold is counted per *lane*: the DDR,
then each port's read and write channel (:attr:`Rates.lanes`). A split engine's second weights and
activations masters (WEIGHTS_B, ACTS_B) have ports of their own; a load spread over both pairs goes
out as two streams at once, each with its own requests in flight (:func:`concurrent`).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

#: AXI4: a burst never crosses a 4 KiB address boundary (ARM IHI 0022, A3.4.1)
BOUNDARY = 4096
#: beats per burst: tiled/top.h's max_read_burst_length / max_write_burst_length (AXI4 allows 256)
MAX_BEATS = 64
#: Vitis HLS schedules an m_axi port for a latency of 64 cycles unless told otherwise (UG1399,
#: "Controlling AXI4 Burst Behavior": "uses a default latency of 64 kernel cycles"). An assumption
#: about the board's DDR, not a measurement: --ddr-latency sets another
DEFAULT_LATENCY = 64
#: requests in flight per direction: Vitis HLS's default num_read_outstanding / num_write_outstanding (16)
OUTSTANDING = 16
#: 512-bit beats: the Vitis kernel flow widens m_axi ports to up to 512 bits (UG1399,
#: m_axi_max_widen_bitwidth); the engine's element loops do not yet pack accesses themselves. On a Zynq
#: board the engine is built with its masters as wide as the HP port (tiled/ports.py axi_bits) and
#: ``Rates.bus_bytes`` is that width: bursts of MAX_BEATS beats are then 1 KiB on a 128-bit port
BUS_BYTES = 64
#: the engine's m_axi masters, numbered as the trace numbers them (tiled/trace.h): the descriptors
#: (gmem0), the weights arena (gmem1: weights, per-channel constants, lookup tables), the activations
#: arena (gmem2), and in a split engine (tiled/ports.py ``split``) the second weights master (gmem3: the
#: second half of a dense convolution's weight runs) and the second activations master (gmem4: its odd
#: input rows)
DESC, WEIGHTS, ACTS, WEIGHTS_B, ACTS_B = 0, 1, 2, 3, 4


@dataclass(frozen=True)
class Rates:
    """What the engine's bursts go through, per cycle of its clock: ``ddr`` sustained DDR bytes, shared by
    every master and both directions; ``port`` bytes of a PS port, per direction (None: the masters
    reach the memory controller at their own width, as on the Vitis and cloud shells); ``bus_bytes``
    the masters' beat; ``ports`` the PS port (0, 1, ...) each master (DESC, WEIGHTS, ACTS, WEIGHTS_B,
    ACTS_B) goes through: one port for all by default."""

    ddr: float
    port: float | None = None
    bus_bytes: int = BUS_BYTES
    ports: tuple[int, ...] = (0, 0, 0, 0, 0)

    @property
    def lanes(self) -> int:
        """What a burst holds: lane 0 the DDR, then each port's read channel and write channel."""
        return 1 + 2 * (max(self.ports) + 1)

    @property
    def split(self) -> bool:
        """Whether the masters are those of a split engine: a second weights and a second activations
        master on ports of their own, over which a dense convolution's loads spread (master_ports)."""
        p = self.ports
        return len(p) > ACTS_B and (p[WEIGHTS_B] != p[WEIGHTS] or p[ACTS_B] != p[ACTS])

    def lane(self, master: int, write: bool) -> int:
        """The lane of ``master``'s port channel in direction ``write``."""
        return 1 + 2 * self.ports[master] + int(write)

    def port_cycles(self, beats):
        """Cycles a burst of ``beats`` master beats holds its port channel (0 without a port)."""
        return beats * max(1.0, self.bus_bytes / self.port) if self.port else 0.0

    def ddr_cycles(self, nbytes, beats):
        """Cycles a burst holds the DDR: a beat a cycle at least (a beat of a master narrower than
        :data:`BUS_BYTES`, as behind a Zynq HP port, in that share of a cycle, since its port channel
        already counts it a cycle), else its bytes at the sustained rate."""
        return max(beats * min(1.0, self.bus_bytes / BUS_BYTES), nbytes / self.ddr)


def master_ports(ps) -> tuple[int, int, int, int, int]:
    """:attr:`Rates.ports` as the block design wires the masters to a board's PS ``ps`` (None: no PS):
    the weights master on a port of its own (port 1: ``ps.hp_weights``) where the board names one,
    the descriptors and the activations on port 0 (``ps.hp``); in a split engine the second
    activations master on port 2 (``ps.hp_b``) and the second weights master on port 3
    (``ps.hp_weights_b``), else each on its first master's port."""
    if ps is None or not ps.hp_weights:
        return (0, 0, 0, 0, 0)
    return (0, 1, 0, 3, 2) if getattr(ps, "hp_b", None) else (0, 1, 0, 1, 0)


def as_rates(r: Rates | float) -> Rates:
    """``r``, or a DDR alone of ``r`` bytes a cycle."""
    return r if isinstance(r, Rates) else Rates(float(r))


def runs(offsets, nbytes) -> tuple[np.ndarray, np.ndarray]:
    """Maximal runs of consecutive bytes of accesses (``offsets``, ``nbytes`` each, in loop order):
    (start, bytes) arrays, an access joining the run before it when it starts where that one ends."""
    off = np.asarray(offsets, dtype=np.int64).ravel()
    size = np.broadcast_to(np.asarray(nbytes, dtype=np.int64), off.shape)
    if not off.size:
        return off, off.copy()
    brk = np.ones(off.size, dtype=bool)
    brk[1:] = off[1:] != off[:-1] + size[:-1]
    first = np.flatnonzero(brk)
    total = np.add.reduceat(size, first)
    return off[first], total


def bursts(starts, nbytes, bus_bytes: int = BUS_BYTES, max_beats: int = MAX_BEATS) -> Iterable[tuple[int, int]]:
    """(bytes, beats) of every burst the runs (``starts``, ``nbytes``) take, run by run."""
    limit = bus_bytes * max_beats
    for offset, n in zip(np.asarray(starts).tolist(), np.asarray(nbytes).tolist()):
        end = offset + n
        while offset < end:
            stop = min(end, (offset // BOUNDARY + 1) * BOUNDARY, (offset // bus_bytes) * bus_bytes + limit)
            yield stop - offset, -(-(stop - (offset // bus_bytes) * bus_bytes) // bus_bytes)
            offset = stop


def histogram(starts, nbytes, bus_bytes: int = BUS_BYTES, max_beats: int = MAX_BEATS) -> tuple:
    """The bursts of some runs as ((bytes, beats, how many), ...): what their time depends on."""
    starts, nbytes = np.asarray(starts, dtype=np.int64), np.asarray(nbytes, dtype=np.int64)
    limit = bus_bytes * max_beats
    if not starts.size:
        return ()
    if BOUNDARY % bus_bytes:  # beats not on the 4 KiB grid: run by run
        out: dict = {}
        for b in bursts(starts, nbytes, bus_bytes, max_beats):
            out[b] = out.get(b, 0) + 1
        return tuple((n, beats, k) for (n, beats), k in sorted(out.items()))
    if limit >= BOUNDARY and starts.size == 1:  # one run (a weight or constants block): its pieces counted
        return _one_run(int(starts[0]), int(nbytes[0]), BOUNDARY, bus_bytes)
    # the runs' 4 KiB pieces (a burst starting in a piece's first bus word reaches its end when the
    # burst length is 4 KiB or more), each cut every `limit` bytes from its first bus word otherwise
    ends = starts + nbytes
    count = (ends - 1) // BOUNDARY - starts // BOUNDARY + 1
    run = np.repeat(np.arange(starts.size), count)
    k = np.arange(run.size) - np.repeat(np.cumsum(count) - count, count)
    lo = np.maximum(starts[run], (starts[run] // BOUNDARY + k) * BOUNDARY)
    hi = np.minimum(ends[run], (starts[run] // BOUNDARY + k + 1) * BOUNDARY)
    if limit < BOUNDARY:
        lo, hi = _cut(lo, hi, bus_bytes, limit)
    beats = -(-(hi - (lo // bus_bytes) * bus_bytes) // bus_bytes)
    # (bytes, beats) as one integer key: a 1-d unique is much faster than a row-wise one
    keys, many = np.unique((hi - lo) * (BOUNDARY + 1) + beats, return_counts=True)
    return tuple((int(k) // (BOUNDARY + 1), int(k) % (BOUNDARY + 1), int(c)) for k, c in zip(keys, many))


def _cut(lo: np.ndarray, hi: np.ndarray, bus_bytes: int, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """The bursts of the pieces [lo, hi) (none crossing 4 KiB) as bursts() cuts them: every ``limit``
    bytes from the piece's first bus word."""
    first = (lo // bus_bytes) * bus_bytes
    count = -(-(hi - first) // limit)
    piece = np.repeat(np.arange(lo.size), count)
    k = np.arange(piece.size) - np.repeat(np.cumsum(count) - count, count)
    return (np.maximum(lo[piece], first[piece] + k * limit),
            np.minimum(hi[piece], first[piece] + (k + 1) * limit))


def _one_run(start: int, n: int, piece: int, bus_bytes: int) -> tuple:
    """histogram() of the single run [start, start + n) whose cuts all fall on multiples of ``piece``:
    a head up to the first cut, whole pieces, a tail."""
    out: dict = {}
    end = start + n
    cut = min(end, (start // piece + 1) * piece)

    def add(lo, hi, k=1):
        key = (hi - lo, -(-(hi - (lo // bus_bytes) * bus_bytes) // bus_bytes))
        out[key] = out.get(key, 0) + k

    add(start, cut)
    whole = (end - cut) // piece
    if whole:
        add(cut, cut + piece, whole)
    if cut + whole * piece < end:
        add(cut + whole * piece, end)
    return tuple((b, beats, c) for (b, beats), c in sorted(out.items()))


def merge(*hists: tuple) -> tuple:
    out: dict = {}
    for h in hists:
        for n, b, c in h:
            out[(n, b)] = out.get((n, b), 0) + c
    return tuple((n, b, c) for (n, b), c in sorted(out.items()))


def minus(hist: tuple, part: tuple) -> tuple:
    """The bursts of ``hist`` without those of ``part`` (bursts ``hist`` holds: a merge's other part)."""
    out = {(n, b): c for n, b, c in hist}
    for n, b, c in part:
        out[(n, b)] -= c
    return tuple((n, b, c) for (n, b), c in sorted(out.items()) if c)


def busy(hist: tuple, per_cycle: Rates | float) -> float:
    """Cycles the DDR spends on the bursts of ``hist``."""
    r = as_rates(per_cycle)
    return sum(c * r.ddr_cycles(n, b) for n, b, c in hist)


def usage(hist: tuple, per_cycle: Rates | float, write: bool = False, master: int = ACTS) -> tuple[float, ...]:
    """Cycles the bursts of ``hist`` (all reads, or all writes, of ``master``) hold each lane (the DDR,
    then each port's read and write channel): what bursts running beside each other add up on each."""
    return occupancy(((hist, master, write),), per_cycle)


def occupancy(parts, per_cycle: Rates | float) -> tuple[float, ...]:
    """Cycles the bursts of several masters and directions together hold each lane: ``parts`` as
    (hist, master, write); the DDR's time for all of them (as ddr.busy adds it), each port channel's
    for the bursts its master and direction put on it."""
    r = as_rates(per_cycle)
    out = [0.0] * r.lanes
    out[0] = busy(merge(*(h for h, _, _ in parts)), r)
    on: dict = {}
    for h, master, write in parts:
        on.setdefault(r.lane(master, write), []).append(h)
    for lane, hists in on.items():
        out[lane] = sum(c * r.port_cycles(b) for _, b, c in merge(*hists))
    return tuple(out)


def add(*usages: tuple) -> tuple[float, ...]:
    """Lane by lane sums of :func:`occupancy` tuples."""
    return tuple(sum(v) for v in zip(*usages))


def concurrent(streams, per_cycle: Rates | float, latency: int = DEFAULT_LATENCY,
               outstanding: int = OUTSTANDING) -> float:
    """Cycles of one stage whose bursts go out as several streams at once (a split engine's load: its
    first halves through ``weights`` / ``acts``, its second through ``weights_b`` / ``acts_b``), each
    ``streams`` entry its parts as :func:`occupancy` takes them: each stream with its own
    ``outstanding`` requests in flight on its own port channels (:func:`stream` at its occupancy), all
    on the one DDR (their busy time together, and a latency); the longest of these."""
    r = as_rates(per_cycle)
    alone = [stream(merge(*(h for h, _, _ in parts)), r, latency, outstanding, occupied=occupancy(parts, r))
             for parts in streams]
    every = merge(*(h for parts in streams for h, _, _ in parts))
    return max(*alone, busy(every, r) + latency if every else 0.0)


def stream(hist: tuple, per_cycle: Rates | float, latency: int = DEFAULT_LATENCY,
           outstanding: int = OUTSTANDING, occupied: tuple | None = None) -> float:
    """Cycles from a stage's first request until its last burst is done, the stage alone on the DDR
    and its port channels (its bursts taken alike, the mean of their times on the busiest lane:
    ``occupied``, its :func:`occupancy` when its bursts go through several masters, else its
    :func:`usage`): their time plus one latency, or, when ``outstanding`` bursts in flight cannot
    cover the latency, a latency and a burst for every ``outstanding`` bursts (burst i waits for
    burst i − outstanding; the stage's unit counts its bursts in flight over all its masters)."""
    n = sum(c for _, _, c in hist)
    if not n:
        return 0.0
    occ = max(usage(hist, per_cycle) if occupied is None else occupied)
    d = occ / n
    return max(occ + latency, latency + ((n - 1) % outstanding + 1) * d + (n - 1) // outstanding * (latency + d))
