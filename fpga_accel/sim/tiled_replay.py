"""Replay of the tiled engine's stage trace: the ping-pong schedule and a DDR model.

The trace (``tiled/trace.h``) holds, in program order, one event per stretch of a stage: its unit
(load, compute, store; or the layer's own setup and streaming loops, or control), spatial tile, the
on-chip buffer half it reads and the one it fills, the FA_CYCLE iterations it ran and the runs of
consecutive DDR bytes it moved. The replay gives each event a start and an end:

- **units**: the load, compute and store units each run their events in program order; an event
  starts when its unit is free and its buffers allow it — after the last event that filled the half
  it reads (read after write) and after the last event that read the half it fills (the double
  buffer is free again). So load j overlaps compute j−1 overlaps output j−2, and the two halves of
  each buffer are the only slack. A dense conv / gemm (``overlap``, cost.span_overlap) runs on
  from one spatial tile into the next on the same rules: the next tile's first load waits only for
  the halves it fills, the output path of the tile before overlaps the next tile's steps; where
  the layer keeps an input resident (in one input half the trace does not name), a tile's first
  load also waits for the array on the tile before. Any other new spatial tile, a new layer, a
  layer's own loops and the control reads wait for everything before them (the pipeline drains).
- **the DDR** (:class:`DdrModel`): runs are cut into AXI bursts (at 4 KiB boundaries and at the
  port's burst length in beats of ``bus_bytes``); a burst occupies the one DDR both directions share
  for max(beats, bytes / the sustained bytes per cycle), first come first served in time (a burst
  may take an idle gap before one reserved earlier in the replay); a read's data start ``latency``
  cycles after its request, a write's response comes ``latency`` cycles after its data, and a unit
  keeps at most ``outstanding`` bursts in flight per direction over its first masters, and as many
  again over a split engine's second masters (weights_b, acts_b: their own requests in flight, so a
  load's two halves stream side by side). On a Zynq board (``port_bytes``) a
  burst also holds its direction's channel of the PS port its master goes through (``ports``) for
  its beats at the port's width (ddr.Rates): each of the two takes it in its first gap long enough
  from its request on (the port's FIFOs decouple them), and it is done when both are.
- an event ends when both its iterations (one a cycle, from its start) and its last burst are done.
"""
from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field

import numpy as np

from ..tiled.ddr import BOUNDARY, BUS_BYTES, DEFAULT_LATENCY, MAX_BEATS, OUTSTANDING, Rates  # noqa: F401 (the cost model's rules)
from ..tiled.ddr import ACTS_B, WEIGHTS_B
from ..tiled.ddr import bursts as run_bursts
from .tiled_build import StageTrace

CONTROL, LAYER, LOAD, COMPUTE, STORE, IMAGE = range(6)
#: the trace's ports of a split engine's second masters (tiled/trace.h P_WEIGHTS_B, P_ACTS_B)
SECOND = (WEIGHTS_B, ACTS_B)
#: port beats a PS port's channel carries of one burst before another master's burst may come: the
#: AXI3 burst length of the Zynq-7000 HP ports (UG585, 16 beats), which the interconnect in front
#: of them cuts a master's longer bursts into; assumed for the Zynq UltraScale+ ports too
PORT_PIECE = 16


@dataclass(frozen=True)
class DdrModel:
    bytes_per_cycle: float  # sustained: the board's ddr_gbps × burst efficiency, at the engine's clock
    latency: int = DEFAULT_LATENCY
    bus_bytes: int = BUS_BYTES
    max_beats: int = MAX_BEATS
    outstanding: int = OUTSTANDING
    port_bytes: float | None = None  # a cycle, each direction of a PS port (Zynq); None: no port
    #: the PS port of each traced port: the masters (descriptors, weights, acts, weights_b, acts_b), other
    ports: tuple[int, ...] = (0, 0, 0, 0, 0, 0)

    @property
    def rates(self) -> Rates:
        return Rates(self.bytes_per_cycle, self.port_bytes, self.bus_bytes)

    def bursts(self, offset: int, nbytes: int):
        """(bytes, beats) of the bursts one run of consecutive bytes takes."""
        return run_bursts([offset], [nbytes], self.bus_bytes, self.max_beats)


class Calendar:
    """Busy intervals of the DDR, merged; :meth:`reserve` takes the first gap long enough."""

    def __init__(self):
        self.starts: list[float] = []
        self.ends: list[float] = []

    def reserve(self, t: float, d: float) -> float:
        s, e = self.starts, self.ends
        i = bisect.bisect_right(e, t)
        while i < len(s) and s[i] < t + d:
            t = max(t, e[i])
            i += 1
        if i > 0 and e[i - 1] >= t:  # touches the interval before: extend it
            e[i - 1] = t + d
            if i < len(s) and s[i] <= e[i - 1]:
                e[i - 1] = e[i]
                del s[i], e[i]
        elif i < len(s) and s[i] <= t + d:
            s[i] = t
        else:
            s.insert(i, t)
            e.insert(i, t + d)
        return t


@dataclass
class LayerTiming:
    index: int
    start: float = math.inf  # cycles from its image's start
    end: float = 0.0
    iterations: int = 0  # compute iterations (FA_CYCLE, not the data movers' FA_MOVE) of its stages
    ddr_bytes: int = 0
    ddr_busy: float = 0.0  # cycles the DDR spends on its bursts
    bursts: int = 0
    port_busy: list = field(default_factory=lambda: [0.0, 0.0])  # cycles its bursts hold the PS port(s), reads, writes

    @property
    def cycles(self) -> float:
        return max(0.0, self.end - self.start) if self.end else 0.0


