"""Cycles and DDR bytes per layer of a tiled-engine program: estimates, from the program alone.

The array does Tm × Tn multiply-accumulates a cycle at II = 1: a dense convolution tile of
rows × cols output pixels takes rows · cols · KH · KW cycles per (Tm tile, Tn tile); depthwise mode
and the window pools take rows · cols · ⌈KH·KW / Tn⌉ per Tm tile (Tn kernel taps at a time);
elementwise layers rows · cols per Tm tile; a global pool ⌈rows · cols / Tn⌉ per input tile.

DDR bytes are exactly what the loop order of :mod:`fpga_accel.tiled.engine` reads and writes (a
test compares them with the executor's counted accesses): weight blocks once per spatial tile,
input tiles with their halo once per output-channel tile (the part inside the image; padding is
made on chip), per-channel constants once per output tile, lookup tables once per layer, outputs
and residual tiles once. Transfer cycles divide those bytes by the board's DDR bandwidth
(``ddr_gbps`` in fold/boards/*.json) times :data:`BURST_EFFICIENCY`, at the engine's clock.

Double buffering overlaps the loads of one step with the compute of the previous one, so a layer
takes the first step's transfer (nothing to overlap it with) plus, per step, the larger of its
compute and transfer cycles. A layer whose transfers outweigh its compute is memory-bound.
"""
from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass

from ..errors import InputError
from .program import Program, itemsize
from .tiles import clipped, in_span, input_resident, inside, is_depthwise, sampled_input, spans, tap_parallel

#: Share of the peak DDR bandwidth long sequential bursts sustain. Source: AMD UG585 (Zynq 7000 SoC
#: TRM), "DDR Efficiency": the PS DDR controller "was designed to have a maximum efficiency of
#: approximately 75%" (measured 87 % for mixed sequential reads and writes, 97 % reads alone).
#: Used for every board: an assumption for the UltraScale+ PS and the card memory controllers.
BURST_EFFICIENCY = 0.75


@dataclass
class Step:
    """One double-buffered step: compute cycles and the bytes it moves."""

    compute: int
    weights: int = 0
    read: int = 0
    write: int = 0


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
                "burst_efficiency": self.burst_efficiency, "tm": self.tm, "tn": self.tn, "cycles": self.cycles,
                "fps": self.fps, "efficiency": self.efficiency, "ddr_gbs": self.ddr_gbs,
                "layers": [{**asdict(lay), "ddr_bytes": lay.ddr_bytes} for lay in self.layers]}


def program_cost(program: Program, board, clock_mhz: float | None = None,
                 burst_efficiency: float = BURST_EFFICIENCY) -> ProgramCost:
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
    per_cycle = ddr_bytes_per_cycle(b, clock, burst_efficiency)
    layers = []
    for desc in program.layers:
        compute, wbytes, rbytes, written, transfer, cycles = layer_totals(desc, program.engine, per_cycle)
        layers.append(LayerCost(desc["name"], desc["kind"], layer_macs(desc), compute, wbytes, rbytes, written,
                                transfer, cycles, "memory" if transfer > compute else "compute"))
    e = program.engine
    return ProgramCost(b.name, clock, float(b.ddr_gbps), burst_efficiency, e["tm"], e["tn"], layers)


def ddr_bytes_per_cycle(board, clock_mhz: float | None = None, burst_efficiency: float = BURST_EFFICIENCY) -> float:
    """DDR bytes a cycle of the engine's clock (default: the board's) at ``burst_efficiency``."""
    return board.ddr_gbps * 1e9 * burst_efficiency / (float(clock_mhz or board.clock_mhz) * 1e6)


def layer_totals(desc: dict, engine: dict, per_cycle: float) -> tuple[int, int, int, int, float, float]:
    """(compute cycles, weight bytes, read bytes, written bytes, transfer cycles, cycles) of one
    descriptor at ``per_cycle`` DDR bytes a cycle: the sums over :func:`layer_steps`, a convolution's
    alike spatial tiles walked once (_conv_groups)."""
    if desc["kind"] not in ("conv", "gemm"):
        groups = [(1, list(layer_steps(desc, engine)))]
    else:
        tables = _tables(desc)
        groups = ([(1, [Step(0, weights=tables)])] if tables else []) + _conv_groups(desc, engine)
    first = next(iter(layer_steps(desc, engine)), Step(0))  # its transfer overlaps nothing
    tot = [0, 0, 0, 0, 0.0, (first.weights + first.read + first.write) / per_cycle]
    for n, steps in groups:
        for st in steps:
            moved = (st.weights + st.read + st.write) / per_cycle
            tot[0] += n * st.compute
            tot[1] += n * st.weights
            tot[2] += n * st.read
            tot[3] += n * st.write
            tot[4] += n * moved
            tot[5] += n * max(st.compute, moved)
    return tuple(tot)


