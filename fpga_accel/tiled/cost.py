"""Cycles and DDR bytes per layer of a tiled-engine program: estimates, from the program alone.

The array does Tm × Tn multiply-accumulates a cycle at II = 1: a dense convolution tile of
rows × cols output pixels takes rows · cols · KH · KW cycles per (Tm tile, Tn tile); depthwise mode
and the window pools take rows · cols · ⌈KH·KW / Tn⌉ per Tm tile (Tn kernel taps at a time);
elementwise layers rows · cols per Tm tile; a global pool ⌈rows · cols / Tn⌉ per input tile.

DDR bytes are exactly what the loop order of :mod:`fpga_accel.tiled.engine` reads and writes (a
test compares them with the executor's counted accesses): weight blocks once per spatial tile,
input tiles with their halo once per output-channel tile (the part inside the image; padding is
made on chip), per-channel constants once per output tile, lookup tables once per layer, outputs
and residual tiles once. Transfer time follows the AXI bursts those accesses make in the engine's
loop order (:mod:`fpga_accel.tiled.ddr`, the rules the timed simulation replays): each burst
occupies the DDR for max(beats, bytes / (the board's ``ddr_gbps`` × :data:`BURST_EFFICIENCY`)),
and on a Zynq board also its direction's channel of the PS's HP port all masters share for its
beats at the port's width (``ps.hp_bits``, :func:`ddr_rates`); a stage's stream adds the port's
latency, or a latency per 16 bursts in flight when short bursts cannot cover it. A split engine
(tiled/ports.py ``split``, ``ddr.Rates.split``) reads a dense conv / gemm load's odd input rows and
the second half of its weight run through two more masters on ports of their own (Step.aload_b,
Step.wload_b), the two halves as concurrent streams (ddr.concurrent); the bytes are the same.

The loops that move data are timed too (:mod:`fpga_accel.tiled.moves`): a load moves a bus word
(``Rates.bus_bytes``) an iteration, the output path P = W / itemsize lanes; each step counts its
load's, fetch's and output path's iterations (Step.load_moves, fetch_moves, store_moves) from the
walk that cuts its bursts (a dense or tap-parallel load: its constants, then its input beside its
weight run, the longer of the two), and a stage takes the longer of its iterations (one a cycle) and its
stream, as the timed replay ends an event when both are done.

Double buffering overlaps the load of one step with the compute of the one before and the output
path of the one before that: per step the longest of its stages (and of their DDR time together).
A spatial tile of a depthwise convolution or a pool runs its few steps through the three units as
the timed simulation does, each stage when its unit is free and its buffer halves allow (the output
path of one step beside the load of the next, on the port's other channel); a dense conv / gemm pipelines on from one spatial tile into the next, so only the layer's first
load and last output path add (and each tile's first load where a resident input makes it wait
for the array on the tile before, :func:`span_overlap`). A layer whose DDR or port busy time
outweighs its compute is memory-bound.
"""
from __future__ import annotations

import functools
import hashlib
import json
import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass

import numpy as np

from ..errors import InputError
from . import moves, pixel_access
from .ddr import (
    ACTS,
    ACTS_B,
    BOUNDARY,
    BUS_BYTES,
    DEFAULT_LATENCY,
    WEIGHTS,
    WEIGHTS_B,
    Rates,
    as_rates,
    busy,
    concurrent,
    histogram,
    master_ports,
    merge,
    minus,
    occupancy,
    runs,
    stream,
)
from .program import Program, itemsize
from .tiles import (
    clipped,
    in_span,
    input_resident,
    inside,
    is_depthwise,
    sampled_input,
    spans,
    tap_parallel,
    tiles_per_step,
    whole_pixels,
)

#: Share of the peak DDR bandwidth long sequential bursts sustain. Source: AMD UG585 (Zynq 7000 SoC
#: TRM), "DDR Efficiency": the PS DDR controller "was designed to have a maximum efficiency of
#: approximately 75%" (measured 87 % for mixed sequential reads and writes, 97 % reads alone).
#: Used for every board: an assumption for the UltraScale+ PS and the card memory controllers.
BURST_EFFICIENCY = 0.75


@dataclass
class Step:
    """One double-buffered step: compute cycles, the bytes it moves and its DDR bursts (ddr.histogram)
    per stage: ``load`` (input and weights, ahead of the array), ``fetch`` (per-channel constants the
    array waits for), ``store_r`` / ``store_w`` (the output path's residual reads and its writes).
    ``whole``: a spatial tile's output path of whole pixels (tiles.whole_pixels), the tile's last
    step, which runs beside all of the next tile's steps. Masters: ``wload`` is the part of ``load``
    the weights master reads (weights, per-channel constants), the rest of it the input on the
    activations master; ``fetch`` is all on the weights master, the output path on the activations
    master. In a split engine (ddr.Rates.split) a dense conv / gemm step's load also has parts on the
    second masters: ``wload_b`` the second half of its weight run (weights_b), ``aload_b`` its odd
    input rows (acts_b); ``load`` holds them too; and a conv's output path reads its odd output rows'
    residuals through acts_b: ``store_rb``, which ``store_r`` holds too. ``load_moves``, ``fetch_moves``, ``store_moves``:
    the iterations of the loops that move the load's, the fetch's and the output path's data (a bus
    word, resp. P lanes, an iteration: :mod:`fpga_accel.tiled.moves`), placed as the bursts are."""

    compute: int
    weights: int = 0
    read: int = 0
    write: int = 0
    load: tuple = ()
    fetch: tuple = ()
    store_r: tuple = ()
    store_w: tuple = ()
    whole: bool = False
    store_rb: tuple = ()
    wload: tuple = ()
    wload_b: tuple = ()
    aload_b: tuple = ()
    load_moves: int = 0
    fetch_moves: int = 0
    store_moves: int = 0


@dataclass
class LayerCost:
    """Per-image estimate of one descriptor."""

    name: str
    kind: str
    macs: int
    compute_cycles: int
    weight_bytes: int
    act_read_bytes: int
    act_write_bytes: int
    transfer_cycles: float
    cycles: float
    bound: str
    bursts: int = 0  # AXI bursts its loads and writes take (ddr.py)

    @property
    def ddr_bytes(self) -> int:
        return self.weight_bytes + self.act_read_bytes + self.act_write_bytes


@dataclass
class ProgramCost:
    """Estimates for a whole program on one board (labelled as such in :meth:`to_dict`)."""

    board: str
    clock_mhz: float
    ddr_gbps: float
    burst_efficiency: float
    tm: int
    tn: int
    layers: list[LayerCost]
    hp_bits: int | None = None  # the PS ports' width (Zynq boards), None: no such port
    hp_ports: int | None = None  # PS ports the masters go through (weights on their own: 2; split: 4)

    @property
    def cycles(self) -> float:
        return sum(lay.cycles for lay in self.layers)

    @property
    def fps(self) -> float:
        return self.clock_mhz * 1e6 / self.cycles if self.cycles else math.inf

    @property
    def efficiency(self) -> float:
        """MACs done / MACs the Tm × Tn array could do in the same cycles (DSP roofline)."""
        return sum(lay.macs for lay in self.layers) / (self.cycles * self.tm * self.tn) if self.cycles else 0.0

    @property
    def ddr_gbs(self) -> float:
        """Average DDR traffic while the program runs, GB/s."""
        return sum(lay.ddr_bytes for lay in self.layers) * self.fps / 1e9

    def to_dict(self) -> dict:
        return {"estimate": True, "board": self.board, "clock_mhz": self.clock_mhz, "ddr_gbps": self.ddr_gbps,
                "burst_efficiency": self.burst_efficiency, "hp_bits": self.hp_bits,
                "hp_ports": self.hp_ports, "tm": self.tm, "tn": self.tn, "cycles": self.cycles,
                "fps": self.fps, "efficiency": self.efficiency, "ddr_gbs": self.ddr_gbs,
                "layers": [{**asdict(lay), "ddr_bytes": lay.ddr_bytes} for lay in self.layers]}


def program_cost(program: Program, board, clock_mhz: float | None = None,
                 burst_efficiency: float = BURST_EFFICIENCY, latency: int = DEFAULT_LATENCY) -> ProgramCost:
    """Per-layer cycles and DDR bytes of ``program`` on ``board`` (a :class:`~fpga_accel.fold.boards.Board`
    or its name) at ``clock_mhz`` (default: the board's clock)."""
    from ..fold import get_board

    b = get_board(board) if isinstance(board, str) else board
    if not b.ddr_gbps:
        raise InputError(f"board '{b.name}' gives no DDR bandwidth (ddr_gbps); the tiled engine's cost model needs "
                         f"it: add it to its board file with its source")
    clock = float(clock_mhz or b.clock_mhz)
    if not (0 < burst_efficiency <= 1 and clock > 0):
        raise InputError(f"burst efficiency must be in (0, 1] and the clock positive, got {burst_efficiency}, {clock}")
    per_cycle = ddr_rates(b, clock, burst_efficiency)
    layers = []
    for desc in program.layers:
        timed = _timed_tiles(desc, program.engine, bus=per_cycle.bus_bytes, split=per_cycle.split)  # walked once
        compute, wbytes, rbytes, written, transfer, cycles = _totals(desc, program.engine, timed, per_cycle, latency)
        layers.append(LayerCost(desc["name"], desc["kind"], layer_macs(desc), compute, wbytes, rbytes, written,
                                transfer, cycles, "memory" if transfer > compute else "compute", _bursts(timed)))
    e = program.engine
    return ProgramCost(b.name, clock, float(b.ddr_gbps), burst_efficiency, e["tm"], e["tn"], layers,
                       b.ps.hp_bits if b.ps else None, max(per_cycle.ports) + 1 if b.ps else None)


