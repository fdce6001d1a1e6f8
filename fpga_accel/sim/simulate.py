"""``simulate(bundle)``: the cycle-level simulation of a compiled dataflow network.

The bundle's generated HLS project is compiled in its traced flavour (``build.py``) and run on a
batch of images back to back; the trace of that run (which word each process read or wrote in
which loop iteration) is replayed with every stream bounded at its generated depth (``processes.py``
cuts it into processes, ``fa_timed.cpp`` replays it). The timing therefore comes from the same
C++ processing elements as the C simulation, iteration by iteration; the outputs are checked
against the emulator bit for bit.
"""
from __future__ import annotations

import math
import re
import time
from pathlib import Path

import numpy as np

from ..bundle_uram import BLOB
from .errors import DeadlockError, SimulationError
from .library import TimedLibrary, Trace
from .processes import Processes, cut
from .result import Blocked, FifoStats, ProcessStats, SimResult

DEFAULT_DEPTH = 2  # Vitis HLS's FIFO depth for a stream without a depth pragma
DEFAULT_IMAGES = 8
#: the most images a run extends its batch to for a steady state (Simulator.run)
MAX_IMAGES = 64
_DECL = re.compile(r'hls::stream<.*?>\s+(\w+)\("([^"]+)"\)')
_PRAGMA = re.compile(r"#pragma HLS STREAM variable\s*=\s*(\w+)\s+depth\s*=\s*(\d+)")


def stream_depths(hls: Path) -> dict[str, int]:
    """Stream name -> depth, from the depth pragmas of the generated top and the library headers."""
    out: dict[str, int] = {}
    files = [hls / "src" / "fa_top.cpp", *sorted((hls / "include" / "fpga_accel").glob("*.h"))]
    for f in files:
        if not f.is_file():
            continue
        names: dict[str, str] = {}  # variable -> name of its latest declaration
        for line in f.read_text(encoding="utf-8").splitlines():
            for var, name in _DECL.findall(line):
                names[var] = name
            for var, depth in _PRAGMA.findall(line):
                out[names.get(var, var)] = int(depth)
    return out


def resolve_depths(given: dict[str, int] | None, streams: list[str]) -> dict[str, int]:
    """``--fifo-depth`` entries by full stream name or by its ``s<k>`` prefix (``s7`` for ``s7_x``)."""
    out = {}
    for key, depth in (given or {}).items():
        if isinstance(depth, bool) or not isinstance(depth, (int, np.integer)) or depth < 1:
            raise SimulationError(f"FIFO depth of '{key}' must be a positive integer, got {depth!r}")
        hits = [s for s in streams if s == key] or [s for s in streams if s.split("_", 1)[0] == key]
        if len(hits) != 1:
            near = ", ".join(s for s in streams if not re.fullmatch(r"(in|out)\d+", s))
            raise SimulationError(f"no single stream named '{key}' in this network"
                                  f"{' (several match)' if hits else ''}; its streams: {near}")
        out[hits[0]] = int(depth)
    return out


def library_is_current(hls: Path) -> bool:
    """The project's PE headers are this fpga-accel's, whose C-simulation fast paths advance FA_CYCLE
    iteration by iteration as their loops do; a project with other copies runs the synthesis loops."""
    from ..toolchain import HLS_ROOT

    lib = HLS_ROOT / "include" / "fpga_accel"
    copies = sorted((hls / "include" / "fpga_accel").glob("*.h"))
    return bool(copies) and all((lib / c.name).is_file() and (lib / c.name).read_bytes() == c.read_bytes()
                                for c in copies)


def interface_of(manifest: dict) -> str:
    for s in (manifest.get("fold") or {}).get("stages", []):
        if s.get("kind") == "input":
            return s.get("params", {}).get("INTERFACE", "m_axi")
    board = manifest.get("board") or {}
    return "axis" if board.get("ps") else "m_axi"


