"""Build a bundle's bitstream with the vendor tools: Vitis HLS, then Vivado (Zynq) or v++ (Vitis).

Steps: hls, vivado (Zynq boards: pynq-z2, zcu104, kv260, ultra96v2), hls, link [, afi]
(alveo-u50, alveo-u250, aws-f1; AWS retired F1 on 2025-12-20) or hls, hdk, afi (aws-f2: the AWS
HDK custom logic, its design checkpoint and the AFI). Each step is logged to
NAME.fpga/build/logs/STEP.log and timed; a rerun skips finished steps whose inputs and outputs are
unchanged; Ctrl-C or SIGTERM stops the running tool with its child processes and removes the
step's partial outputs, and the next run redoes that step. The bitstream lands in NAME.fpga/bitstream/ with bitstream.json, the tool reports are
compared with the folding estimates, and the build is recorded in the bitstream registry.

A bundle compiled with --engine tiled builds the tiled engine (fa_tiled_top) for its board and
engine configuration: hls, vivado (Zynq boards) or hls, link (Vitis platforms, bitstream/fa_tiled.xclbin);
the model's program is data, so the result runs any model compiled for that configuration.

HLS runs through `v++ -c --mode hls --config hls_config.cfg` with Vitis 2024.2 and later, through
`vitis_hls -f run_hls.tcl` with older releases (--hls-tool overrides the choice). A design that
misses timing is refused unless --allow-timing-failure.

Exit status: 0 built; 2 bad bundle, board data or options; 3 a tool is missing (the message says
how to get it and the exact commands to run by hand); 4 a tool failed (command, log, its tail) or
the design missed timing (WNS, the report, the way out).
"""
from __future__ import annotations

import argparse
import sys

from ..escape import terminal
from ._output import Column, print_table

ORDER = 25


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("bundle", metavar="NAME.fpga", help="the bundle written by `fpga-accel compile`")
    p.add_argument("--steps", metavar="A,B",
                   help="run only these steps: hls,vivado (Zynq), hls,link,afi (Vitis) or hls,hdk,afi (AWS F2)")
    p.add_argument("--jobs", type=int, default=2, metavar="N", help="parallel jobs for Vivado / v++ (default 2)")
    p.add_argument("--dry-run", action="store_true", help="print the commands of each step without running them")
    p.add_argument("--platform", metavar="XPFM", help="Vitis platform name or .xpfm (default: FA_PLATFORM, "
                                                      "else the board's)")
    p.add_argument("--s3-bucket", metavar="BUCKET", help="afi step (aws-f1, aws-f2): S3 bucket (default: FA_S3_BUCKET)")
    p.add_argument("--s3-prefix", metavar="PREFIX", help="afi step (aws-f1, aws-f2): key prefix in the bucket")
    p.add_argument("--registry", metavar="DIR", help="bitstreams directory holding index.json "
                                                     "(default: FPGA_ACCEL_BITSTREAMS, else ./bitstreams)")
    p.add_argument("--no-registry", action="store_true", help="do not record the bitstream in the registry")
    p.add_argument("--hls-tool", choices=("auto", "v++", "vitis_hls"),
                   help="HLS through v++ -c --mode hls (Vitis 2024.2 and later) or vitis_hls (older); default: "
                        "FA_HLS_TOOL, else auto (by the installed release)")
    p.add_argument("--allow-timing-failure", action="store_true",
                   help="keep a bitstream whose design misses timing (by default the build refuses it)")
    p.add_argument("--timeout", type=float, metavar="SECONDS", help="stop a step (and every process it started) "
                   "that runs longer than this (default: no limit; synthesis and implementation may take hours)")


def run(args) -> int:
    from ..flow import ToolFailedError, ToolNotFoundError, build
    from ..flow.timing import TimingNotMetError
    from ._checks import at_least, seconds

    at_least(args.jobs, "--jobs")
    seconds(args.timeout)
    steps = [s.strip() for s in args.steps.split(",") if s.strip()] if args.steps else None
    try:
        record = build(args.bundle, steps=steps, jobs=args.jobs, dry_run=args.dry_run, platform=args.platform,
                       s3_bucket=args.s3_bucket, s3_prefix=args.s3_prefix,
                       registry=False if args.no_registry else args.registry, timeout=args.timeout,
                       hls_tool=args.hls_tool, allow_timing_failure=args.allow_timing_failure)
    except (ToolNotFoundError, ToolFailedError, TimingNotMetError) as e:
        print(f"error: {terminal(str(e), keep_newlines=True)}", file=sys.stderr)
        return e.exit_code
    if args.dry_run:
        return 0
    _summary(record)
    return 0


def _summary(rec: dict) -> None:
    rows = [[name, s.get("status") or "-", f"{s['seconds']:.1f}" if s.get("seconds") is not None else "-",
             rec.get("tools", {}).get(_tool_of(rec, name), "-")]
            for name, s in rec.get("steps", {}).items()]
    print_table([Column("step"), Column("status"), Column("seconds", "right"), Column("tool version")], rows,
                title=f"build for {rec.get('board')} at {rec.get('clock_mhz'):g} MHz")
    comp = rec.get("comparison") or []
    avail = (rec.get("resources") or {}).get("available") or {}
    if comp:
        rows = [[r["resource"], _n(r["estimate"]), _n(r["hls"]), _n(r["implemented"]), _n(avail.get(r["resource"]))]
                for r in comp]
        print_table([Column("resource"), Column("estimate", "right"), Column("HLS synthesis", "right"),
                     Column("implemented", "right"), Column("available", "right")], rows,
                    title="folding estimates vs tool reports")
        print("(estimate: the folder's model; cycles: slowest layer per image vs the HLS interval)")
    else:
        res = rec.get("resources") or {}
        for label, key in (("HLS synthesis", "hls_estimate"), ("implemented", "implemented")):
            if res.get(key):
                print(f"{label:<16}" + ", ".join(f"{k} {v}" for k, v in res[key].items() if v is not None))
    t = rec.get("timing") or {}
    if t.get("wns_ns") is not None:
        print(f"timing          WNS {t['wns_ns']:+.3f} ns, {'met' if t.get('met') else 'NOT met'}"
              + (f", fmax about {t['fmax_mhz']:g} MHz" if t.get("fmax_mhz") else ""))
    if rec.get("afi"):
        print(f"AFI             {rec['afi'].get('afi_id')} / {rec['afi'].get('agfi_id')} ({rec['afi'].get('state')})")
    if rec.get("bitstream"):
        print(f"bitstream       {rec['bitstream']}" + (f", registry entry {rec['registry_entry']}"
                                                      if rec.get("registry_entry") else ""))


def _tool_of(rec: dict, step: str) -> str:
    if step == "hls":
        return (rec.get("hls_tool") or {}).get("tool") or "vitis_hls"
    return {"link": "v++"}.get(step, step)


def _n(v) -> str:
    return "-" if v is None else f"{v:,}" if isinstance(v, int) else str(v)
