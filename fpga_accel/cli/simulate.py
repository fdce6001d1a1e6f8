"""Simulate a bundle's dataflow network cycle by cycle: bounded FIFOs, stalls, deadlocks.

Runs N images back to back through the generated HLS processing elements (the C simulation's
C++, traced) with every stream bounded at its generated depth, and prints the steady-state cycles
per image beside the cost model's, the first image's latency, per process its busy, starved and
blocked cycles, per FIFO its maximum occupancy, and the bottleneck. The outputs are checked
against the emulator bit for bit. Exit code 3 when the network deadlocks (the blocked processes,
their FIFOs and the cycle are named). Needs g++ and hls4ml's ap_types headers.

A bundle compiled for the tiled engine is simulated through the engine's C simulation with a DDR
model instead (``fpga_accel.sim.tiled``): per layer the simulated cycles beside the cost model's,
compute- or memory-bound, DDR GB/s and stall cycles, the steady-state cycles per image and the
first image's latency.
"""
from __future__ import annotations

import argparse
import json

from ._output import Column, echo, fmt_int, print_table

ORDER = 37
EXIT_DEADLOCK = 3


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("bundle", metavar="NAME.fpga", help="a compiled bundle (with its generated HLS project)")
    p.add_argument("--images", type=int, default=8, metavar="N", help="images run back to back (default 8)")
    p.add_argument("--fifo-depth", action="append", default=[], metavar="STREAM=DEPTH",
                   help="simulate STREAM (its name in fa_top.cpp, or its s<k> prefix) at DEPTH; repeatable")
    p.add_argument("--json", metavar="PATH", help="also write every figure as JSON")
    p.add_argument("--seed", type=int, default=0, help="seed of the random input images (default 0)")
    p.add_argument("--board", metavar="NAME", help="tiled engine: simulate on another board's DDR and clock")
    p.add_argument("--ddr-latency", type=int, default=None, metavar="CYCLES",
                   help="tiled engine: cycles from a burst's request to its data (default 64, Vitis HLS's m_axi "
                        "assumption)")
    p.add_argument("--size", action="store_true",
                   help="also find the smallest depth per stream that keeps the interval with unbounded FIFOs "
                        "(manifest key fifo_depths for the code generator)")


def parse_depths(items: list[str]) -> dict[str, int]:
    from ..errors import InputError

    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        try:
            depth = int(value)
        except ValueError:
            depth = 0
        if not sep or not name or depth < 1:
            raise InputError(f"--fifo-depth {item!r}: expected STREAM=DEPTH with a positive integer depth")
        out[name] = depth
    return out


def is_tiled(path: str) -> bool:
    from ..bundle import load_bundle

    return "tiled" in load_bundle(path).manifest


def run(args) -> int:
    from ..bundle import load_bundle
    from ..errors import InputError
    from ..sim import DeadlockError, simulate

    parts = (load_bundle(args.bundle).manifest.get("segments") or {}).get("list")
    if parts:  # each dataflow segment is a design (and a bundle) of its own
        raise InputError(f"{args.bundle} holds {len(parts)} dataflow segments with host steps between them; simulate "
                         f"each on its own: fpga-accel simulate {args.bundle}/segments/K (K = 0..{len(parts) - 1})")
    if is_tiled(args.bundle):
        if args.fifo_depth or args.size:
            raise InputError("--fifo-depth and --size apply to the dataflow engine's FIFOs; this bundle runs on the "
                             "tiled engine, which has none")
        return run_tiled(args)
    if args.board or args.ddr_latency is not None:
        raise InputError("--board and --ddr-latency apply to a tiled-engine bundle; this one is a dataflow design")

    try:
        res = simulate(args.bundle, images=args.images, fifo_depths=parse_depths(args.fifo_depth), seed=args.seed)
        code = 0
    except DeadlockError as e:
        res, code = e.result, EXIT_DEADLOCK
    print_result(res)
    if res.images > args.images:
        echo(f"images          {res.images}, not {args.images}: the pipeline holds more images than that, and the "
             f"steady state is measured while input still streams")
    data = res.to_dict()
    if args.size:
        data["sizing"] = print_sizing(args.bundle, args.images)
    if args.json:
        write_json(args.json, data)
        echo(f"json            {args.json}")
    return code


def write_json(path: str, data: dict) -> None:
    from ..errors import InputError
    from ..safe_fs import atomic_write_text

    try:
        atomic_write_text(path, json.dumps(data, indent=1, default=_plain) + "\n")
    except OSError as e:
        raise InputError(f"{path}: cannot write the JSON ({e.strerror or e})") from None


def _plain(x):
    return x.item() if hasattr(x, "item") else str(x)