def ddr_bytes_per_cycle(board, clock_mhz: float | None = None, burst_efficiency: float = BURST_EFFICIENCY) -> float:
    """DDR bytes a cycle of the engine's clock (default: the board's) at ``burst_efficiency``."""
    return board.ddr_gbps * 1e9 * burst_efficiency / (float(clock_mhz or board.clock_mhz) * 1e6)


def ddr_rates(board, clock_mhz: float | None = None, burst_efficiency: float = BURST_EFFICIENCY) -> Rates:
    """What the engine's bursts go through on ``board`` (:class:`~fpga_accel.tiled.ddr.Rates`): the DDR
    at :func:`ddr_bytes_per_cycle` and, on a Zynq board, the PS's HP ports, ``hp_bits`` a cycle each
    way at the engine's clock (the block design clocks the ports with it): the weights master on one
    (``ps.hp_weights``), the activations and descriptors on another (``ps.hp``), a split engine's
    second masters on two more (``ps.hp_weights_b``, ``ps.hp_b``; ddr.master_ports); the
    masters' beats as wide as the engine's arena ports are built (tiled/ports.py axi_bits: the HP port's
    width there, 512 bits elsewhere)."""
    from .ports import axi_bits

    port = board.ps.hp_bits / 8 if board.ps is not None else None
    return Rates(ddr_bytes_per_cycle(board, clock_mhz, burst_efficiency), port, axi_bits(board) // 8,
                 master_ports(board.ps))


def bound_cycles(layers, rates: Rates) -> float:
    """A lower bound of an image's cycles on any schedule of these layers (``layers``: LayerCost dicts,
    as ``ProgramCost.to_dict`` and the manifest hold them) on this array and these ports: per layer the
    longest of its compute cycles, its DDR bytes at the DDR's sustained rate (``rates.ddr``) and, behind
    a board's PS ports (``rates.port`` bytes a cycle a channel), the busiest port channel — its weights
    spread evenly over the weights masters' ports, its reads over the activations masters', its writes
    on the activations master's write channel (a split engine's second masters taken for every layer) —
    as if every transfer overlapped the compute and every channel ran at its rate. What a better
    schedule of the same engine could reach at best; an estimate from the cost model's own counts."""
    r = as_rates(rates)
    weight_ports = sorted({r.ports[WEIGHTS], r.ports[WEIGHTS_B]})
    read_ports = sorted({r.ports[ACTS], r.ports[ACTS_B]})
    total = 0.0
    for lay in layers:
        moved = lay["weight_bytes"] + lay["act_read_bytes"] + lay["act_write_bytes"]
        longest = max(float(lay["compute_cycles"]), moved / r.ddr)
        if r.port:
            reads: dict[int, float] = {}
            for ports, nbytes in ((weight_ports, lay["weight_bytes"]), (read_ports, lay["act_read_bytes"])):
                for q in ports:
                    reads[q] = reads.get(q, 0.0) + nbytes / len(ports)
            longest = max(longest, max(reads.values()) / r.port, lay["act_write_bytes"] / r.port)
        total += longest
    return total


def layer_totals(desc: dict, engine: dict, per_cycle: Rates | float,
                 latency: int = DEFAULT_LATENCY) -> tuple[int, int, int, int, float, float]:
    """(compute cycles, weight bytes, read bytes, written bytes, transfer cycles, cycles) of one
    descriptor at ``per_cycle`` (ddr.Rates, or DDR bytes a cycle alone): the sums over its spatial
    tiles (a convolution's alike tiles walked once, _conv_groups). Transfer cycles: the busy time of
    the busiest of the DDR and the port's two channels for the layer's bursts (ddr.usage). Cycles:
    where the pipeline drains between tiles (depthwise, pools) each tile's stages in order on their
    units (:func:`_drained_cycles`); a dense conv / gemm per step the longest of its stages
    (ddr.stream), running on from one spatial tile into the next (span_overlap), so only the layer's
    first load and last output path stand alone (and each tile's first load, where a resident input
    makes it wait for the tile before); the streaming
    layers (one loop for load, compute and write) the longest of their compute and their read and
    write streams."""
    r = as_rates(per_cycle)
    return _totals(desc, engine, _timed_tiles(desc, engine, bus=r.bus_bytes, split=r.split), per_cycle, latency)


def _totals(desc: dict, engine: dict, timed: list, per_cycle: float, latency: int) -> tuple:
    """layer_totals of ``desc`` from its walk ``timed`` (_timed_tiles)."""
    if desc["kind"] in SERIAL:
        return _serial_totals(timed, per_cycle, latency)
    tot = [0, 0, 0, 0, 0.0, 0.0]
    cache: dict = {}
    mode = span_overlap(desc, engine)
    dense = desc["kind"] == "gemm" or (desc["kind"] == "conv" and not is_depthwise(desc["geometry"]))  # step by step
    tables = 1 if desc["kind"] in ("conv", "gemm") and _layer_consts(desc, engine) else 0  # loaded alone, first
    lanes = as_rates(per_cycle).lanes
    occupied = []  # per run, in loop order: its steps' busy time per lane
    runs_ = []
    prev = None  # the last step of the tile kind before (pipelined): its output path runs beside the next
    for index, (n, steps) in enumerate(timed):
        run = _indexed(steps)
        distinct, at, many = run
        runs_.append(run)
        per_step = np.zeros(len(distinct), dtype=np.int64)
        np.add.at(per_step, at, many)
        for st, k in zip(distinct, per_step.tolist()):  # integers: summed in any order
            tot[0] += n * k * st.compute
            tot[1] += n * k * st.weights
            tot[2] += n * k * st.read
            tot[3] += n * k * st.write
        occ = np.array([_occupied(st, per_cycle, cache) for st in distinct], dtype=np.float64).reshape(-1, lanes)
        occupied.append((n * many)[:, None] * occ[at])
        if dense:
            m = mode if index >= tables else None
            each = _tile_cycles(run, per_cycle, latency, cache, m)
            tot[5] += n * each
            if m and prev is not None:  # its first tile runs beside the last of the tiles before, of another kind
                tot[5] += _tile_cycles(run, per_cycle, latency, cache, m, prev) - each
            prev = distinct[at[-1]] if m else None
        else:
            tot[5] += n * _drained_cycles(run, per_cycle, latency, cache)
    tot[4] = max(_in_order(0.0, *(o[:, k] for o in occupied)) for k in range(lanes))
    if mode and len(timed) > tables:  # the pipeline fills once and drains once: the last tile as if alone
        last = runs_[-1]
        tot[5] += _tile_cycles(last, per_cycle, latency, cache) - _tile_cycles(last, per_cycle, latency, cache, mode)
    return tuple(tot)


def _occupied(st: Step, per_cycle, cache: dict) -> tuple[float, ...]:
    """The busy time of every lane (the DDR, each port's read and write channel) for a step's bursts,
    kept in ``cache`` per its bursts."""
    key = ("busy", st.load, st.wload, st.wload_b, st.aload_b, st.fetch, st.store_r, st.store_rb, st.store_w)
    if key not in cache:
        cache[key] = _usage(st, per_cycle)
    return cache[key]


def _load_parts(st: Step) -> tuple:
    """The load's bursts per master, as ddr.occupancy takes them: the input, the weights and constants,
    and in a split engine the second masters' parts (those that have bursts)."""
    seconds = tuple((h, m, False) for h, m in ((st.wload_b, WEIGHTS_B), (st.aload_b, ACTS_B)) if h)
    return (minus(st.load, merge(st.wload, st.wload_b, st.aload_b)), ACTS, False), (st.wload, WEIGHTS, False), *seconds


def _load_time(st: Step, per_cycle, latency: int, occupied: tuple) -> float:
    """The load's stream (ddr.stream at its ``occupied`` lanes); a split load's two halves (the first
    masters', the second masters') as concurrent streams (ddr.concurrent), each its own requests in flight."""
    parts = _load_parts(st)
    if len(parts) == 2:
        return stream(st.load, per_cycle, latency, occupied=occupied)
    return concurrent((parts[:2], parts[2:]), per_cycle, latency)


