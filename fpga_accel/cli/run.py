"""Run a compiled bundle on inputs from a file and save or summarise the outputs.

Inputs: a .npy (single-input models) or a .npz keyed by input name, batch on axis 0, float and
preprocessed like the float model's input (with --raw: the hardware integers, keyed by the
hardware input names the manifest lists). Outputs: -o Y.npy for one output, -o Y.npz for any.
"""
from __future__ import annotations

import argparse

import numpy as np

from ._output import echo

ORDER = 30


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ..runtime.backends import backend_names

    p.add_argument("bundle", metavar="NAME.fpga", help="the bundle written by `fpga-accel compile`")
    p.add_argument("--input", required=True, metavar="X.npy", help="inputs: .npy or .npz keyed by input name")
    p.add_argument("-o", "--output", metavar="Y.npy", help="save the outputs (.npy: one output; .npz: keyed by name)")
    p.add_argument("--backend", default="emulator", choices=backend_names() + ["auto"],
                   help="where to run (default: emulator)")
    p.add_argument("--raw", action="store_true", help="inputs and outputs are the hardware integers")
    p.add_argument("--batch-size", type=int, metavar="N", help="images per backend call (default: all at once)")
    p.add_argument("--cycles", action="store_true",
                   help="print the loop iterations of each pipeline stage in the last call (C simulation)")
    p.add_argument("--timeout", type=float, metavar="SECONDS",
                   help="longest wait for one backend call before giving up (default: no limit)")


def load_arrays(path: str, names: list[str], what: str = "input") -> dict[str, np.ndarray]:
    """``{name: array}`` from a .npy (one name) or a .npz keyed by name; errors name the file."""
    from ..arrays import read_arrays

    return read_arrays(path, names, what)


def in_file(path: str, fn):
    """Run ``fn()``, prefixing the file name to the InputErrors it raises about the data."""
    from ..errors import InputError

    try:
        return fn()
    except InputError as e:
        raise InputError(f"{path}: {e}") from None


def save_outputs(path: str, outputs: dict[str, np.ndarray]) -> None:
    from ..errors import InputError

    if not path.endswith((".npy", ".npz")):
        raise InputError(f"{path}: the output file must end in .npy (one output) or .npz")
    if path.endswith(".npy") and len(outputs) != 1:
        raise InputError(f"{path}: the model has outputs {list(outputs)}; save them to a .npz")
    from ..safe_fs import atomic_output

    try:  # whole or not at all: a full disk or Ctrl-C leaves no truncated file
        with atomic_output(path) as tmp, open(tmp, "wb") as f:
            if path.endswith(".npy"):
                np.save(f, next(iter(outputs.values())))
            else:
                np.savez(f, **outputs)
    except OSError as e:
        raise InputError(f"{path}: cannot write the outputs ({e.strerror or e})") from None


def is_class_scores(y: np.ndarray) -> bool:
    """A float (N, C) array with C > 1: scores whose argmax is the class."""
    return y.ndim == 2 and y.shape[1] > 1 and y.dtype.kind == "f"


def stage_table(backend) -> tuple[int, list[list[str]]]:
    """(images, rows) of the backend's per-stage loop counts in its last call."""
    n = max(1, getattr(backend, "last_images", 1))
    return n, [[name, f"{c:,}", f"{c / n:,.0f}"] for name, c in backend.stage_cycles().items()]


def run(args) -> int:
    from ..errors import InputError
    from ..runtime import Session

    with Session(args.bundle, backend=args.backend, batch_size=args.batch_size, timeout=args.timeout) as s:
        names = [t["name"] for t in s.bundle.manifest["hardware"]["inputs"]] if args.raw else s.input_names
        if args.cycles and not hasattr(s.backend, "stage_cycles"):
            raise InputError(f"--cycles: backend '{s.backend.name}' counts no cycles; use --backend csim")
        feeds = load_arrays(args.input, names, "raw input" if args.raw else "input")
        outputs = in_file(args.input, lambda: s.run(feeds, raw=args.raw))
        stats = s.stats
        backend = s.backend.name
        cycles = stage_table(s.backend) if args.cycles else None
    if args.output:
        save_outputs(args.output, outputs)
    for name, y in outputs.items():
        line = f"output {name}  {y.dtype} {list(y.shape)}"
        if is_class_scores(y):
            top = y.argmax(axis=1)
            line += f"  top-1 of the first {min(10, len(top))}: {' '.join(map(str, top[:10]))}"
        echo(line)
    print(f"backend {backend}: {stats}")
    if cycles:
        from ._output import Column, print_table

        print(f"pipelined loop iterations per stage in the last call ({cycles[0]} images), C simulation:")
        print_table([Column("stage"), Column("iterations", "right"), Column("per image", "right")], cycles[1])
    if args.output:
        echo(f"saved to {args.output}")
    return 0