def layer_cycles(desc: dict, engine: dict, per_cycle: float) -> float:
    """Estimated cycles of one descriptor at ``per_cycle`` DDR bytes a cycle."""
    return layer_totals(desc, engine, per_cycle)[5]


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


def _tables(desc: dict) -> int:
    t = [p["table"] for p in desc["post"] if p["op"] == "lut"] + ([desc["table"]] if desc["kind"] == "lut" else [])
    return sum(b["count"] * itemsize(b["dtype"]) for b in t)


def layer_steps(desc: dict, engine: dict) -> Iterator[Step]:
    """The double-buffered steps of one descriptor, in the executor's loop order. ``engine``: the
    program's engine section, whose input and weight buffers decide a convolution's mode (tiles.py)."""
    kind, t = desc["kind"], desc["tile"]
    x, out = desc["inputs"][0], desc["output"]
    tm, tn = t["tm"], t["tn"]
    xb, ob = itemsize(x["dtype"]), itemsize(out["dtype"])
    first = Step(0, weights=_tables(desc))  # lookup tables, loaded before the first tile
    if first.weights:
        yield first
    if kind in ("global_avgpool", "global_maxpool"):
        for c0, c1 in spans(x["c"], tm):
            for r0, r1 in spans(x["h"], t["rows"]):
                for q0, q1 in spans(x["w"], t["cols"]):
                    yield Step(-(-((r1 - r0) * (q1 - q0)) // tn), read=(r1 - r0) * (q1 - q0) * (c1 - c0) * xb)
            yield Step(0, read=_post(desc, 1, c1 - c0), write=(c1 - c0) * ob)
        return
    if kind in ("conv", "gemm"):
        yield from _conv_steps(desc, engine)
        return
    for r0, r1 in spans(out["h"], t["rows"]):
        for q0, q1 in spans(out["w"], t["cols"]):
            px = (r1 - r0) * (q1 - q0)
            if kind in ("maxpool", "avgpool"):
                geo = desc["geometry"]
                (kh, kw), (sh, sw), (dh, dw) = geo["kernel"], geo["strides"], geo["dilations"]
                ya, yb = clipped(*in_span(r0, r1, sh, dh, kh, geo["pads"][0]), x["h"])
                xa, xe = clipped(*in_span(q0, q1, sw, dw, kw, geo["pads"][1]), x["w"])
                if kind == "avgpool":  # per-position M and shift, once per spatial tile
                    yield Step(0, weights=px * (itemsize(desc["requant"]["M"]["dtype"]) +
                                                itemsize(desc["requant"]["shift"]["dtype"])))
                for c0, c1 in spans(x["c"], tm):
                    yield Step(px * -(-(kh * kw) // tn), read=(yb - ya) * (xe - xa) * (c1 - c0) * xb
                               + _post(desc, px, c1 - c0), write=px * (c1 - c0) * ob)
                continue
            for c0, c1 in spans(out["c"], tm):  # add, requant, lut, mul
                n = c1 - c0
                consts = 0
                if kind == "requant":
                    rq = desc["requant"]
                    consts = n * sum(itemsize(rq[k]["dtype"]) for k in ("pre", "M", "shift"))
                # a mul's 1x1xC channel gate: its n values once per tile
                whole = [px if (v["h"], v["w"]) == (out["h"], out["w"]) else 1 for v in desc["inputs"]]
                yield Step(px, weights=consts, read=sum(k * n * itemsize(v["dtype"]) for k, v in zip(whole, desc["inputs"]))
                           + _post(desc, px, n), write=px * n * ob)


def _im2col_bytes(x: dict, geo: dict, r0: int, r1: int, q0: int, q1: int) -> int:
    """Bytes a tap-parallel tile reads: for every tap, the input its output pixels read through it
    from inside the image (tiles.inside), for all of a group's channels."""
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


def _conv_steps(desc: dict, engine: dict) -> Iterator[Step]:
    t, out = desc["tile"], desc["output"]
    geo = _conv_geometry(desc)
    for r0, r1 in spans(out["h"], t["rows"]):
        for q0, q1 in spans(out["w"], t["cols"]):
            for many, step in _conv_tile(desc, engine, geo, r0, r1, q0, q1):
                for _ in range(many):
                    yield step


def _conv_groups(desc: dict, engine: dict) -> list[tuple[int, list[Step]]]:
    """The spatial tiles of a conv / gemm descriptor as (how many, the steps of one): tiles whose rows
    and columns clip alike against the image move the same bytes, so each kind is walked once."""
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
            groups += [(nr * nq * many, [step]) for many, step in _conv_tile(desc, engine, geo, r0, r1, q0, q1)]
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


def _conv_tile(desc: dict, engine: dict, geo: dict, r0: int, r1: int, q0: int, q1: int) -> Iterator[tuple[int, Step]]:
    """The steps of one spatial tile (output rows [r0, r1), columns [q0, q1)) as (how many, step) runs
    in loop order: steps alike but for their place in the loops are one run."""
    t, x, out, rq = desc["tile"], desc["inputs"][0], desc["output"], desc["requant"]
    tm, tn = t["tm"], t["tn"]
    (kh, kw), (sh, sw), (dh, dw) = geo["kernel"], geo["strides"], geo["dilations"]
    g, cg, mg, k = geo["groups"], geo["cin_per_group"], geo["cout_per_group"], kh * kw
    xb, ob, wb = itemsize(x["dtype"]), itemsize(out["dtype"]), itemsize(desc["weights"]["dtype"])
    bias_b = itemsize(rq["bias"]["dtype"])
    tail_b = itemsize(rq["M"]["dtype"]) + itemsize(rq["shift"]["dtype"])
    ya, yb = clipped(*in_span(r0, r1, sh, dh, kh, geo["pads"][0]), x["h"])
    xa, xe = clipped(*in_span(q0, q1, sw, dw, kw, geo["pads"][1]), x["w"])
    area, px = (yb - ya) * (xe - xa), (r1 - r0) * (q1 - q0)
    if is_depthwise(geo):
        for o0, o1 in spans(g * mg, tm):
            n = o1 - o0
            chans = (o1 - 1) // mg + 1 - o0 // mg
            yield 1, Step(px * -(-k // tn), weights=n * (k * wb + bias_b + tail_b),
                          read=area * chans * xb + _post(desc, px, n), write=px * n * ob)
        return
    if tap_parallel(desc, engine):  # one step per Tm tile: Tn (tap, channel) pairs a cycle
        im2col = _im2col_bytes(x, geo, r0, r1, q0, q1)
        for n, many in _runs(spans(mg, tm)):
            yield g * many, Step(px * -(-(k * cg) // tn), weights=k * n * cg * wb + n * (bias_b + tail_b),
                                 read=im2col + _post(desc, px, n), write=px * n * ob)
        return
    hy, hx = in_span(r0, r1, sh, dh, kh, 0), in_span(q0, q1, sw, dw, kw, 0)
    held = (hy[1] - hy[0]) * (hx[1] - hx[0])  # the input tile on chip, padding included
    if sampled_input(desc, geo):  # only the pixels a 1x1 convolution reads
        held = px
        area = _im2col_bytes(x, geo, r0, r1, q0, q1) // (cg * xb)
    resident = input_resident(desc, geo, held, engine)
    ms = _runs(spans(mg, tm))
    if resident:  # the group's first Tm tile reads the input, the others none
        first, rest = ms[0][0], [(ms[0][0], ms[0][1] - 1)] + ms[1:]
        kinds = [(first, 1, True)] + [(n, many, False) for n, many in rest if many]
    else:
        kinds = [(n, many, True) for n, many in ms]
    cs = spans(cg, tn)  # Tn tiles: the first (bias), the middle ones, the last (M, shift, output path)
    steps = [(1, cs[0][1] - cs[0][0], True, len(cs) == 1)]
    steps += [(len(cs) - 2, tn, False, False)] if len(cs) > 2 else []
    steps += [(1, cs[-1][1] - cs[-1][0], False, True)] if len(cs) > 1 else []
    for n, many, reads in kinds:  # every group alike
        for times, cn, first, last in steps:
            yield g * many * times, Step(px * k, weights=k * n * cn * wb + (n * bias_b if first else 0)
                                         + (n * tail_b if last else 0),
                                         read=(area * cn * xb if reads else 0) + (_post(desc, px, n) if last else 0),
                                         write=px * n * ob if last else 0)