def _fetch_parts(st: Step) -> tuple:
    return ((st.fetch, WEIGHTS, False),)


def _store_parts(st: Step) -> tuple:
    """The output path's bursts per master: its residual reads (a split engine's odd rows' through
    acts_b) and its writes."""
    if st.store_rb:
        return (minus(st.store_r, st.store_rb), ACTS, False), (st.store_rb, ACTS_B, False), (st.store_w, ACTS, True)
    return (st.store_r, ACTS, False), (st.store_w, ACTS, True)


def _usage(st: Step, per_cycle) -> tuple[float, ...]:
    """ddr.occupancy of all of a step's bursts (the DDR's time for them together, as ddr.busy adds it)."""
    return occupancy(_load_parts(st) + _fetch_parts(st) + _store_parts(st), per_cycle)


def _serial_totals(timed, per_cycle, latency: int) -> tuple:
    """layer_totals of a SERIAL layer: its reads and its writes as two streams beside its loops, which
    run one after another: per pixel (a global pool: per Tn pixels) one iteration of the lanes (the
    compute) after its inputs' reads (Step.load_moves), then the output path (Step.store_moves; a
    global pool's once per channel tile), and the constants and tables read ahead of a tile
    (Step.fetch_moves)."""
    tot = [0, 0, 0, 0, 0.0, 0.0]
    loops = 0
    held = [0.0] * as_rates(per_cycle).lanes  # the DDR, each port's read and write channels
    reads: list = []
    consts: list = []  # the reads on the weights master
    writes: list = []
    for n, steps in timed:
        for many, st in steps:
            k = n * many
            tot[0] += k * st.compute
            tot[1] += k * st.weights
            tot[2] += k * st.read
            tot[3] += k * st.write
            loops += k * (st.compute + st.load_moves + st.fetch_moves + st.store_moves)
            held = [a + k * b for a, b in zip(held, _usage(st, per_cycle))]
            reads.append(_scaled(merge(st.load, st.fetch, st.store_r), k))
            consts.append(_scaled(merge(st.wload, st.fetch), k))
            writes.append(_scaled(st.store_w, k))
    r, c, w = merge(*reads), merge(*consts), merge(*writes)
    on = occupancy(((minus(r, c), ACTS, False), (c, WEIGHTS, False)), per_cycle)
    tot[4] = max(held)
    tot[5] = max(loops, stream(r, per_cycle, latency, occupied=on), stream(w, per_cycle, latency), tot[4])
    return tuple(tot)


def _indexed(steps: list) -> tuple[list, np.ndarray, np.ndarray]:
    """A tile's (how many, Step) runs (how many > 0) as its distinct Steps (a tile repeats a few per Tm
    tile and group) and, per run, the index of its Step and how many."""
    distinct, row_of, at, many = [], {}, [], []
    for k, st in steps:
        if k:
            r = row_of.get(id(st))
            if r is None:
                r = row_of[id(st)] = len(distinct)
                distinct.append(st)
            at.append(r)
            many.append(k)
    return distinct, np.array(at, dtype=np.int64), np.array(many, dtype=np.int64)


def _in_order(start: float, *parts: np.ndarray) -> float:
    """start + the values of ``parts`` added one after the other, as a loop adds them (a cumulative sum
    adds in order; a sum may pair them up and round otherwise)."""
    return float(np.cumsum(np.concatenate(([start], *parts)))[-1])


#: layers whose load, compute and write are one loop (eltwise.h, mul.h, pool.h global_pool)
SERIAL = ("add", "requant", "lut", "mul", "global_avgpool", "global_maxpool")


def _scaled(hist: tuple, k: int) -> tuple:
    return tuple((n, b, c * k) for n, b, c in hist)


def _stage_times(st: Step, per_cycle, latency: int, cache: dict) -> tuple:
    """(load, fetch, compute, output path — a data-moving stage the longer of its stream and its
    loop's iterations (Step.load_moves, fetch_moves, store_moves; one a cycle, as the timed replay
    ends an event when both its iterations and its bursts are done); the busy time of every lane (the
    DDR, each port's read and write channel: L = Rates.lanes) for the load, for the fetch, for the
    output path: 3 × L) of a step,
    kept in ``cache`` per what they depend on (a depthwise layer's Tm tiles are distinct steps, mostly
    alike). Columns: :func:`_lanes`."""
    key = (st.load, st.wload, st.wload_b, st.aload_b, st.fetch, st.compute, st.store_r, st.store_rb, st.store_w,
           st.load_moves, st.fetch_moves, st.store_moves)
    if key not in cache:
        load, fetch = occupancy(_load_parts(st), per_cycle), occupancy(_fetch_parts(st), per_cycle)
        cache[key] = (max(_load_time(st, per_cycle, latency, load), st.load_moves),
                      max(stream(st.fetch, per_cycle, latency, occupied=fetch), st.fetch_moves), st.compute,
                      max(_store(st, per_cycle, latency), st.store_moves), *load, *fetch,
                      *occupancy(_store_parts(st), per_cycle))
    return cache[key]


def _lanes(per_cycle) -> tuple[int, range, range, range]:
    """(L, then the columns of :func:`_stage_times` of the load's, the fetch's and the output path's
    busy time per lane)."""
    n = as_rates(per_cycle).lanes
    return n, range(4, 4 + n), range(4 + n, 4 + 2 * n), range(4 + 2 * n, 4 + 3 * n)


def _tile_cycles(run: tuple, per_cycle, latency: int, cache: dict, mode: str | None = None,
                 before: Step | None = None) -> float:
    """One spatial tile's cycles (_pipeline_cycles of ``run``, :func:`_indexed` of its steps); a tile of
    whole pixels ends in its output path (Step.whole), which runs after the tile's steps when the
    pipeline drains, and otherwise beside all of the next tile's steps (tiles alike: this tile's own) —
    on the one DDR and the port's channels with them. Its bursts go out as it starts, beside the
    next tile's first step, so the load that step overlaps queues behind its reads on the DDR and
    the read channel (first come first served), which the first step's slack may hide
    (:func:`_queued_load`)."""
    distinct, cur, many = run
    if not (cur.size and distinct[cur[-1]].whole):
        return _pipeline_cycles(run, per_cycle, latency, cache, mode, before)
    rest = (distinct, cur[:-1], many[:-1])
    work = _pipeline_cycles(rest, per_cycle, latency, cache, mode)
    out = _stage_times(distinct[cur[-1]], per_cycle, latency, cache)
    if not mode:
        return work + out[3]
    n, lo, fe, st = _lanes(per_cycle)
    used = [0.0] * n  # the steps' loads and fetches on each lane
    for k, i in zip(many[:-1].tolist(), cur[:-1].tolist()):  # in loop order, as a loop adds them
        t = _stage_times(distinct[i], per_cycle, latency, cache)
        for r in range(n):
            used[r] += k * (t[lo[r]] + t[fe[r]])
    queued = _queued_load(rest, distinct[cur[-1]], per_cycle, latency, cache, mode)
    return max(work + queued, out[3],
               *(used[r] + out[st[r]] for r in range(n)))


def _queued_load(rest: tuple, out: Step, per_cycle, latency: int, cache: dict, mode: str) -> float:
    """Cycles a whole-pixel output path ``out`` adds to the first step of the tile it runs
    beside (``rest``: that tile's steps; tiles alike): the load beside that step waits for the output
    path's reads on the DDR and the read channel, and the step takes longer where that load then
    outlasts it (the step's time as _pipeline_cycles takes it; the steps of a tile of whole pixels
    have no output path of their own). The load waits on the DDR and on the channels it shares with
    those reads (the activations master's port: its input; not the weights' own port)."""
    distinct, cur, many = rest
    if not cur.size:
        return 0.0
    if many[0] > 1 or cur.size > 1:
        nxt = cur[0] if many[0] > 1 else cur[1]
    elif mode == "pipelined":  # one step a tile: the next tile's, alike
        nxt = cur[0]
    else:
        return 0.0
    t, n = (_stage_times(distinct[i], per_cycle, latency, cache) for i in (cur[0], nxt))
    lanes, lo, fe, _ = _lanes(per_cycle)
    work = t[2] + (t[1] if mode == "pipelined" else 0.0)  # a resident tile's first fetch runs beside its first load
    step = max(work, n[0], *(t[fe[k]] + n[lo[k]] for k in range(lanes)))
    reads = occupancy(tuple(part for part in _store_parts(out) if not part[2]), per_cycle)
    return max(0.0, n[0] + max(v for k, v in enumerate(reads) if k == 0 or n[lo[k]]) - step)


