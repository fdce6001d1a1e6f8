"""``simulate`` on a tiled-engine bundle: N images through the engine's C simulation, timed.

The engine's C simulation runs with its stage trace (``tiled_build.py``), which the replay
(``tiled_replay.py``) times with the ping-pong schedule and the DDR model of the board (its
``ddr_gbps`` × the cost model's burst efficiency, a latency per burst, AXI burst limits, one DDR
for reads and writes). Per layer the simulated cycles stand beside the cost model's estimate
(:func:`fpga_accel.tiled.cost.program_cost`); the outputs are compared with the reference executor
(the emulator of a tiled bundle) bit for bit.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import numpy as np

from .errors import SimulationError
from .tiled_replay import DEFAULT_LATENCY, DdrModel, replay


@dataclass
class TiledLayer:
    name: str
    kind: str
    cycles: float  # simulated, per image (steady state)
    model_cycles: float  # the cost model's estimate
    compute_cycles: int  # the array's iterations (FA_CYCLE)
    model_bound: str
    bound: str  # "memory" when the DDR is busy longer than the array, else "compute"
    stall_cycles: float  # cycles the array does not compute: cycles − compute
    ddr_bytes: int
    ddr_busy: float
    bursts: int
    ddr_gbs: float

    @property
    def ratio(self) -> float | None:
        return self.cycles / self.model_cycles if self.model_cycles else None


@dataclass
class TiledSimResult:
    model: str
    board: str
    clock_mhz: float
    ddr: dict  # the DDR model's parameters
    images: int
    cycles_per_image: float | None  # steady state: the interval between image ends after the first
    latency: float  # cycles until the first image's last write
    image_done: list[float]
    control_cycles: float  # per image: header and descriptor reads (not in the cost model)
    model_cycles_per_image: float
    layers: list[TiledLayer]
    outputs_match: bool | None = None
    engine: str = "tiled"
    seconds: dict = field(default_factory=dict)

    @property
    def frames_per_s(self) -> float | None:
        return self.clock_mhz * 1e6 / self.cycles_per_image if self.cycles_per_image else None

    def to_dict(self) -> dict:
        out = asdict(self)
        out["frames_per_s"] = self.frames_per_s
        for d, lay in zip(out["layers"], self.layers):
            d["ratio"] = lay.ratio
        return out


def random_raw_inputs(program, n: int, seed: int) -> dict[str, np.ndarray]:
    from ..tiled.program import dtype_range

    rng = np.random.default_rng(seed)
    views = {t["name"]: t for t in program.data["tensors"]}
    out = {}
    for name in program.data["inputs"]:
        t = views[name]
        lo, hi = dtype_range(t["view"]["dtype"])
        out[name] = rng.integers(lo, hi + 1, (n, *t["shape"])).astype(t["view"]["dtype"])
    return out


def ddr_model(board, clock_mhz: float, latency: int = DEFAULT_LATENCY, **kw) -> DdrModel:
    from ..tiled.cost import BURST_EFFICIENCY
    from ..tiled.ddr import master_ports
    from ..tiled.ports import axi_bits

    if not board.ddr_gbps:
        raise SimulationError(f"board '{board.name}' gives no DDR bandwidth (ddr_gbps); the DDR model needs it")
    if isinstance(latency, bool) or not isinstance(latency, int) or not 0 <= latency <= 100_000:
        raise SimulationError(f"DDR latency must be an integer number of cycles in 0..100000, got {latency!r}")
    # on a Zynq board the masters go through the PS's HP ports, the weights on their own (cost.ddr_rates)
    kw.setdefault("port_bytes", board.ps.hp_bits / 8 if board.ps is not None else None)
    kw.setdefault("ports", (*master_ports(board.ps), 0))  # the trace's other accesses on port 0
    kw.setdefault("bus_bytes", axi_bits(board) // 8)  # the masters' beat as the engine is built for the board
    return DdrModel(board.ddr_gbps * 1e9 * BURST_EFFICIENCY / (clock_mhz * 1e6), latency, **kw)


def simulate_tiled(bundle, images: int = 8, seed: int = 0, check: bool = True, board=None,
                   ddr_latency: int = DEFAULT_LATENCY, **ddr) -> TiledSimResult:
    """Simulate ``images`` images through a tiled bundle (path or Bundle), on its board or ``board``
    (a name or :class:`~fpga_accel.fold.boards.Board`) at that board's clock."""
    from ..bundle import Bundle, load_bundle
    from ..bundle_tiled import load_program
    from ..fold import get_board
    from ..tiled.cost import program_cost, span_overlap
    from ..tiled.csim import units_of
    from ..tiled.interface import split_of
    from ..tiled.ports import axi_bits
    from .tiled_build import TracedCsim

    if isinstance(images, bool) or not isinstance(images, (int, np.integer)) or not 0 < images <= 10_000:
        raise SimulationError(f"the number of images must be a positive integer (at most 10000), got {images!r}")
    b = bundle if isinstance(bundle, Bundle) else load_bundle(bundle)
    program, words = load_program(b)
    brd = board if board is not None and not isinstance(board, str) else get_board(
        board or (b.manifest.get("board") or {}).get("name"))
    clock = float(brd.clock_mhz)
    model = ddr_model(brd, clock, ddr_latency, **ddr)
    t0 = time.perf_counter()
    # the engine's form as the bundle records it, its loads a bus word of the board's arena ports an iteration
    sim = TracedCsim(program, split=int(split_of(b.manifest)), axi_bits=axi_bits(brd), units=units_of(program))
    sim.descriptors = words
    t1 = time.perf_counter()
    ins = random_raw_inputs(program, int(images), seed)
    outs, trace = sim.trace(ins)
    t2 = time.perf_counter()
    match = None
    if check:
        from ..tiled.engine import TiledEngine

        ref = TiledEngine(program).run(ins)
        match = all(np.array_equal(outs[k], ref[k]) for k in ref)
    n_layers = len(program.layers)
    rep = replay(trace, model, n_layers, overlap={i: m for i, d in enumerate(program.layers)
                                                  if (m := span_overlap(d, program.engine))})
    t3 = time.perf_counter()
    cost = program_cost(program, brd, clock, latency=model.latency)
    done = rep.image_done
    steady = (done[-1] - done[0]) / (len(done) - 1) if len(done) > 1 else None
    pick = rep.layers[-1]  # the last image's layers: the steady state (every image runs the same program)
    layers = []
    for desc, lay, est in zip(program.layers, pick, cost.layers):
        cyc = lay.cycles
        layers.append(TiledLayer(desc["name"], desc["kind"], cyc, est.cycles, lay.iterations, est.bound,
                                 "memory" if max(lay.ddr_busy, *lay.port_busy) > lay.iterations else "compute", cyc - lay.iterations,
                                 lay.ddr_bytes, lay.ddr_busy, lay.bursts,
                                 lay.ddr_bytes * clock * 1e6 / cyc / 1e9 if cyc else 0.0))
    return TiledSimResult(str((b.manifest.get("model") or {}).get("name", "")), brd.name, clock,
                          {**asdict(model), "burst_boundary": 4096}, int(images), steady, done[0] if done else 0.0,
                          done, rep.control[-1] if rep.control else 0.0, cost.cycles, layers, match,
                          seconds={"build": round(t1 - t0, 3), "trace": round(t2 - t1, 3),
                                   "replay": round(t3 - t2, 3)})
