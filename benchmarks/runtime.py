"""Every runtime backend side by side: per-call latency at batch 1, throughput at batch 256.

The emulator and the C-simulation (no device), and the OpenCL kernel through the native host and
through the pyopencl backend.

Both run the same kernel (the bundle's ``opencl/fa_kernel.cl``) on the same OpenCL device in the
same invocation of this script: every measuring process gets the same ``OCL_ICD_VENDORS`` (the
machine's registered vendors, ``/etc/OpenCL/vendors``, or ``--icd``), so the pyopencl wheel's own
loader and the system loader under ``libfa_host`` see one and the same PoCL; the table shows the
device each ran on. Each runtime is measured in a process of its own, one after the other:

- ``emulator``, ``csim``: the numpy emulator and the g++-built C-simulation of the HLS project
  (fewer images for csim: it runs the C++ of the dataflow, ~10^2 images/s),
- ``native``: ``libfa_host`` through ``Session(bundle, backend="native")``'s backend (ctypes),
- ``pyopencl``: the ``opencl`` backend,
- ``fa-host``: the command itself, no Python at all (its own per-call clock, ``--timing-json``).

Latency: ``--calls`` single-image calls of the backend's ``run_raw`` after ``--warmup`` calls
(median, 10th and 90th percentile, host clock) plus the device's kernel time (profiling events).
Throughput: ``--images`` images in batches of 256, best and median of ``--repeats`` passes. Both
also through ``Session.run(raw=True)`` at batch 1, which adds the session's own work.

    python benchmarks/runtime.py                          # mnist_cnn
    python benchmarks/runtime.py mlp resnet_ds --json benchmarks/results/runtime.json
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "benchmarks"), str(ROOT)]
from _common import machine, print_machine, tiled, write_json

from models import data

RUNTIMES = ("emulator", "csim", "native", "pyopencl", "fa-host")
BACKEND = {"emulator": "emulator", "csim": "csim", "native": "native", "pyopencl": "opencl"}
CSIM_IMAGES, CSIM_CALLS = 512, 50  # the C-simulation is slow: fewer images and calls, same method


def _pct(xs, q) -> float:
    return round(float(np.percentile(xs, q)), 4)


def measure(spec: dict) -> dict:
    """One runtime on one bundle, in this (fresh) process."""
    import fpga_accel
    from fpga_accel.runtime.backends import native

    who, bundle = spec["runtime"], spec["bundle"]
    x = np.load(spec["inputs"])
    name = spec["input_name"]
    if who == "fa-host":
        return _measure_command(spec, native.executable_path(), x)
    if who == "csim":
        spec = {**spec, "images": min(spec["images"], CSIM_IMAGES), "calls": min(spec["calls"], CSIM_CALLS),
                "repeats": min(spec["repeats"], 2)}
    out = {"runtime": who}
    with fpga_accel.Session(bundle, backend=BACKEND[who]) as s:
        b = s.backend
        if hasattr(b, "device"):
            out["target"] = getattr(b, "target", None) or f"{b.platform.name} / {b.device.name} ({b.mode})"
        else:
            out["target"] = getattr(b, "target", None) or {"emulator": "numpy and its C convolution on the host CPU",
                                                            "csim": "g++-built C-simulation on the host CPU"}[who]
        one = {name: x[:1]}
        for _ in range(spec["warmup"]):
            b.run_raw(one)
        wall, kernel = [], []
        for _ in range(spec["calls"]):
            t = time.perf_counter()
            b.run_raw(one)
            wall.append((time.perf_counter() - t) * 1e3)
            if getattr(b, "last_timing", None):
                kernel.append(b.last_timing["kernel_ns"] / 1e6)
        out["latency_ms"] = {"median": _pct(wall, 50), "p10": _pct(wall, 10), "p90": _pct(wall, 90),
                             "kernel_median": _pct(kernel, 50) if kernel else None, "calls": len(wall)}
        sess = []
        for _ in range(spec["calls"] // 2):
            t = time.perf_counter()
            s.run(one, raw=True)
            sess.append((time.perf_counter() - t) * 1e3)
        out["session_latency_ms"] = {"median": _pct(sess, 50), "p10": _pct(sess, 10), "p90": _pct(sess, 90)}
        xs = tiled(x, spec["images"])
        batch = spec["batch"]
        b.run_raw({name: xs[:batch]})
        passes = []
        for _ in range(spec["repeats"]):
            t = time.perf_counter()
            for i in range(0, len(xs), batch):
                b.run_raw({name: xs[i:i + batch]})
            passes.append(time.perf_counter() - t)
        out["throughput"] = {"batch": batch, "images": len(xs), "best_images_per_s": round(len(xs) / min(passes), 1),
                             "median_images_per_s": round(len(xs) / float(np.median(passes)), 1)}
    return out


def _measure_command(spec: dict, exe: Path, x: np.ndarray) -> dict:
    """fa-host with --timing-json: batch-1 calls, then batches of 256."""
    out = {"runtime": "fa-host"}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        np.save(tmp / "one.npy", x[:1])
        cmd = [str(exe), "run", spec["bundle"], "--quiet", "--input", str(tmp / "one.npy"), "--output",
               str(tmp / "y.npy"), "--repeat", str(spec["warmup"] + spec["calls"]), "--timing-json", str(tmp / "t.json")]
        subprocess.run(cmd, check=True, capture_output=True, text=True)
        t = json.loads((tmp / "t.json").read_text())
        out["target"] = f"{t['target']} ({t['mode']})"
        wall = t["wall_ms"][spec["warmup"]:]
        kernel = [k for k in t["kernel_ms"][spec["warmup"]:] if k >= 0]
        out["latency_ms"] = {"median": _pct(wall, 50), "p10": _pct(wall, 10), "p90": _pct(wall, 90),
                             "kernel_median": _pct(kernel, 50) if kernel else None, "calls": len(wall)}
        xs = tiled(x, spec["images"])
        np.save(tmp / "many.npy", xs)
        cmd = [str(exe), "run", spec["bundle"], "--quiet", "--input", str(tmp / "many.npy"), "--output",
               str(tmp / "y.npy"), "--batch", str(spec["batch"]), "--repeat", str(spec["repeats"] + 1),
               "--timing-json", str(tmp / "t.json")]
        subprocess.run(cmd, check=True, capture_output=True, text=True)
        t = json.loads((tmp / "t.json").read_text())
        per_pass = -(-len(xs) // spec["batch"])
        passes = [sum(t["wall_ms"][i:i + per_pass]) / 1e3 for i in range(per_pass, len(t["wall_ms"]), per_pass)]
        out["throughput"] = {"batch": spec["batch"], "images": len(xs),
                             "best_images_per_s": round(len(xs) / min(passes), 1),
                             "median_images_per_s": round(len(xs) / float(np.median(passes)), 1)}
    return out


def _icd_env(icd: str | None) -> dict:
    """The environment of every measuring process: one OpenCL vendor for all of them."""
    from fpga_accel.runtime.backends.native import bundled_pocl

    vendors = Path("/etc/OpenCL/vendors")
    if icd is None:
        icd = str(vendors) if vendors.is_dir() and any(vendors.glob("*.icd")) else bundled_pocl()
    if icd is None:
        raise SystemExit("no OpenCL vendor: install pocl-opencl-icd (Debian) or pass --icd")
    return dict(os.environ, OCL_ICD_VENDORS=str(icd))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models", nargs="*", default=["mnist_cnn"])
    ap.add_argument("--calls", type=int, default=300, help="timed batch-1 calls (default 300)")
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--images", type=int, default=4096, help="images per throughput pass (default 4096)")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--icd", help="OCL_ICD_VENDORS for every runtime (default: /etc/OpenCL/vendors when it lists a "
                                   "vendor, else the PoCL inside the pyopencl wheel)")
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(measure(json.loads(args.worker))))
        return 0

    from rich.console import Console
    from rich.table import Table

    import fpga_accel
    from fpga_accel.runtime.backends import native

    console = Console()
    m = machine(("pyopencl", "pocl-binary-distribution"))
    print_machine(console, m)
    if not native.library_path().is_file():
        console.print("building host/ ...")
        native.build_host()
    env = _icd_env(args.icd)
    results = {"machine": m, "icd": env.get("OCL_ICD_VENDORS", "system"), "models": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            bundle = fpga_accel.compile(data.model_path(name), Path(tmp) / f"{name}.fpga", calib=data.load_calib(name),
                                        progress=False)
            with fpga_accel.Session(bundle) as s:
                q = s.hardware_inputs(data.load_test(name)[0])
            (inp, x), = q.items()
            np.save(Path(tmp) / f"{name}_x.npy", x)
            rows = []
            for who in RUNTIMES:
                spec = {"runtime": who, "bundle": str(bundle.path), "inputs": str(Path(tmp) / f"{name}_x.npy"),
                        "input_name": inp, "calls": args.calls, "warmup": args.warmup, "images": args.images,
                        "batch": args.batch, "repeats": args.repeats}
                r = subprocess.run([sys.executable, __file__, "--worker", json.dumps(spec)], env=env,
                                   capture_output=True, text=True, check=False)
                if r.returncode != 0:
                    raise SystemExit(f"{who} on {name} failed:\n{r.stderr[-3000:]}")
                rows.append(json.loads(r.stdout.strip().splitlines()[-1]))
            results["models"][name] = rows
            table = Table(title=f"{name}: batch 1 latency (ms) and batch {args.batch} throughput")
            for col in ("runtime", "median", "p10", "p90", "kernel", "Session.run", "img/s best", "img/s median"):
                table.add_column(col)
            for row in rows:
                lat, thr, sess = row["latency_ms"], row["throughput"], row.get("session_latency_ms")
                table.add_row(row["runtime"], f"{lat['median']:.3f}", f"{lat['p10']:.3f}",
                              f"{lat['p90']:.3f}", "-" if lat["kernel_median"] is None else f"{lat['kernel_median']:.3f}",
                              "-" if sess is None else f"{sess['median']:.3f}", f"{thr['best_images_per_s']:.0f}",
                              f"{thr['median_images_per_s']:.0f}")
            console.print(table)
            for row in rows:
                console.print(f"  {row['runtime']}: {row['target']}")
    if args.json:
        write_json(args.json, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