def _drained_cycles(run: tuple, per_cycle, latency: int, cache: dict) -> float:
    """One spatial tile's cycles where the pipeline drains between tiles (depthwise convolutions, the
    window pools): the load, the array and the output path each take their steps in order, a stage
    as soon as its unit is free and its buffer halves allow (as the timed simulation runs them): load
    j after the array on step j−2 (the input half it fills), the array on step j after load j and
    the output path of step j−2 (the accumulator half), output path j after the array on step j. The
    array's stage takes the longer of its compute and its fetch (the constants' bursts go out as it
    starts). A step that only fetches (a layer's tables, a pool's per-position constants) runs alone.
    At least the busy time of the tile's bursts on the DDR and on each of the port's channels."""
    distinct, cur, many = run
    rows = [_stage_times(st, per_cycle, latency, cache) for st in distinct]
    loaded = computed = stored = 0.0  # when each unit is free
    before = [0.0, 0.0]  # the array and the output path on the step before last: (computed, stored)
    last = [0.0, 0.0]
    n, lo, fe, so = _lanes(per_cycle)
    used = [0.0] * n  # the DDR, each port's read channel and write channel
    for i, k in zip(cur.tolist(), many.tolist()):
        st, t = distinct[i], rows[i]
        for r in range(n):
            used[r] += k * (t[lo[r]] + t[fe[r]] + t[so[r]])
        alone = not (st.compute or st.load or st.store_r or st.store_w)  # a fetch alone: the pipeline waits for it
        for _ in range(k):
            if alone:
                stored = computed = loaded = max(loaded, computed, stored) + t[1]
                before = last = [stored, stored]
                continue
            loaded = max(loaded, before[0]) + t[0]
            computed = max(computed, loaded, before[1]) + max(t[2], t[1])
            stored = max(stored, computed) + t[3]
            before, last = last, [computed, stored]
    return max(loaded, computed, stored, *used)


def _pipeline_cycles(run: tuple, per_cycle, latency: int, cache: dict, mode: str | None = None,
                     before: Step | None = None) -> float:
    """One spatial tile's steps (``run``: :func:`_indexed` of its (how many, Step) runs in loop order)
    through the three-stage pipeline: load of step j+1 | fetch and compute of step j | output path of
    step j−1, each on its own buffer halves, all on one DDR and one port (a step takes at least the
    busy time of what runs beside it on the DDR and on each of the port's channels). ``mode`` None (the pipeline drains between tiles): the first load (beside the first
    fetch) and the last output path overlap nothing else. ``"pipelined"``: the tile's first step runs
    beside the output path of the tile before and its last step beside the next tile's first load
    (tiles alike: this one's own, or ``before``, the last step of the tile before where that tile is of
    another kind — a layer's short last row of tiles after the full ones; layer_totals counts one tile as if
    alone, for the fill and the drain).
    ``"resident"``: the first load waits for the tile before, but its output path overlaps this tile's
    first step. Every run's time is computed at once from a table of the distinct steps' stage times,
    and the times added in loop order (:func:`_in_order`)."""
    distinct, cur, runs_ = run
    if not cur.size:
        return 0.0
    rows = [_stage_times(st, per_cycle, latency, cache) for st in distinct]
    if before is not None:  # the last step of the tile before, of another kind (beside the first step)
        rows.append(_stage_times(before, per_cycle, latency, cache))
    none = len(rows)
    lanes, lo, fe, so = _lanes(per_cycle)
    table = np.array(rows + [(0.0,) * (4 + 3 * lanes)], dtype=np.float64).T  # table[stage][step]; the last: no step
    chained = mode == "pipelined"
    head, tail = table[:, cur[0]], table[:, cur[-1]]
    nxt = np.append(cur[1:], cur[0] if chained else none)  # the run after each, and before
    prv = np.concatenate(([none - 1 if before is not None and mode else cur[-1] if mode else none], cur[:-1]))
    first = np.zeros(cur.size, dtype=bool)
    first[0] = not chained

    # a step's time beside the steps before and after it, for four (before, step, after) choices at once:
    # as alone, and as the first, a middle and the last of a run of it
    p, c, n = (np.concatenate(v) for v in ((prv, prv, cur, cur), (cur,) * 4, (nxt, cur, cur, nxt)))
    firsts = np.concatenate((first, first, np.zeros(2 * cur.size, dtype=bool)))
    work = table[2][c] + np.where(firsts, 0.0, table[1][c])  # the first fetch runs beside the first load
    # beside: on the DDR and each port channel, the fetch of the step, the load after, the output path before
    beside = np.max([table[fe[k]][c] + table[lo[k]][n] + table[so[k]][p] for k in range(lanes)], axis=0)
    alone, head_, mid, last = np.split(np.maximum(np.maximum(work, table[0][n]), np.maximum(table[3][p], beside)), 4)
    repeated = head_ + (runs_ - 2) * mid + last
    start = (0.0 if chained else max(head[0], head[1])) + (0.0 if mode else tail[3])
    return _in_order(start, np.where(runs_ == 1, alone, repeated))


def _store(st: Step, per_cycle, latency: int) -> float:
    """The output path's time: its residual reads (per master) and its writes, each stream on its own
    outstanding requests (and its own port channel) but all on the one DDR (their busy time together,
    and a latency)."""
    both = merge(st.store_r, st.store_w)
    return max(*(stream(h, per_cycle, latency, occupied=occupancy(((h, m, w),), per_cycle))
                 for h, m, w in _store_parts(st)),
               busy(both, per_cycle) + latency if both else 0.0)


def layer_bursts(desc: dict, engine: dict, bus: int = BUS_BYTES, split: bool = False) -> int:
    """AXI bursts of one descriptor (per image) on masters of ``bus`` bytes a beat (of a split engine:
    ``split``)."""
    return _bursts(_timed_tiles(desc, engine, bus=bus, split=split))


def _bursts(timed: list) -> int:
    per_step: dict = {}  # id(step) -> its bursts: a tile's steps repeat per Tm tile and group
    total = 0
    for n, steps in timed:
        for many, st in steps:
            if id(st) not in per_step:
                per_step[id(st)] = sum(c for h in (st.load, st.fetch, st.store_r, st.store_w) for *_, c in h)
            total += n * many * per_step[id(st)]
    return total


def layer_cycles(desc: dict, engine: dict, per_cycle: Rates | float) -> float:
    """Estimated cycles of one descriptor at ``per_cycle`` (as layer_totals), for the tile and array
    search, which asks it of many alike descriptors (the blocks a network repeats, every array
    candidate): kept per :func:`_walk_key`. Descriptors of one key walk the same bursts but for where
    4 KiB boundaries fall, so the value may differ from this descriptor's layer_totals by the bursts a
    boundary splits (the alike-step placement of _conv_tile makes the same approximation); the
    program's figures (:func:`program_cost`) are walked for each descriptor itself."""
    key = (_walk_key(desc), json.dumps(engine, sort_keys=True), per_cycle)
    if key not in _CYCLES:
        if len(_CYCLES) >= _CYCLES_KEPT:
            _CYCLES.clear()
        _CYCLES[key] = layer_totals(desc, engine, per_cycle)[5]
    return _CYCLES[key]


_CYCLES: dict = {}
_CYCLES_KEPT = 1 << 16


#: the fields of a descriptor its walk reads (besides its views and blocks, kept whole): shapes, tiles,
#: geometry, types, offsets — not its names, zero points, multipliers or clamp bounds
_WALK_FIELDS = {"kind", "tile", "rows", "cols", "tm", "tn", "h", "w", "c", "pixel_stride", "channel_stride", "dtype",
                "offset", "count", "kernel", "strides", "dilations", "pads", "groups", "cin_per_group",
                "cout_per_group", "op"}


def _walk_key(desc: dict) -> str:
    """The descriptor's walked fields (_WALK_FIELDS) with each arena's offsets taken from its lowest
    one (which keeps its place in a 64-byte bus word): runs join by the offsets' differences within one
    port and beats count from bus words, so only where 4 KiB boundaries fall tells such descriptors
    apart."""
    found: dict = {"acts": [], "weights": []}

    def collect(v):
        if isinstance(v, dict):
            if "offset" in v:
                found["acts" if "pixel_stride" in v else "weights"].append(v["offset"])
            for x in v.values():
                collect(x)
        elif isinstance(v, list):
            for x in v:
                collect(x)

    collect(desc)
    shift = {k: min(o) - min(o) % BUS_BYTES if o else 0 for k, o in found.items()}

    def moved(v):
        if isinstance(v, dict):
            out = {k: moved(x) for k, x in v.items() if k in _WALK_FIELDS or isinstance(x, dict)
                   or (isinstance(x, list) and x and isinstance(x[0], dict))}
            if "offset" in v:
                out["offset"] = v["offset"] - shift["acts" if "pixel_stride" in v else "weights"]
            return out
        if isinstance(v, list):
            return [moved(x) for x in v]
        return v

    return json.dumps(moved(desc), sort_keys=True)


