"""Run the whole flow on a bundled example model: compile, emulate, C-simulate, report.

Compiles models/NAME (default mnist_cnn) for a board (default pynq-z2) with its calibration
images, runs its test set through the float model (onnxruntime), the integer emulator and the
C-simulation of the generated HLS C++ (g++), and prints float vs integer accuracy, whether the
C-simulation equals the emulator bit for bit, the resource and latency estimates for the board,
and where the bundle and its build scripts are. Exit status 1 when C-simulation and emulator
differ. Needs a checkout of the repository (models/ lies beside the package).
"""
from __future__ import annotations

import argparse
import importlib.util
import time
from pathlib import Path

import numpy as np

ORDER = 5
DEFAULT_MODEL = "mnist_cnn"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=DEFAULT_MODEL, help=f"example model in models/ (default {DEFAULT_MODEL})")
    p.add_argument("--board", default="pynq-z2", help="board to fold for (default pynq-z2; `fpga-accel boards`)")
    p.add_argument("-o", "--output", default="fpga-accel-demo", metavar="DIR",
                   help="directory for the bundle (default ./fpga-accel-demo)")
    p.add_argument("--csim-images", type=int, default=1000, metavar="N",
                   help="test images run in C-simulation (default 1000, the whole MNIST test split)")
    p.add_argument("--models-dir", metavar="DIR", help="where the example models are (default: the repository's)")


def run(args) -> int:
    from ..errors import InputError

    if args.csim_images < 1:
        raise InputError(f"--csim-images must be at least 1, got {args.csim_images}")
    data = _models_module(args.models_dir)
    names = data.names()
    if args.model not in names:
        raise InputError(f"unknown example model '{args.model}'; models/ has {', '.join(names)}")
    x, y = data.load_test(args.model)
    info = data.info(args.model)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)

    bundle, took = _step(f"compile {args.model} for {args.board}", lambda: _compile(data, args, out))
    feed = {info["input"]["name"]: x}
    float_logits, _ = _step("float model in onnxruntime", lambda: _onnxruntime(data.model_path(args.model), feed))
    emu, emu_s = _step(f"emulator on {len(x)} test images", lambda: _session(bundle, "emulator", feed))
    n = min(args.csim_images, len(x))
    pick = np.arange(n) * len(x) // n  # spread over the split: it may be sorted by class
    csim, csim_s = _step(f"C-simulation of the HLS C++ on {n} test images (g++ build, cached)",
                         lambda: _session(bundle, "csim", {k: v[pick] for k, v in feed.items()}))

    same = all(np.array_equal(csim[k], emu[k][pick]) for k in emu)
    print()
    _print_results(info, y, float_logits, emu, emu_s, csim, csim_s, pick, same)
    print()
    from .report import print_report

    print_report(bundle.manifest)
    print()
    print(f"bundle          {bundle.path}   (compiled in {took:.2f} s)")
    print(f"HLS project     {bundle.path / 'hls'}   (v++ -c --mode hls --config hls_config.cfg from Vitis 2024.2, "
          "vitis_hls -f run_hls.tcl before)")
    print(f"build scripts   {bundle.path / 'scripts'}   (fpga-accel build {bundle.path} --dry-run)")
    print(f"OpenCL kernel   {bundle.path / 'opencl' / 'fa_kernel.cl'}")
    return 0 if same else 1


def _step(what: str, fn):
    print(f"• {what} ...", flush=True)
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def _compile(data, args, out: Path):
    from ..compiler import compile as compile_model

    return compile_model(data.model_path(args.model), out / f"{args.model}.fpga", board=args.board,
                         calib=data.load_calib(args.model) if not _carries_quantisation(data, args.model) else None,
                         progress=True)


def _carries_quantisation(data, name: str) -> bool:
    return "QuantizeLinear" in data.info(name).get("ops", [])


def _onnxruntime(path: Path, feed: dict) -> np.ndarray:
    from ..analysis.reference import definition_session  # a QDQ model as defined, not fused int8 kernels

    return definition_session(path).run(None, feed)[0]


def _session(bundle, backend: str, feed: dict) -> dict:
    """Raw hardware outputs (for the bit-exact comparison) and their float outputs."""
    from ..runtime import Session

    with Session(bundle, backend=backend, batch_size=256) as s:
        raw = s.run(s.hardware_inputs(feed), raw=True)
        return {**{f"raw:{k}": v for k, v in raw.items()}, **s.model_outputs(raw)}


def _print_results(info, y, float_logits, emu, emu_s, csim, csim_s, pick, same) -> None:
    from ._output import Column, print_table

    out_name = info["output"]["name"]
    f_pred, e_pred, c_pred = float_logits.argmax(1), emu[out_name].argmax(1), csim[out_name].argmax(1)
    n = len(pick)
    pct = lambda hits: f"{100.0 * float(np.mean(hits)):.2f}%"  # noqa: E731
    rows = [["float (onnxruntime)", pct(f_pred == y), "-", str(len(y)), "-"],
            ["integer emulator", pct(e_pred == y), pct(e_pred == f_pred), str(len(y)), f"{len(y) / emu_s:,.0f}"],
            ["C-simulation (g++)", pct(c_pred == y[pick]), pct(c_pred == f_pred[pick]), str(n), f"{n / csim_s:,.0f}"]]
    print_table([Column("run"), Column("top-1 accuracy", "right"), Column("agrees with float", "right"),
                 Column("images", "right"), Column("images/s", "right")], rows, title="accuracy on the test split")
    raw = [k for k in emu if k.startswith("raw:")]
    n_int = sum(csim[k].size for k in raw)
    verdict = "bit for bit identical" if same else "DIFFERENT"
    print(f"C-simulation vs emulator: {verdict} ({n_int:,} output integers of {n} images compared)")
    print("images/s include the g++ build of the C-simulation library when it was not cached")


def _models_module(explicit: str | None):
    """models/data.py of the repository (numpy only), loaded by path: models/ is not a package."""
    from ..errors import InputError

    candidates = [Path(explicit)] if explicit else [Path(__file__).resolve().parents[2] / "models",
                                                    Path.cwd() / "models"]
    for d in candidates:
        f = d / "data.py"
        if f.is_file():
            spec = importlib.util.spec_from_file_location("fpga_accel_example_models", f)
            mod = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(mod)
            return mod
    raise InputError(f"the example models are not here (looked in {', '.join(map(str, candidates))}); run from "
                     f"a checkout of the repository or pass --models-dir")