def print_result(res) -> None:
    n = res.images
    rows = []
    for p in res.processes:
        span = res.cycles_per_image or (res.total_cycles / n if res.total_cycles else 0)
        busy = 100.0 * p.iterations / n / span if span else 0.0  # of the steady-state interval
        rows.append([p.name, fmt_int(round(p.iterations / n)), f"{busy:.0f}%", fmt_int(round(p.starved / n)),
                     fmt_int(round(p.blocked / n)), fmt_int(p.end)])
    print_table([Column("process"), Column("cycles/image", "right"), Column("busy", "right"),
                 Column("starved/image", "right"), Column("blocked/image", "right"), Column("ends at", "right")],
                rows, title=f"timed simulation of {res.model}: {n} image(s), {res.interface} top")
    rows = [[f.name, fmt_int(f.depth) if f.depth else "-", fmt_int(f.max_occupancy), fmt_int(f.words // n),
             f"{f.writer} -> {f.reader}"] for f in res.fifos]
    print_table([Column("FIFO"), Column("depth", "right"), Column("max occupancy", "right"),
                 Column("words/image", "right"), Column("from -> to")], rows)
    if res.deadlock:
        from ..sim.simulate import deadlock_message

        echo("DEADLOCK        " + deadlock_message(res), keep_newlines=True)
        return
    model = res.model_cycles_per_image
    if res.cycles_per_image is not None:
        ratio = f" ({res.model_ratio:.3f} x the model's {fmt_int(model)})" if res.model_ratio else ""
        echo(f"steady state    {res.cycles_per_image:,.1f} cycles per image{ratio}, "
             f"{res.frames_per_s:,.0f} frames/s at {res.clock_mhz:g} MHz")
    else:
        echo("steady state    run 2 or more images to see it")
    if res.latency is not None:
        lat = f" (model {fmt_int(res.model_latency)})" if res.model_latency else ""
        echo(f"latency         {fmt_int(res.latency)} cycles for the first image{lat}")
    echo(f"bottleneck      {res.bottleneck} (most cycles of work)")
    if res.outputs_match is not None:
        echo(f"outputs         {'== emulator, bit for bit' if res.outputs_match else 'DIFFER from the emulator'}")
    s = res.seconds
    echo(f"time            build {s.get('build', 0):.1f} s, trace {s.get('trace', 0):.2f} s, "
         f"replay {s.get('replay', 0):.2f} s")


def print_sizing(bundle_path: str, images: int) -> dict:
    from ..bundle import load_bundle
    from ..bundle_model import load_qmodel
    from ..sim import Simulator
    from ..sim.sizing import size_fifos

    b = load_bundle(bundle_path)
    z = size_fifos(Simulator(b.path / "hls", load_qmodel(b), b.manifest), images=max(images, 4))
    rows = [[s, fmt_int(z.generated[s]), fmt_int(d)] for s, d in z.sized.items() if d != z.generated[s]]
    print_table([Column("stream"), Column("generated depth", "right"), Column("sized depth", "right")], rows,
                title="FIFO sizing by simulation (streams whose depth changes)")
    before = "deadlock" if z.before is None else f"{z.before:,.1f}"
    echo(f"sizing          interval {before} -> {z.after:,.1f} cycles per image (unbounded FIFOs: "
         f"{z.target:,.1f}); FIFO BRAM18 {z.bram18['generated']} -> {z.bram18['sized']}; {z.replays} replays")
    return z.to_dict()


def run_tiled(args) -> int:
    from ..sim.tiled import simulate_tiled
    from ..sim.tiled_replay import DEFAULT_LATENCY

    lat = DEFAULT_LATENCY if args.ddr_latency is None else args.ddr_latency
    res = simulate_tiled(args.bundle, images=args.images, seed=args.seed, board=args.board, ddr_latency=lat)
    print_tiled(res)
    if args.json:
        write_json(args.json, res.to_dict())
        echo(f"json            {args.json}")
    return 0


def print_tiled(res) -> None:
    rows = [[lay.name, lay.kind, fmt_int(round(lay.cycles)), fmt_int(round(lay.model_cycles)),
             f"{lay.ratio:.3f}" if lay.ratio else "-", fmt_int(lay.compute_cycles), f"{lay.bound} ({lay.model_bound})",
             f"{lay.ddr_gbs:.2f}", fmt_int(round(lay.stall_cycles)), fmt_int(lay.bursts)] for lay in res.layers]
    d = res.ddr
    print_table([Column("layer"), Column("kind"), Column("simulated", "right"), Column("model", "right"),
                 Column("sim/model", "right"), Column("compute", "right"), Column("bound (model)"),
                 Column("DDR GB/s", "right"), Column("stall", "right"), Column("bursts", "right")], rows,
                title=f"timed simulation of the tiled engine, {res.model} on {res.board} at {res.clock_mhz:g} MHz: "
                      f"{res.images} image(s); DDR {d['bytes_per_cycle']:.2f} B/cycle sustained, latency "
                      f"{d['latency']} cycles, {d['bus_bytes']}-byte beats, {d['max_beats']}-beat bursts, "
                      f"{d['outstanding']} in flight")
    if res.cycles_per_image is not None:
        echo(f"steady state    {res.cycles_per_image:,.1f} cycles per image ({res.cycles_per_image / res.model_cycles_per_image:.3f}"
             f" x the model's {res.model_cycles_per_image:,.0f}), {res.frames_per_s:,.0f} frames/s")
    else:
        echo("steady state    run 2 or more images to see it")
    echo(f"latency         {res.latency:,.0f} cycles for the first image, of which {res.control_cycles:,.0f} reading "
         f"the header and descriptors (not in the model)")
    if res.outputs_match is not None:
        echo(f"outputs         {'== emulator, bit for bit' if res.outputs_match else 'DIFFER from the emulator'}")
    s = res.seconds
    echo(f"time            build {s.get('build', 0):.1f} s, trace {s.get('trace', 0):.2f} s, "
         f"replay {s.get('replay', 0):.2f} s")