def layer_macs(desc: dict) -> int:
    """Multiply-accumulates of a conv / gemm descriptor (0 for the others)."""
    x, out = desc["inputs"][0], desc["output"]
    if desc["kind"] == "conv":
        kh, kw = desc["geometry"]["kernel"]
        return out["h"] * out["w"] * out["c"] * desc["geometry"]["cin_per_group"] * kh * kw
    if desc["kind"] == "gemm":
        return out["h"] * out["w"] * out["c"] * x["c"]
    return 0


def _post(desc: dict, pixels: int, channels: int) -> int:
    """Residual bytes the output path reads for one output tile."""
    return sum(pixels * channels * itemsize(p["residual"]["dtype"]) for p in desc["post"] if p["op"] == "add")


def _layer_consts(desc: dict, engine: dict, bus: int = BUS_BYTES) -> Step | None:
    """What a conv / gemm reads once before its tiles: its lookup tables and, with whole pixels
    (tiles.whole_pixels), the M and shift of every output channel, block by block (None: nothing)."""
    held = [desc["requant"]["M"], desc["requant"]["shift"]] if whole_pixels(desc, engine) else []
    n = desc["output"]["c"]
    nbytes = _tables(desc) + sum(n * itemsize(b["dtype"]) for b in held)
    fetch = merge(_table_bursts(desc, bus=bus), _blocks(0, n, *held, bus=bus))
    return Step(0, weights=nbytes, fetch=fetch,
                fetch_moves=_table_moves(desc, bus) + moves.blocks(0, n, *held, bus=bus)) if nbytes else None


def _table_blocks(desc: dict) -> list[dict]:
    """A layer's lookup tables: its post stages' and a lut layer's own (load_tables reads them in turn)."""
    return [p["table"] for p in desc["post"] if p["op"] == "lut"] + ([desc["table"]] if desc["kind"] == "lut" else [])


def _table_moves(desc: dict, bus: int) -> int:
    """Iterations of reading a layer's lookup tables (load_tables): a table's entries as one run each."""
    t = _table_blocks(desc)
    return sum(moves.blocks(0, b["count"], b, bus=bus) for b in t)


def _tables(desc: dict) -> int:
    t = _table_blocks(desc)
    return sum(b["count"] * itemsize(b["dtype"]) for b in t)


def layer_steps(desc: dict, engine: dict, bus: int = BUS_BYTES, split: bool = False) -> Iterator[Step]:
    """The double-buffered steps of one descriptor, in the executor's loop order. ``engine``: the
    program's engine section, whose input and weight buffers decide a convolution's mode (tiles.py);
    ``split``: a split engine's (its dense loads spread over the second masters)."""
    if desc["kind"] in ("conv", "gemm"):
        consts = _layer_consts(desc, engine, bus=bus)
        if consts:
            yield consts
        yield from _conv_steps(desc, engine, bus=bus, split=split)
        return
    for tile in _plain_tiles(desc, bus=bus, lanes=out_lanes(engine), split=split):
        yield from tile


def _timed_tiles(desc: dict, engine: dict, bus: int = BUS_BYTES,
                 split: bool = False) -> list[tuple[int, list[tuple[int, Step]]]]:
    """The spatial tiles of a descriptor as (how many alike, their (how many, Step) runs in loop order)."""
    if desc["kind"] in ("conv", "gemm"):
        consts = _layer_consts(desc, engine, bus=bus)
        return ([(1, [(1, consts)])] if consts else []) + _conv_groups(desc, engine, bus=bus, split=split)
    return [(1, [(1, st) for st in tile]) for tile in _plain_tiles(desc, bus=bus, lanes=out_lanes(engine), split=split)]


def out_lanes(engine: dict) -> int:
    """The engine's output-path lanes (``out_lanes``; 0 when the program names none: a bus word's)."""
    return int(engine.get("out_lanes", 0))


