"""Run a compiled bundle over a dataset on many devices (a Ray cluster, or this machine).

One Ray actor per device (the `fpga` custom resource: start nodes with
`ray start --head --resources='{"fpga": N}'`) holds a session on it. Inputs: X.npy (single-input
models), a .npz keyed by input name, a .parquet file, or a directory of .npy or .parquet files.
Outputs are saved in input order (-o Y.npy for one output, Y.npz for any), and a table shows
each device's images, throughput and utilisation. Without boards, `--address local` (the
default) runs emulator or csim actors on this machine. Needs the `ray` extra.
"""
from __future__ import annotations

import argparse
import sys

ORDER = 32


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ..runtime.backends import backend_names

    p.add_argument("bundle", metavar="NAME.fpga", help="the bundle written by `fpga-accel compile`")
    p.add_argument("--input", required=True, metavar="PATH",
                   help="X.npy, X.npz, F.parquet, or a directory of .npy / .parquet files")
    p.add_argument("-o", "--output", metavar="Y.npy", help="save the outputs (.npy: one output; .npz: keyed by name)")
    p.add_argument("--backend", default="emulator", choices=backend_names() + ["auto"],
                   help="the backend each device actor opens (default: emulator; on boards: opencl or pynq)")
    p.add_argument("--address", default="local", metavar="ray://HOST:PORT|auto|local",
                   help="the Ray cluster: `auto` joins the one started with `ray start` here, ray://... goes through "
                        "Ray Client, `local` (default) starts Ray in this process with --devices virtual devices")
    p.add_argument("--devices", type=int, metavar="N",
                   help="device actors (default: every 'fpga' resource of the cluster; local: the CPU count)")
    p.add_argument("--batch-size", type=int, default=256, metavar="N", help="images per batch sent to a device "
                   "(default: 256)")
    p.add_argument("--raw", action="store_true", help="inputs and outputs are the hardware integers")
    p.add_argument("--timeout", type=float, metavar="SECONDS",
                   help="a device that gives no answer for this long fails its batch, which is retried elsewhere")
    p.add_argument("--max-retries", type=int, default=3, metavar="N", help="failed attempts allowed per batch "
                   "(default: 3)")
    p.add_argument("--num-cpus", type=float, default=0, metavar="C",
                   help="CPUs each actor reserves on its node (default: 0, the board does the work)")
    p.add_argument("--no-ship", action="store_true",
                   help="do not send the bundle through Ray: the same path must exist on every node")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args) -> int:
    from ..bundle import load_bundle
    from ..distributed import DevicePool, input_specs, open_source, require_ray
    from ._output import Column, echo, print_table
    from .run import is_class_scores, save_outputs

    if args.output and not args.output.endswith((".npy", ".npz")):
        from ..errors import InputError

        raise InputError(f"{args.output}: the output file must end in .npy (one output) or .npz")
    from ._checks import at_least, fraction_of, seconds

    at_least(args.devices, "--devices")
    at_least(args.batch_size, "--batch-size")
    at_least(args.max_retries, "--max-retries", 0)
    seconds(args.timeout)
    fraction_of(args.num_cpus, "--num-cpus", 0, 1024)
    require_ray()
    # the input is opened (and checked) before any actor starts
    source = open_source(args.input, input_specs(load_bundle(args.bundle).manifest, args.raw))
    options = {"timeout": args.timeout} if args.timeout is not None else {}
    with DevicePool(args.bundle, devices=args.devices, backend=args.backend, address=args.address,
                    session_options=options, num_cpus=args.num_cpus, max_retries=args.max_retries,
                    ship=not args.no_ship) as pool:
        result = pool.run(source, batch_size=args.batch_size, raw=args.raw,
                          progress=not args.no_progress and sys.stderr.isatty())
    if args.output:
        save_outputs(args.output, result.outputs)
    for name, y in result.outputs.items():
        line = f"output {name}  {y.dtype} {list(y.shape)}"
        if is_class_scores(y):
            line += f"  top-1 of the first {min(10, len(y))}: {' '.join(map(str, y[:10].argmax(axis=1)))}"
        echo(line)
    head, rows, totals = result.report.table()
    print_table([Column(h, "left" if h in ("host", "backend") else "right") for i, h in enumerate(head)], rows, totals=totals,
                title="per device (utilisation: share of the run's wall time spent running batches)")
    print(result.report)
    if args.output:
        print(f"saved to {args.output}")
    return 0