@dataclass
class Replay:
    image_done: list[float]  # cycle each image's last event ends (images run one engine call after another)
    layers: list[list[LayerTiming]]  # per image, per layer
    control: list[float]  # per image: cycles of the header and record reads
    ddr_bytes: int = 0
    ddr_busy: float = 0.0
    bursts: int = 0
    extra: dict = field(default_factory=dict)


def replay(trace: StageTrace, ddr: DdrModel, n_layers: int, overlap: dict | None = None) -> Replay:
    """Start and end of every event of ``trace`` (see the module docstring); per image and layer.
    ``overlap``: layer index -> ``"pipelined"`` or ``"resident"`` (cost.span_overlap) for the layers
    whose spatial tiles follow one another without draining the pipeline."""
    overlap = overlap or {}
    ev, runs = trace.events, trace.runs
    cal = Calendar()
    channels: dict[tuple[int, int], Calendar] = {}  # (PS port, write) -> its channel's calendar
    rates = ddr.rates
    free = [0.0] * 6  # per unit: when its last event ends
    wend: dict[int, float] = {}  # buffer half -> end of the last event that filled it
    rend: dict[int, float] = {}  # buffer half -> end of the last event that read it
    horizon = 0.0  # the end of everything so far in this image, in cycles from its start
    base = 0.0  # the cycle the image started: times are kept per image, so every image adds alike in floats
    prev_span = None
    computed: dict[tuple, float] = {}  # spatial tile -> end of its last compute event
    loading = None  # the spatial tile of the last load event
    out = Replay([], [], [])
    per: list[LayerTiming] = []
    control = 0.0
    # one DDR for every master; a master's PS port (if any) by its traced port
    r_off, r_bytes, r_write, r_port = (runs["offset"].astype(np.int64).tolist(), runs["bytes"].astype(np.int64).tolist(),
                                       runs["write"].tolist(), runs["port"].tolist())
    for e in ev.tolist():
        layer, unit, r0, q0, reads, writes, iters, first, count, mover_iters = e
        if unit == IMAGE:
            if per:
                out.image_done.append(base + horizon)
                out.layers.append(per)
                out.control.append(control)
            # the image before is done with the DDR, the ports and every buffer: its times constrain nothing
            base, horizon = base + horizon, 0.0
            cal = Calendar()
            channels.clear()
            wend.clear()
            rend.clear()
            per, control = [LayerTiming(i) for i in range(n_layers)], 0.0
            free = [horizon] * 6
            prev_span = loading = None
            computed.clear()
            continue
        span = (layer, r0, q0)
        serial = unit in (CONTROL, LAYER)
        runs_on = prev_span is not None and prev_span[0] == layer and layer in overlap
        if serial or (span != prev_span and not runs_on):  # a barrier: the pipeline drains
            free = [horizon] * 6
        prev_span = None if serial else span
        start = free[unit]
        if unit == LOAD:
            if loading is not None and loading != span and loading[0] == layer and overlap.get(layer) == "resident":
                start = max(start, computed.get(loading, 0.0))  # the resident input half
            loading = span
        if reads:
            start = max(start, wend.get(reads, 0.0))
        if writes:
            start = max(start, rend.get(writes, 0.0), wend.get(writes, 0.0))
        end = start + iters
        busy, nb, moved, port_busy = 0.0, 0, 0, [0.0, 0.0]
        issued: dict = {}  # (direction, second master) -> completion of each burst in flight order
        for k in range(first, first + count):
            w = r_write[k]
            q = issued.setdefault((w, r_port[k] in SECOND), [])
            chan = None
            if ddr.port_bytes:
                key = (ddr.ports[min(r_port[k], len(ddr.ports) - 1)], w)
                chan = channels.setdefault(key, Calendar())
            for nbytes, beats in ddr.bursts(r_off[k], r_bytes[k]):
                t = start if len(q) < ddr.outstanding else max(start, q[-ddr.outstanding])
                d = rates.ddr_cycles(nbytes, beats)
                p = rates.port_cycles(beats)
                at = t if w else t + ddr.latency  # a write's data first, its response `latency` later
                done = cal.reserve(at, d) + d
                if chan is not None:  # the port's channel in pieces: the interconnect interleaves masters' bursts
                    left, t_c = p, at
                    while left > 0:
                        piece = min(left, PORT_PIECE)
                        t_c = chan.reserve(t_c, piece) + piece
                        left -= piece
                    done = max(done, t_c)
                done += ddr.latency if w else 0
                q.append(done)
                end = max(end, done)
                busy += d
                port_busy[w] += p
                nb += 1
            moved += r_bytes[k]
        free[unit] = end
        if unit == COMPUTE:
            computed[span] = end
        if reads:
            rend[reads] = max(rend.get(reads, 0.0), end)
        if writes:
            wend[writes] = end
        horizon = max(horizon, end)
        if serial:
            free = [horizon] * 6
        out.ddr_bytes += moved
        out.ddr_busy += busy
        out.bursts += nb
        if unit == CONTROL or not 0 <= layer < n_layers:
            control += end - start
            continue
        lay = per[layer]
        lay.start, lay.end = min(lay.start, start), max(lay.end, end)  # cycles from the image's start
        lay.iterations += iters - mover_iters if unit in (COMPUTE, LAYER) else 0
        lay.ddr_bytes += moved
        lay.ddr_busy += busy
        lay.port_busy = [a + b for a, b in zip(lay.port_busy, port_busy)]
        lay.bursts += nb
    if per:
        out.image_done.append(base + horizon)
        out.layers.append(per)
        out.control.append(control)
    return out