def _plain_tiles(desc: dict, bus: int = BUS_BYTES, lanes: int = 0, split: bool = False) -> Iterator[list[Step]]:
    """The steps of a layer other than conv / gemm, one list per spatial tile (a global pool: per
    channel tile), the lookup tables first; ``lanes``: the engine's out_lanes (:func:`out_lanes`);
    ``split``: a split engine's, whose window pools read their odd halo rows through acts_b
    (tiled/pool.h, memory.h load_rows_split)."""
    kind, t = desc["kind"], desc["tile"]
    x, out = desc["inputs"][0], desc["output"]
    tm, tn = t["tm"], t["tn"]
    xb = itemsize(x["dtype"])
    first = Step(0, weights=_tables(desc), fetch=_table_bursts(desc, bus=bus),
                 fetch_moves=_table_moves(desc, bus))  # loaded before the first tile
    if first.weights:
        yield [first]
    if kind in SERIAL:
        yield from _serial_tiles(desc, bus=bus, lanes=lanes)
        return
    for r0, r1 in spans(out["h"], t["rows"]):  # the window pools
        for q0, q1 in spans(out["w"], t["cols"]):
            px = (r1 - r0) * (q1 - q0)
            ys, xs = _grid(r0, r1, q0, q1)
            tile = []
            geo = desc["geometry"]
            (kh, kw), (sh, sw), (dh, dw) = geo["kernel"], geo["strides"], geo["dilations"]
            span_y, span_x = in_span(r0, r1, sh, dh, kh, geo["pads"][0]), in_span(q0, q1, sw, dw, kw, geo["pads"][1])
            ya, yb = clipped(*span_y, x["h"])
            xa, xe = clipped(*span_x, x["w"])
            ys_in, xs_in = _grid(ya, yb, xa, xe)
            odd = (ys_in - span_y[0]) % 2 == 1  # halo row yy through acts_b when odd (split)
            if kind == "avgpool":  # per-position M and shift, once per spatial tile
                tile.append(Step(0, weights=px * (itemsize(desc["requant"]["M"]["dtype"]) +
                                                  itemsize(desc["requant"]["shift"]["dtype"])),
                                 fetch=_consts(px, itemsize(desc["requant"]["M"]["dtype"]),
                                               itemsize(desc["requant"]["shift"]["dtype"])),
                                 fetch_moves=px))  # a position's M and shift an iteration
            for c0, c1 in spans(x["c"], tm):
                read, write, reads, writes = _pixel_output(desc, ys, xs, c0, c1 - c0)
                even, second = _halves([x], ys_in, xs_in, odd, c0, c1 - c0, bus, split)
                loads = {"load": merge(even, second), "aload_b": second}
                tile.append(Step(px * -(-(kh * kw) // tn), read=(yb - ya) * (xe - xa) * (c1 - c0) * xb + read,
                                 write=write, **loads,
                                 store_r=histogram(*runs(reads[0].ravel(), reads[1].ravel()), bus),
                                 store_w=histogram(*runs(writes[0].ravel(), writes[1].ravel()), bus),
                                 load_moves=moves.grid(x, np.arange(*span_y), np.arange(*span_x), c0, c1 - c0, bus, split),
                                 store_moves=moves.drain(out, _residuals(desc), px, c1 - c0, bus, lanes)))
            yield tile


def _serial_tiles(desc: dict, bus: int = BUS_BYTES, lanes: int = 0) -> Iterator[list[Step]]:
    """The steps of a layer whose load, compute and write are one loop (SERIAL): per spatial tile
    (a global pool: per channel tile). Its reads (one port, in loop order) may join into runs across
    steps, so the layer's reads and its writes are cut into bursts together, counted in its first
    step (the cost of a SERIAL layer is that of all its steps' bursts at once)."""
    kind, t = desc["kind"], desc["tile"]
    x, out = desc["inputs"][0], desc["output"]
    tm, tn = t["tm"], t["tn"]
    tiles: list[list[Step]] = []
    reads: list = []
    writes: list = []
    if kind in ("global_avgpool", "global_maxpool"):
        for c0, c1 in spans(x["c"], tm):
            tile = []
            for r0, r1 in spans(x["h"], t["rows"]):
                for q0, q1 in spans(x["w"], t["cols"]):
                    px = (r1 - r0) * (q1 - q0)
                    tile.append(Step(-(-px // tn), read=px * pixel_access.read_bytes(x, c1 - c0),
                                     load_moves=moves.pixel_reads(x, *_grid(r0, r1, q0, q1), c0, c1 - c0, bus)))
                    reads.append(pixel_access.in_order(pixel_access.pixel_reads(x, *_grid(r0, r1, q0, q1), c0, c1 - c0)))
            read, write, r, w = _pixel_output(desc, *_grid(0, 1, 0, 1), c0, c1 - c0)
            tile.append(Step(0, read=read, write=write, store_moves=moves.drain(out, _residuals(desc), 1, c1 - c0, bus, lanes)))
            reads.append(r)
            writes.append(w)
            tiles.append(tile)
    else:
        one = np.zeros(1, np.int64)
        gates = [v for v in desc["inputs"] if (v["h"], v["w"]) != (out["h"], out["w"])]  # a mul's 1x1xC gate
        per_pixel = [v for v in desc["inputs"] if (v["h"], v["w"]) == (out["h"], out["w"])]
        for r0, r1 in spans(out["h"], t["rows"]):
            for q0, q1 in spans(out["w"], t["cols"]):
                px = (r1 - r0) * (q1 - q0)
                ys, xs = _grid(r0, r1, q0, q1)
                tile = []
                for c0, c1 in spans(out["c"], tm):  # add, requant, lut, mul
                    n = c1 - c0
                    consts, fetch, loops = 0, (), 0
                    if kind == "requant":
                        rq = desc["requant"]
                        blocks = [rq[k] for k in ("pre", "M", "shift")]
                        consts = n * sum(itemsize(b["dtype"]) for b in blocks)
                        fetch = _blocks(c0, n, *blocks, bus=bus)
                        loops = moves.blocks(c0, n, *blocks, bus=bus)
                    read, write, r, w = _pixel_output(desc, ys, xs, c0, n)
                    # the gate's n values once per tile, then per pixel each input, the residuals, the write
                    reads.append(pixel_access.in_order(*(pixel_access.pixel_reads(g, one, one, c0, n) for g in gates)))
                    reads.append(pixel_access.in_order(*(pixel_access.pixel_reads(v, ys, xs, c0, n) for v in per_pixel),
                                                       (r[0].reshape(px, -1), r[1].reshape(px, -1))))
                    writes.append(w)
                    read += (sum(pixel_access.read_bytes(g, n) for g in gates)
                             + px * sum(pixel_access.read_bytes(v, n) for v in per_pixel))
                    # per pixel: each input's read, the lanes (the compute), the output path, in turn
                    reading = (sum(moves.pixel_reads(g, one, one, c0, n, bus) for g in gates)
                               + sum(moves.pixel_reads(v, ys, xs, c0, n, bus) for v in per_pixel))
                    tile.append(Step(px, weights=consts, read=read, write=write, fetch=fetch, fetch_moves=loops,
                                     load_moves=reading, store_moves=moves.drain(out, _residuals(desc), px, n, bus, lanes)))
                tiles.append(tile)
    if tiles and tiles[0]:
        flat = lambda parts: [np.concatenate([p[k].ravel() for p in parts]) if parts else np.zeros(0, np.int64)
                              for k in (0, 1)]
        tiles[0][0].load = histogram(*runs(*flat(reads)), bus)
        tiles[0][0].store_w = histogram(*runs(*flat(writes)), bus)
    yield from tiles


def _adds(desc: dict) -> list[dict]:
    return [p for p in desc["post"] if p["op"] == "add"]


def _residuals(desc: dict) -> list[dict]:
    return [p["residual"] for p in _adds(desc)]


def _pixel_output(desc: dict, ys, xs, c0: int, cn: int) -> tuple:
    """The output path of a pixel unit (tiled/pixels.h finish_pixel) for pixels (ys, xs), channels
    [c0, c0+cn): per pixel the residuals lane by lane, then the pixel's write (a span rewritten, or
    a run, or element bursts: pixel_access). (bytes read, bytes written, reads, writes); reads and
    writes as (offsets, bytes) tables, one row per pixel."""
    out = desc["output"]
    (ro, rb), (wo, wb) = pixel_access.pixel_writes(out, ys, xs, c0, cn)
    res = pixel_access.element_reads(_residuals(desc), ys, xs, c0, cn)
    reads = (np.concatenate([res[0], ro], 1), np.concatenate([res[1], rb], 1))
    return _post(desc, len(ys), cn) + int(rb.sum()), int(wb.sum()), reads, (wo, wb)


def _grid(y0: int, y1: int, x0: int, x1: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of the pixels of [y0, y1) × [x0, x1), row-major; kept (the walk asks for the
    same tiles per Tm tile, tile size and array candidate), so read only, and known to :func:`_access`
    by its arrays' identity (both kept in _GRIDS, so no other array can take their ids meanwhile)."""
    key = (y0, y1, x0, x1)
    if key not in _GRIDS:
        if len(_GRIDS) >= _GRIDS_KEPT:
            _GRIDS.clear()
            _GRID_OF.clear()
        ys, xs = np.meshgrid(np.arange(y0, y1, dtype=np.int64), np.arange(x0, x1, dtype=np.int64), indexing="ij")
        ys, xs = ys.ravel(), xs.ravel()
        ys.flags.writeable = xs.flags.writeable = False
        _GRIDS[key] = ys, xs
        _GRID_OF[id(ys), id(xs)] = key
    return _GRIDS[key]


_GRIDS: dict = {}
_GRID_OF: dict = {}  # (id(ys), id(xs)) of a kept grid -> its corners
_GRIDS_KEPT = 1 << 12


def _access(views: list[dict], ys, xs, c0: int, cn: int, bus: int = BUS_BYTES) -> tuple:
    """The bursts of reading (or writing) channels [c0, c0+cn) of pixels (ys, xs) in that order,
    channels fastest, each element of every view in turn (one port: views read element by element
    in turn break each other's runs). Kept per exact argument (the tile and array search asks for the
    same halo and output tiles again and again, for every tile size and array candidate)."""
    ys, xs = np.asarray(ys, dtype=np.int64), np.asarray(xs, dtype=np.int64)
    if not views or not ys.size or cn <= 0:
        return ()
    where = _GRID_OF.get((id(ys), id(xs)))  # a kept grid: its corners; other pixels: a digest of them
    if where is None:
        digest = hashlib.blake2b(ys.tobytes(), digest_size=16)
        digest.update(xs.tobytes())
        where = (ys.size, xs.size, digest.digest())
    key = (tuple((v["offset"], v["w"], v["pixel_stride"], v.get("channel_stride", 1), v["dtype"]) for v in views),
           where, c0, cn, bus)
    if key not in _ACCESSES:
        if len(_ACCESSES) >= _ACCESSES_KEPT:
            _ACCESSES.clear()
        _ACCESSES[key] = _walk_access(views, ys, xs, c0, cn, bus=bus)
    return _ACCESSES[key]


_ACCESSES: dict = {}
_ACCESSES_KEPT = 1 << 15


def _walk_access(views: list[dict], ys: np.ndarray, xs: np.ndarray, c0: int, cn: int,
                 bus: int = BUS_BYTES) -> tuple:
    if len(views) == 1 and views[0].get("channel_stride", 1) == 1:  # a pixel's channels are one access
        v = views[0]
        ib = itemsize(v["dtype"])
        return histogram(*runs(v["offset"] + ((ys * v["w"] + xs) * v["pixel_stride"] + c0) * ib, cn * ib), bus)
    ch = c0 + np.arange(cn, dtype=np.int64)
    offs, sizes = [], []
    for v in views:
        ib = itemsize(v["dtype"])
        o = v["offset"] + (((ys * v["w"] + xs) * v["pixel_stride"])[:, None] + ch[None, :] * v.get("channel_stride", 1)) * ib
        offs.append(o.ravel())
        sizes.append(np.full(o.size, ib, dtype=np.int64))
    return histogram(*runs(np.stack(offs, 1).ravel(), np.stack(sizes, 1).ravel()), bus)


def _consts(n: int, *sizes: int) -> tuple:
    """n positions' constants of several blocks read in turn, position by position: a one-beat burst each."""
    return merge(*(((b, 1, n),) for b in sizes))


def _blocks(first: int, n: int, *blocks: dict, bus: int = BUS_BYTES) -> tuple:
    """Values [first, first + n) of each block, read block by block: one run each, but a block's values
    that start where the previous block's end join its run (a Tm tile of all of a layer's channels
    reads its bias, M and shift, stored one after the other, as one run)."""
    starts = [b["offset"] + first * itemsize(b["dtype"]) for b in blocks]
    sizes = [n * itemsize(b["dtype"]) for b in blocks]
    joined = runs(starts, sizes)
    if not blocks or n <= 0:
        return ()
    return merge(*(_one_run(s, k, bus=bus) for s, k in zip(*(a.tolist() for a in joined)) if k))


def _one_run(start: int, nbytes: int, bus: int = BUS_BYTES) -> tuple:
    """ddr.histogram of the one run [start, start + nbytes): its bursts repeat every 4 KiB of start."""
    return _one_run_at(start % BOUNDARY, nbytes, bus)


@functools.lru_cache(maxsize=1 << 16)
def _one_run_at(start: int, nbytes: int, bus: int = BUS_BYTES) -> tuple:
    return histogram(*runs([start], nbytes), bus)


def _table_bursts(desc: dict, bus: int = BUS_BYTES) -> tuple:
    t = _table_blocks(desc)
    return merge(*(_one_run(b["offset"], b["count"] * itemsize(b["dtype"]), bus=bus) for b in t))


def _im2col_bytes(x: dict, geo: dict, r0: int, r1: int, q0: int, q1: int) -> int:
    """Bytes of the input a tile's output pixels read through its taps from inside the image
    (tiles.inside), for all of a group's channels: a sampled 1 × 1 tile's pixels."""
    (kh, kw), (sh, sw), (dh, dw), pads = geo["kernel"], geo["strides"], geo["dilations"], geo["pads"]
    rows = sum(b - a for a, b in (inside(r0, r1, sh, ky * dh - pads[0], x["h"]) for ky in range(kh)))
    cols = sum(b - a for a, b in (inside(q0, q1, sw, kx * dw - pads[1], x["w"]) for kx in range(kw)))
    return rows * cols * geo["cin_per_group"] * itemsize(x["dtype"])


def _conv_geometry(desc: dict) -> dict:
    if desc["kind"] == "gemm":
        x, out = desc["inputs"][0], desc["output"]
        return {"kernel": [1, 1], "strides": [1, 1], "dilations": [1, 1], "pads": [0, 0, 0, 0], "groups": 1,
                "cin_per_group": x["c"], "cout_per_group": out["c"]}
    return desc["geometry"]


def _conv_steps(desc: dict, engine: dict, bus: int = BUS_BYTES, split: bool = False) -> Iterator[Step]:
    t, out = desc["tile"], desc["output"]
    geo = _conv_geometry(desc)
    for r0, r1 in spans(out["h"], t["rows"]):
        for q0, q1 in spans(out["w"], t["cols"]):
            for many, step in _conv_tile(desc, engine, geo, r0, r1, q0, q1, bus=bus, split=split):
                for _ in range(many):
                    yield step


def _conv_groups(desc: dict, engine: dict, bus: int = BUS_BYTES,
                 split: bool = False) -> list[tuple[int, list[tuple[int, Step]]]]:
    """The spatial tiles of a conv / gemm descriptor as (how many, the (how many, step) runs of one):
    tiles whose rows and columns clip alike against the image move the same bytes, so each kind is
    walked once."""
    t, x, out = desc["tile"], desc["inputs"][0], desc["output"]
    geo = _conv_geometry(desc)
    (kh, kw), (sh, sw), (dh, dw), pads = geo["kernel"], geo["strides"], geo["dilations"], geo["pads"]

    def kinds(n_out, step, s, d, k, pad, size):
        seen: dict = {}
        for o0, o1 in spans(n_out, step):
            a, b = clipped(*in_span(o0, o1, s, d, k, pad), size)
            taps = tuple(inside(o0, o1, s, i * d - pad, size) for i in range(k))
            key = (o1 - o0, b - a, tuple(e - f for f, e in taps))
            seen.setdefault(key, [o0, o1, 0])[2] += 1
        return list(seen.values())

    groups = []
    for r0, r1, nr in kinds(out["h"], t["rows"], sh, dh, kh, pads[0], x["h"]):
        for q0, q1, nq in kinds(out["w"], t["cols"], sw, dw, kw, pads[1], x["w"]):
            groups.append((nr * nq, list(_conv_tile(desc, engine, geo, r0, r1, q0, q1, bus=bus, split=split))))
    return groups


def _runs(spans_: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """(width, how many) of consecutive spans, in order: [(tm, k), (short, 1)] for spans of ``tm``."""
    out: list = []
    for a, b in spans_:
        if out and out[-1][0] == b - a:
            out[-1][1] += 1
        else:
            out.append([b - a, 1])
    return [tuple(r) for r in out]


def _held(desc: dict, geo: dict, r0: int, r1: int, q0: int, q1: int) -> int:
    """Pixels of a dense spatial tile's input tile on chip: the halo, padding included, or only the
    pixels a sampled 1x1 convolution reads."""
    if sampled_input(desc, geo):
        return (r1 - r0) * (q1 - q0)
    (kh, kw), (sh, sw), (dh, dw) = geo["kernel"], geo["strides"], geo["dilations"]
    hy, hx = in_span(r0, r1, sh, dh, kh, 0), in_span(q0, q1, sw, dw, kw, 0)
    return (hy[1] - hy[0]) * (hx[1] - hx[0])


def span_overlap(desc: dict, engine: dict) -> str | None:
    """How a layer's spatial tiles follow one another (tiled/conv.h): ``"pipelined"`` for a dense or
    grouped conv / gemm, whose pipeline runs on from one spatial tile into the next (its first load
    beside the array on the tile before, its last output path beside the next tile's steps; a
    resident input in input half n % 2 for spatial tile n); ``"resident"`` when some tiles keep their
    input resident and others do not, so a tile's first load waits for the array on the tile before
    (the halves they use differ); None (the pipeline drains) for the other layers."""
    if desc["kind"] not in ("conv", "gemm"):
        return None
    geo = _conv_geometry(desc)
    if is_depthwise(geo):
        return None
    t, out = desc["tile"], desc["output"]
    rows = {r1 - r0: (r0, r1) for r0, r1 in spans(out["h"], t["rows"])}
    cols = {q1 - q0: (q0, q1) for q0, q1 in spans(out["w"], t["cols"])}  # the held area depends on the size only
    kept = {input_resident(desc, geo, _held(desc, geo, *r, *q), engine) for r in rows.values() for q in cols.values()}
    return "resident" if len(kept) > 1 else "pipelined"


def _conv_tile(desc: dict, engine: dict, geo: dict, r0: int, r1: int, q0: int, q1: int,
               bus: int = BUS_BYTES, split: bool = False) -> Iterator[tuple[int, Step]]:
    """The steps of one spatial tile (output rows [r0, r1), columns [q0, q1)) as (how many, step) runs
    in loop order. The bursts are those of the first group and Tm tile (the others differ only by
    where their bytes start). ``split``: a split engine's, whose dense loads read their odd input rows
    through acts_b and the second half of their weight run through weights_b (:func:`_split_loads`)."""
    t, x, out, rq = desc["tile"], desc["inputs"][0], desc["output"], desc["requant"]
    tm, tn = t["tm"], t["tn"]
    (kh, kw), (sh, sw), (dh, dw), pads = geo["kernel"], geo["strides"], geo["dilations"], geo["pads"]
    g, cg, mg, k = geo["groups"], geo["cin_per_group"], geo["cout_per_group"], kh * kw
    xb, ob, wb = itemsize(x["dtype"]), itemsize(out["dtype"]), itemsize(desc["weights"]["dtype"])
    bias_b = itemsize(rq["bias"]["dtype"])
    tail_b = itemsize(rq["M"]["dtype"]) + itemsize(rq["shift"]["dtype"])
    # block by block, from the Tm tile's first channel: read with its first load (depthwise: its load)
    consts = (rq["bias"], rq["M"], rq["shift"])
    ya, yb = clipped(*in_span(r0, r1, sh, dh, kh, pads[0]), x["h"])
    xa, xe = clipped(*in_span(q0, q1, sw, dw, kw, pads[1]), x["w"])
    area, px = (yb - ya) * (xe - xa), (r1 - r0) * (q1 - q0)
    oy, ox = _grid(r0, r1, q0, q1)
    adds = [p["residual"] for p in _adds(desc)]
    w0 = desc["weights"]["offset"]
    halo_y = np.arange(*in_span(r0, r1, sh, dh, kh, pads[0]))  # the halo's rows and columns, padding included
    halo_x = np.arange(*in_span(q0, q1, sw, dw, kw, pads[1]))

    def weights(nbytes):
        return _one_run(w0, nbytes, bus=bus) if nbytes else ()

    def output(n):
        return {**_residual_reads(adds, oy, ox, n, bus, split), "store_w": _access([out], oy, ox, 0, n, bus=bus),
                "store_moves": moves.drain(out, adds, px, n, bus, out_lanes(engine))}

    def weight_moves(a, nbytes):  # a weight run's iterations from byte a of the weights block
        return moves.run(w0 + a, nbytes, bus, split)

    def loads(inputs, wl):  # a step's load: its input, and its weights and constants (Step.wload)
        return {"load": merge(inputs, wl), "wload": wl}

    def dense_loads(inputs, consts, nbytes):  # a dense step's: ``inputs`` (even rows, odd rows), its weight run
        if not split:
            return loads(inputs[0], merge(consts, weights(nbytes)))
        return _split_loads(inputs, consts, w0, nbytes, bus)

    def pixels(ys, xs, odd, c0, cn):  # the input pixels (ys, xs) a load reads: (even rows, odd rows)
        return _halves([x], ys, xs, odd, c0, cn, bus, split)

    if is_depthwise(geo):
        for o0, o1 in spans(g * mg, tm):
            n = o1 - o0
            chans = (o1 - 1) // mg + 1 - o0 // mg
            yield 1, Step(px * -(-k // tn), weights=n * (k * wb + bias_b + tail_b),
                          read=area * chans * xb + _post(desc, px, n), write=px * n * ob,
                          **loads(_access([x], *_grid(ya, yb, xa, xe), o0 // mg, chans, bus=bus),
                                  merge(_blocks(0, n, *consts, bus=bus), weights(n * k * wb))), **output(n),
                          load_moves=moves.blocks(o0, n, *consts, bus=bus)
                          + moves.grid(x, halo_y, halo_x, o0 // mg, chans, bus)
                          + moves.run(w0 + o0 * k * wb, n * k * wb, bus))
        return
    post, ob_tile = _post, ob
    if whole_pixels(desc, engine):  # the layer's M and shift held (_layer_consts), the output path per spatial tile
        tail_b, consts, ob_tile = 0, (rq["bias"],), 0
        post, output = (lambda *_: 0), (lambda n: {})
    if tap_parallel(desc, engine):  # one step per Tm tile: Tn (tap, channel) pairs a cycle
        # tap_load: per output row, per kernel row, the input row's columns the taps span (in the image)
        iy = (np.arange(r0, r1)[:, None] * sh - pads[0] + np.arange(kh)[None, :] * dh).ravel()
        odd = np.arange(iy.size) % 2 == 1  # read (py, ky) through acts_b when py·KH + ky is odd
        keep = (iy >= 0) & (iy < x["h"])
        # its moves: each (py, ky) halo row walked once, padding where the image is not (split: in pairs)
        tap_moves = moves.tap_rows(x, iy, int(halo_x[0]), halo_x.size, 0, cg, bus, split)
        iy, odd = iy[keep], odd[keep]
        cols = np.arange(xa, xe, dtype=np.int64)
        ys, xs = np.repeat(iy, cols.size), np.tile(cols, iy.size)
        im2col = ys.size * cg * xb
        taps = pixels(ys, xs, np.repeat(odd, cols.size), 0, cg)
        kinds = [(n, many, Step(px * -(-(k * cg) // tn), weights=k * n * cg * wb + n * (bias_b + tail_b),
                                read=im2col + post(desc, px, n), write=px * n * ob_tile,
                                **dense_loads(taps, _blocks(0, n, *consts, bus=bus), k * n * cg * wb),
                                **output(n), load_moves=moves.blocks(0, n, *consts, bus=bus)  # then side by side:
                                + max(tap_moves, weight_moves(0, k * n * cg * wb))))
                 for n, many in _runs(spans(mg, tm))]
        for _ in range(g):
            for n, many, st in kinds:
                yield many, st
        yield from _whole_output(desc, engine, px, oy, ox, bus=bus, split=split)
        return
    held = _held(desc, geo, r0, r1, q0, q1)
    if sampled_input(desc, geo):  # only the pixels a 1x1 convolution reads
        area = _im2col_bytes(x, geo, r0, r1, q0, q1) // (cg * xb)
        rows = [y for y in range(r0 * sh - pads[0], (r1 - 1) * sh - pads[0] + 1, sh) if 0 <= y < x["h"]]
        cols = [c for c in range(q0 * sw - pads[1], (q1 - 1) * sw - pads[1] + 1, sw) if 0 <= c < x["w"]]
        ys, xs = (a.ravel() for a in np.meshgrid(np.array(rows, dtype=np.int64), np.array(cols, dtype=np.int64),
                                                 indexing="ij"))
    else:
        ys, xs = _grid(ya, yb, xa, xe)
    # the load's row index yy (0: its span's first row, padding included; sampled: every sh-th row)
    odd = (ys - (r0 * sh - pads[0])) // (sh if sampled_input(desc, geo) else 1) % 2 == 1
    resident = input_resident(desc, geo, held, engine)
    ms = _runs(spans(mg, tm))
    if resident:  # the group's first Tm tile reads the input, the others none
        first, rest = ms[0][0], [(ms[0][0], ms[0][1] - 1)] + ms[1:]
        kinds = [(first, 1, True)] + [(n, many, False) for n, many in rest if many]
    else:
        kinds = [(n, many, True) for n, many in ms]
    # steps of G Tn tiles (tiles_per_step): the first (bias), the middle ones, the last (M, shift, output path)
    cs = spans(cg, tiles_per_step(desc, geo, engine) * tn)
    steps = [(1, *cs[0], True, len(cs) == 1)]
    steps += [(len(cs) - 2, *cs[1], False, False)] if len(cs) > 2 else []
    steps += [(1, *cs[-1], False, True)] if len(cs) > 1 else []
    # a step's input: each pixel's channels [c0, c1) in turn, one run a pixel (a row when they are all of its)
    halo = {(c0, c1): pixels(ys, xs, odd, c0, c1 - c0) for _, c0, c1, _, _ in steps}
    if sampled_input(desc, geo):  # the load's rows and columns in order, padding included: its moves
        load_y, load_x = r0 * sh - pads[0] + np.arange(r1 - r0) * sh, q0 * sw - pads[1] + np.arange(q1 - q0) * sw
    else:
        load_y, load_x = halo_y, halo_x
    halo_moves = {(c0, c1): moves.grid(x, load_y, load_x, c0, c1 - c0, bus, split) for _, c0, c1, _, _ in steps}
    tiles = []
    for n, many, reads in kinds:  # every group alike; the constants are read where the Tm tile starts
        tiles.append((many, [(times, Step(px * k * -(-(c1 - c0) // tn),
                                          weights=k * n * (c1 - c0) * wb + (n * bias_b if first else 0)
                                          + (n * tail_b if last else 0),
                                          read=(area * (c1 - c0) * xb if reads else 0) + (post(desc, px, n) if last else 0),
                                          write=px * n * ob_tile if last else 0,
                                          **dense_loads(halo[c0, c1] if reads else ((), ()),
                                                        _blocks(0, n, *consts, bus=bus) if first else (),
                                                        k * n * (c1 - c0) * wb),
                                          **(output(n) if last else {}),
                                          load_moves=(moves.blocks(0, n, *consts, bus=bus) if first else 0)
                                          + max(halo_moves[c0, c1] if reads else 0,  # input beside weights
                                                weight_moves(n * c0 * k * wb, k * n * (c1 - c0) * wb))))
                             for times, c0, c1, first, last in steps]))
    for _ in range(g):
        for many, tile in tiles:
            for _ in range(many):
                yield from tile
    yield from _whole_output(desc, engine, px, oy, ox, bus=bus, split=split)


def _split_loads(inputs: tuple, consts: tuple, w0: int, nbytes: int, bus: int) -> dict:
    """A split engine's dense load (Step fields): its input rows ``inputs`` (even, odd: the odd through
    acts_b), its constants (weights) and its weight run of ``nbytes`` from ``w0``, whose first
    moves.first_half(nbytes) bytes go through weights and the rest through weights_b (ports.split)."""
    half = moves.first_half(nbytes)
    wl = merge(consts, _one_run(w0, half, bus=bus) if half else ())
    wb = _one_run(w0 + half, nbytes - half, bus=bus) if nbytes > half else ()
    return {"load": merge(inputs[0], inputs[1], wl, wb), "wload": wl, "wload_b": wb, "aload_b": inputs[1]}


def _halves(views: list[dict], ys, xs, odd, c0: int, cn: int, bus: int, split: bool) -> tuple[tuple, tuple]:
    """The bursts of reading channels [c0, c0+cn) of pixels (ys, xs) of ``views`` (:func:`_access`) as
    (through the first master, through the second): a split engine's pixels where ``odd`` holds through
    the second (acts_b), the rest through the first; all through the first otherwise."""
    if not split:
        return _access(views, ys, xs, c0, cn, bus=bus), ()
    return _access(views, ys[~odd], xs[~odd], c0, cn, bus=bus), _access(views, ys[odd], xs[odd], c0, cn, bus=bus)


def _residual_reads(adds: list[dict], oy, ox, n: int, bus: int, split: bool) -> dict:
    """A conv output path's residual reads of pixels (oy, ox), channels [0, n) (Step fields): all of
    them in ``store_r``; a split engine's odd output rows through acts_b (drain.h), those also in
    ``store_rb``."""
    first, second = _halves(adds, oy, ox, oy % 2 == 1, 0, n, bus, split and bool(adds))
    return {"store_r": merge(first, second), "store_rb": second}


def _whole_output(desc: dict, engine: dict, px: int, oy, ox, bus: int = BUS_BYTES,
                  split: bool = False) -> Iterator[tuple[int, Step]]:
    """With whole pixels (tiles.whole_pixels), the output path of a spatial tile's ``px`` pixels (oy, ox)
    after its Tm tiles: pixel by pixel all of its channels, the residuals read and the pixel written a
    run each (a row one run when they are all of its channels; conv.h drain, whole)."""
    if not whole_pixels(desc, engine):
        return
    out, c = desc["output"], desc["output"]["c"]
    yield 1, Step(0, read=_post(desc, px, c), write=px * c * itemsize(out["dtype"]),
                  **_residual_reads(_residuals(desc), oy, ox, c, bus, split), store_w=_access([out], oy, ox, 0, c, bus=bus),
                  whole=True, store_moves=moves.drain(out, _residuals(desc), px, c, bus, out_lanes(engine)))
