"""Compile an ONNX model into a bundle: quantise with calibration data, write NAME.fpga/.

The bundle holds manifest.json (model, partition, quantisation, layers) and weights.npz;
`fpga-accel run` and `fpga-accel check` use it, and so does fpga_accel.Session in Python.
"""
from __future__ import annotations

import argparse
import os
import time

from ._output import Column, echo, fmt_int, fmt_shape, print_table

ORDER = 10


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ..compiler import KNOWN_BOARDS
    from ..quant.observers import OBSERVERS

    p.add_argument("model", help="the .onnx file")
    p.add_argument("-o", "--output", metavar="NAME.fpga", help="bundle directory (default: MODEL's name + .fpga)")
    p.add_argument("--board", default="pynq-z2", choices=KNOWN_BOARDS, help="target board (default: pynq-z2)")
    p.add_argument("--calib", metavar="DATA", help="calibration samples: .npy (one input) or .npz keyed by input "
                                                   "name, shape (N, ...), preprocessed like the float model's input")
    p.add_argument("--bits", type=int, help="default bit width of weights and activations (default 8)")
    p.add_argument("--config", metavar="FILE", help="quantisation config (JSON/TOML): bits, observer, per-layer bits")
    p.add_argument("--observer", choices=sorted(OBSERVERS), help="calibration range observer (default: minmax)")
    p.add_argument("--input-shape", action="append", default=[], metavar="NAME=D0,D1,...",
                   help="shape of an input the model leaves open, e.g. x=1,3,32,32 (repeatable)")
    p.add_argument("--ceiling", type=float, default=0.8, metavar="FRACTION",
                   help="utilisation ceiling the folder keeps within, per resource (default 0.8)")
    p.add_argument("--target-fps", type=float, metavar="FPS",
                   help="stop folding once this many frames/s is predicted, to save resources")
    p.add_argument("--clock", type=float, metavar="MHZ", help="clock to fold and build for (default: the board's)")
    p.add_argument("--host-nodes", action="append", default=[], metavar="NAME[,NAME...]",
                   help="run these nodes and everything after them on the host, in float (names as `fpga-accel "
                        "inspect MODEL --flow hardware` lists them; repeatable)")
    p.add_argument("--host-layers", action="append", default=[], metavar="NAME[,NAME...]",
                   help="run these integer layers on the host between the engine's segments (the tiled engine's, "
                        "or separate dataflow designs), same integers, everything else stays on the FPGA (names as "
                        "the compile's layer table lists them; repeatable)")
    p.add_argument("--fifo-depth", action="append", default=[], metavar="STREAM=DEPTH",
                   help="depth pragma of a stream of the generated HLS (its name in fa_top.cpp as `fpga-accel "
                        "simulate` lists it, or its s<k> prefix); recorded in the manifest; repeatable")
    from ..sim.autosize import DEFAULT_SECONDS, MODES

    p.add_argument("--fifo-sizing", choices=MODES, default=os.environ.get("FPGA_ACCEL_FIFO_SIZING") or "sim",
                   help="FIFO depths: the smallest that keep the interval in the timed simulation (sim, default: "
                        "builds the traced C simulation once, tens of seconds; falls back to model with a note "
                        "when it cannot run in time) or the cost model's (model: no simulation); "
                        "$FPGA_ACCEL_FIFO_SIZING sets the default")
    p.add_argument("--fifo-sizing-seconds", type=float, default=DEFAULT_SECONDS, metavar="S",
                   help=f"time limit of the FIFO sizing, build included (default {DEFAULT_SECONDS:g})")
    p.add_argument("--engine", choices=("dataflow", "tiled", "auto"), default="dataflow",
                   help="dataflow: a processing element per layer, weights on chip; tiled: one Tm x Tn array "
                        "running layer by layer through DDR (docs/tiled.md); auto: dataflow when it fits the "
                        "board within --ceiling, else tiled (default: dataflow)")
    from ._search import add_arguments as add_search_arguments

    add_search_arguments(p)