def random_inputs(qmodel, n: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for t in qmodel.inputs:
        q = t.qparams.qtype
        out.append(rng.integers(q.min, q.max + 1, (n, *[int(d) for d in t.shape[1:]])).astype(q.dtype))
    return out


def simulate(bundle, images: int = DEFAULT_IMAGES, fifo_depths: dict[str, int] | None = None, seed: int = 0,
             check: bool = True, interface: str | None = None, raise_on_deadlock: bool = True) -> SimResult:
    """Simulate ``images`` images back to back through a bundle (path or Bundle) at its FIFO depths,
    with ``fifo_depths`` ({stream: depth}) overriding some. A pipeline deeper than ``images`` intervals
    is run again on more images (up to :data:`MAX_IMAGES`; the result's ``images`` says how many), so
    the steady interval is measured while input still streams. Raises :class:`DeadlockError` (carrying
    the result) when the network deadlocks, unless ``raise_on_deadlock`` is false."""
    from ..bundle import Bundle, load_bundle
    from ..bundle_model import load_qmodel

    b = bundle if isinstance(bundle, Bundle) else load_bundle(bundle)
    qm = load_qmodel(b)
    blob = b.read(BLOB) if b.manifest.get("uram_load") else None  # URAM weights: loaded as a host does
    sim = Simulator(b.path / "hls", qm, b.manifest, interface=interface, uram_blob=blob)
    return sim.run(images, fifo_depths, seed=seed, check=check, raise_on_deadlock=raise_on_deadlock)


class Simulator:
    """A generated project (``hls/``) with its QModel and manifest: build once, run and replay often."""

    def __init__(self, hls: Path, qmodel, manifest: dict, interface: str | None = None,
                 build_timeout: float | None = None, uram_blob: bytes | None = None):
        """``uram_blob``: the bundle's weights/uram.bin, loaded into the design's URAM weight arrays
        before any image (without it a design with such arrays runs on zeros there)."""
        from .build import build_timed

        self.hls, self.qmodel, self.manifest = Path(hls), qmodel, manifest
        self.interface = interface or interface_of(manifest)
        if self.interface not in ("axis", "m_axi"):
            raise SimulationError(f"interface must be 'axis' or 'm_axi', got {self.interface!r}")
        t = time.perf_counter()
        self.lib = TimedLibrary(build_timed(self.hls, timeout=build_timeout))
        self.build_seconds = time.perf_counter() - t
        if uram_blob is not None:
            self.lib.load(uram_blob, axis=self.interface == "axis")
        self.generated = stream_depths(self.hls)
        self.fast_paths = library_is_current(self.hls)
        self._trace: tuple | None = None

    def trace(self, images: int, seed: int = 0, check: bool = True) -> tuple[Trace, Processes, bool | None]:
        """Run the traced C simulation once (cached for the same images and seed)."""
        if self._trace is not None and self._trace[0] == (images, seed, check):
            return self._trace[1]
        if isinstance(images, bool) or not isinstance(images, (int, np.integer)) or not 0 < images <= 100_000:
            raise SimulationError(f"the number of images must be a positive integer (at most 100000), got {images!r}")
        ins = random_inputs(self.qmodel, int(images), seed)
        outs = [np.zeros((images, *[int(d) for d in t.shape[1:]]), t.qparams.qtype.dtype) for t in self.qmodel.outputs]
        self.lib.set_fast_paths(self.fast_paths)
        tr = self.lib.run(ins, outs, int(images), axis=self.interface == "axis")
        match = None
        if check:
            from ..emulator import run_layers

            ref = run_layers(self.qmodel, {t.name: x for t, x in zip(self.qmodel.inputs, ins)})
            match = all(np.array_equal(o, ref[t.name]) for t, o in zip(self.qmodel.outputs, outs))
        procs = cut(tr, self.lib)
        self._trace = ((images, seed, check), (tr, procs, match))
        return tr, procs, match

    def depths(self, trace: Trace, procs: Processes, overrides: dict[str, int] | None) -> np.ndarray:
        chosen = resolve_depths(overrides, trace.streams)
        return np.array([0 if procs.host_sink[i] else chosen.get(s, self.generated.get(s, DEFAULT_DEPTH))
                         for i, s in enumerate(trace.streams)], np.int64)

    def run(self, images: int = DEFAULT_IMAGES, fifo_depths: dict[str, int] | None = None, seed: int = 0,
            check: bool = True, raise_on_deadlock: bool = True) -> SimResult:
        t0 = time.perf_counter()
        tr, procs, match = self.trace(images, seed, check)
        t1 = time.perf_counter()
        depth = self.depths(tr, procs, fifo_depths)
        res = self.replay(tr, procs, depth, images)
        if res.warmed is False and not res.deadlock and res.latency and images < MAX_IMAGES:
            # a pipeline deeper than the batch: every image was read in before the window's
            # outputs came out; enough images that several come out while input still streams
            pace = max(res.cycles_per_image or 0.0, float(res.model_cycles_per_image or 0))
            more = min(MAX_IMAGES, steady_images(res.latency, pace)) if pace else MAX_IMAGES
            if more > images:
                return self.run(more, fifo_depths, seed=seed, check=check, raise_on_deadlock=raise_on_deadlock)
        res.outputs_match = match
        res.seconds = {"build": round(self.build_seconds, 3), "trace": round(t1 - t0, 3),
                       "replay": round(time.perf_counter() - t1, 3)}
        if res.deadlock and raise_on_deadlock:
            raise DeadlockError(deadlock_message(res), res)
        return res

    def replay(self, tr: Trace, procs: Processes, depth: np.ndarray, images: int) -> SimResult:
        dead, ev_time, rows, srows = self.lib.replay(procs.offsets, procs.iters, procs.ev_stream, procs.ev_write,
                                                     procs.ev_iter, depth, procs.writer, procs.reader)
        return summarise(self, tr, procs, depth, images, dead, ev_time, rows, srows)


def steady_images(latency: float, interval: float) -> int:
    """Images enough for a steady state in the second half of a batch: 2·L/T + 4 (L the first image's
    latency, T the interval; a stage with a long setup lets its producers run ahead, and the backlog
    drains faster than the interval for about L/T images)."""
    return 2 * math.ceil(latency / interval) + 4


def fed_until(procs: Processes, index: dict[str, int], inputs: int, ev_time) -> int | None:
    """The last cycle the design read a word of its input streams (``in<i>_s``), None without them."""
    times = [ev_time[(procs.ev_stream == index[f"in{i}_s"]) & (procs.ev_write == 0)]
             for i in range(inputs) if f"in{i}_s" in index]
    times = [t for t in times if len(t)]
    return int(max(t.max() for t in times)) if times else None


def summarise(sim: Simulator, tr: Trace, procs: Processes, depth, images, dead, ev_time, rows, srows) -> SimResult:
    """The result of a replay: ``rows`` per process and ``srows`` per stream (most words held, words
    written) as fa_timed_replay gives them."""
    m = sim.manifest
    names = tr.streams
    stats = [ProcessStats(n, int(procs.iters[p]), int(rows[p, 0]), int(rows[p, 1]), int(rows[p, 2]))
             for p, n in enumerate(procs.names)]
    fifos = []
    label = (lambda p: procs.names[p] if p >= 0 else "host")
    for s, name in enumerate(names):
        if procs.writer[s] < 0 or procs.host_sink[s]:  # the host's beat streams are not the design's FIFOs
            continue
        fifos.append(FifoStats(name, int(depth[s]), int(srows[s, 1]), int(srows[s, 0]), label(procs.writer[s]),
                               label(procs.reader[s])))
    index = {name: s for s, name in enumerate(names)}
    done = None
    if not dead:
        per_out = []
        for i in range(len(sim.qmodel.outputs)):
            sid = index.get(f"out{i}_s")
            r = None if sid is None else ev_time[(procs.ev_stream == sid) & (procs.ev_write == 0)]
            if r is None or len(r) % images:
                raise SimulationError(f"output stream out{i}_s: {0 if r is None else len(r)} words for {images} images")
            per_out.append(r.reshape(images, -1)[:, -1] + 1)
        done = np.max(np.stack(per_out), axis=0) if per_out else np.zeros(images, np.int64)
    steady, warmed = None, None
    if done is not None and images > 1:
        # between images after the warm-up and before the last one: a call's last image is shorter
        # (its windows read nothing of a next image ahead)
        h = images // 2
        end = images - 1 if images - 1 - h > 0 else images
        # and only images done while the design still reads input: later ones leave a draining
        # pipeline, spaced by its last stages rather than by the slowest one
        fed = fed_until(procs, index, len(sim.qmodel.inputs), ev_time)
        if fed is not None:
            last = int(np.count_nonzero(done <= fed))  # images done by then
            warmed = min(end, last) - h >= 1
            end = min(end, last) if warmed else end
        steady = float(done[end - 1] - done[h - 1]) / (end - h)
    deadlock = None
    if dead:
        blocked = [Blocked(procs.names[p], "word" if rows[p, 3] == 1 else "slot", names[int(rows[p, 4])],
                           int(rows[p, 5])) for p in range(len(procs.names)) if rows[p, 3] != 0]
        deadlock = {"cycle": max(b.cycle for b in blocked), "blocked": blocked}
    busiest = max(stats, key=lambda s: s.iterations, default=None)
    fold = m.get("fold") or {}
    bounded = {names[s]: int(depth[s]) for s in range(len(names)) if depth[s] > 0 and procs.writer[s] >= 0}
    return SimResult(model=str((m.get("model") or {}).get("name", sim.qmodel.name)) if isinstance(m.get("model"), dict)
                     else sim.qmodel.name, board=str((m.get("board") or {}).get("name", "")),
                     clock_mhz=float((m.get("board") or {}).get("clock_mhz") or fold.get("clock_mhz") or 100.0),
                     interface=sim.interface, images=int(images), cycles_per_image=steady, warmed=warmed,
                     latency=int(done[0]) if done is not None else None,
                     image_done=[int(x) for x in done] if done is not None else [],
                     total_cycles=int(max((s.end for s in stats), default=0)),
                     model_cycles_per_image=fold.get("cycles_per_image"), model_latency=fold.get("latency_cycles"),
                     processes=stats, fifos=fifos, bottleneck=busiest.name if busiest else None, depths=bounded,
                     deadlock=deadlock)


def deadlock_message(res: SimResult) -> str:
    d = res.deadlock
    lines = [f"the network deadlocks at cycle {d['cycle']:,}: every unfinished process waits"]
    for b in d["blocked"]:
        what = "a word from" if b.waits_for == "word" else "a free slot in"
        lines.append(f"  - {b.process} waits (since cycle {b.cycle:,}) for {what} '{b.stream}'"
                     + (f" (depth {res.depths[b.stream]})" if b.stream in res.depths else ""))
    lines.append("Deepen the FIFO a process waits to write into (--fifo-depth STREAM=DEPTH), or regenerate the "
                 "design with its generated depths.")
    return "\n".join(lines)