def run(args) -> int:
    from ..compiler import compile as compile_model
    from ..fold.summary import budget_text, fifo_text
    from ..quant.summary import quantisation_text
    from ._search import print_search
    from .inspect import parse_input_shapes
    from .simulate import parse_depths

    start = time.perf_counter()
    depths = parse_depths(args.fifo_depth)
    host_nodes = [n for arg in args.host_nodes for n in arg.split(",") if n]
    if args.search_bits:
        from ._search import compile_searched

        if args.engine != "dataflow" or args.host_layers:
            from ..errors import InputError

            raise InputError("--engine tiled/auto and --host-layers do not combine with --search-bits yet")
        if depths:
            from ..errors import InputError

            raise InputError("--fifo-depth does not combine with --search-bits; give the depths in the config's "
                             "fifo_depths instead")

        bundle = compile_searched(args, parse_input_shapes(args.input_shape), host_nodes)
    else:
        bundle = compile_model(args.model, args.output, board=args.board, calib=args.calib, bits=args.bits,
                               config=args.config, observer=args.observer,
                               input_shapes=parse_input_shapes(args.input_shape), ceiling=args.ceiling,
                               target_fps=args.target_fps, clock_mhz=args.clock, host_nodes=host_nodes,
                               fifo_depths=depths, fifo_sizing=args.fifo_sizing,
                               fifo_sizing_seconds=args.fifo_sizing_seconds, engine=args.engine,
                               host_layers=[n for arg in args.host_layers for n in arg.split(",") if n])
    took = time.perf_counter() - start
    m = bundle.manifest
    rows = [[r["name"], r["op"], fmt_shape(r["output_shape"]), fmt_int(r["macs"]), _opt(r["weight_bits"]),
             str(r["act_bits"]), _opt(r["acc_bits"])] for r in m["layers"]]
    cols = [Column("layer"), Column("op"), Column("output (NHWC)"), Column("MACs", "right"),
            Column("w bits", "right"), Column("act bits", "right"), Column("acc bits", "right")]
    totals = [f"{len(rows)} layers", "", "", fmt_int(m["hardware"]["macs"]), "", "", ""]
    print_table(cols, rows, title=f"accelerated part of {m['model']['source'] or m['model']['name']}", totals=totals)
    for kind in ("inputs", "outputs"):
        for t in m["hardware"][kind]:
            echo(f"{'hardware ' + kind[:-1]:<16}{t['name']}  {fmt_shape(t['shape'])} {t['layout']}  {t['qtype']}  "
                  f"scale {t['scale']:.6g}  zero point {t['zero_point']}")
    for part in ("host_before", "host_after"):
        nodes = m["partition"][part]
        if nodes:
            where = "before" if part == "host_before" else "after"
            echo(f"{'host ' + where:<16}" + ", ".join(f"{n['name']} ({n['op']})" for n in nodes))
    print(f"quantisation    {quantisation_text(m)}")
    print_search(m)
    size = sum(p.stat().st_size for p in bundle.path.rglob("*") if p.is_file())
    print(f"board           {m['board']['name']} at {m['board']['clock_mhz']:g} MHz"
          + (" (default clock)" if m["board"].get("clock_is_default") else "") + f", part {m['board']['part']}")
    if "tiled" in m:
        from .report import print_tiled

        print_tiled(m, m["tiled"]["array"], m["tiled"]["cost"])
        steps = m["tiled"].get("steps") or {}
        hosts = [s for s in steps.get("order", []) if "host" in s]
        if hosts:  # layers run on the host between engine calls (not in the cost estimate above)
            echo(f"{'host steps':<16}{len(hosts)} between {steps['segments']} engine segments: "
                 + ", ".join(f"{s['host']} ({s['op']})" for s in hosts) + " (on the host: not in the estimate)")
        echo(f"bundle          {bundle.path} ({len(m['files']) + 1} files, {size / 1024:.1f} KiB), "
             f"compiled in {took:.2f} s")
        return 0
    engine = m.get("engine") or {}
    if engine.get("reason"):
        echo(f"engine          dataflow: {engine['reason']}")
    if "segments" in m:  # several dataflow designs, host steps between them
        sec = m["segments"]
        for s in sec["list"]:
            echo(f"{'segment':<16}{s['name']}: {', '.join(s['layers'])} ({s['share']:.0%} of the budget, "
                 f"{s['frames_per_s']:,.0f} frames/s, estimate)")
        echo(f"{'steps':<16}" + " -> ".join(st["host"] if "host" in st else sec["list"][st["segment"]]["name"]
                                           for st in sec["steps"]))
        echo(f"estimate        {sec['frames_per_s']:,.0f} frames/s with the segments one after the other (host steps "
             "not counted); `fpga-accel report` for the details")
        echo(f"bundle          {bundle.path} ({len(m['files']) + 1} files, {size / 1024:.1f} KiB), "
             f"compiled in {took:.2f} s")
        return 0
    f = m["fold"]
    print(f"estimate        {f['frames_per_s']:,.0f} frames/s ({f['cycles_per_image']:,} cycles per image), "
          f"DSP {f['totals']['dsp']:,}/{f['board_totals']['dsp']:,}, BRAM18 {f['totals']['bram18']:,}/"
          f"{f['board_totals']['bram18']:,}, LUT {f['totals']['lut']:,}/{f['board_totals']['lut']:,}; "
          f"`fpga-accel report` for the details")
    print(f"FIFOs           {fifo_text(m)}")
    if budget_text(m):
        echo(f"warning         {budget_text(m)}: the design may not place and route; `fpga-accel report` for the details")
    if m["board"].get("retired"):
        print(f"note            {m['board']['retired']}")
    echo(f"bundle          {bundle.path} ({len(m['files']) + 1} files, {size / 1024:.1f} KiB), "
          f"compiled in {took:.2f} s")
    return 0


def _opt(v) -> str:
    return "-" if v is None else str(v)
