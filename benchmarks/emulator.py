"""The emulator beside onnxruntime: throughput, peak memory, int8 accuracy and agreement.

For every example model in models/ (or those named): compile it (8-bit, minmax on its 200
calibration images), then over the same images and batch sizes run

- the emulator through ``Session(bundle, backend="emulator")`` with its default worker threads
  (one per usable CPU) and with one thread (``FPGA_ACCEL_THREADS``; BLAS is held to one thread
  inside the emulator either way),
- onnxruntime on the float ONNX file (CPUExecutionProvider, default graph optimisations) with its
  default intra-op threads and with ``intra_op_num_threads=1``.

Images: the model's held-out test split tiled to ``--images`` (default 10,000). Accuracy and
agreement are on the distinct test images. Each runtime, batch size and thread count is measured in
a process of its own (so one runtime's idle threads or heap do not weigh on the other): first a pass
over all images right after loading the model, whose rise of the peak resident set is the memory
figure, then a warm-up batch and ``--repeats`` timed passes: images/s by the wall clock (best and
median) and per second of the process's CPU time (best; with one thread, robust to other load).

    python benchmarks/emulator.py                     # all models, batches 1, 32, 256
    python benchmarks/emulator.py mnist_cnn --json benchmarks/results/emulator.json
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import PeakRss, data, machine, print_machine, throughput, tiled, write_json


def ort_session(path, threads: int | None):
    import onnxruntime as ort

    so = ort.SessionOptions()
    if threads is not None:
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def measure(spec: dict) -> dict:
    """One runtime, batch size and thread count, in this (fresh) process: the memory pass first (the
    peak resident set rise over the process after loading the model, the first pass over the
    images), then ``repeats`` timed passes after a warm-up batch."""
    name, batch, threads, who = spec["model"], spec["batch"], spec["threads"], spec["runtime"]
    inp = data.info(name)["input"]["name"]
    x, _ = data.load_test(name)
    xs = tiled(x, spec["images"])
    if who == "emulator":
        os.environ["FPGA_ACCEL_THREADS"] = str(threads)
        import fpga_accel

        sess = fpga_accel.Session(spec["bundle"], backend="emulator")
        run = sess.run
    else:
        sess = ort_session(data.model_path(name), None if threads == "default" else threads)
        run = lambda b: sess.run(None, {inp: b})
    with PeakRss() as mem:
        for i in range(0, len(xs), batch):
            run(xs[i:i + batch])
    r = throughput(run, xs, batch, spec["repeats"])
    r.update(runtime=who, threads=threads, peak_rss_mb=mem.peak_mb, peak_rss_rise_mb=mem.delta_mb)
    return r


def run_child(spec: dict) -> dict:
    env = dict(os.environ)
    env.pop("FPGA_ACCEL_THREADS", None)
    p = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], capture_output=True, text=True,
                       env=env, check=False)
    if p.returncode:
        raise SystemExit(f"measuring {spec} failed:\n{p.stderr[-3000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def bench_model(name: str, n_images: int, batches: list[int], repeats: int, workdir: Path, log) -> dict:
    import fpga_accel
    from fpga_accel.emulator.executor import default_threads

    info = data.info(name)
    inp = info["input"]["name"]
    x, y = data.load_test(name)
    t = time.perf_counter()
    bundle = fpga_accel.compile(data.model_path(name), workdir / f"{name}.fpga", calib=data.load_calib(name),
                                progress=False)
    compile_s = time.perf_counter() - t
    threads_auto = default_threads()
    ref = ort_session(data.model_path(name), None).run(None, {inp: x})[0]
    with fpga_accel.Session(bundle, backend="emulator") as emu:
        got = emu.run(x)[info["output"]["name"]]
    row = {"model": name, "params": info.get("params"), "test_images": len(y), "compile_s": round(compile_s, 2),
           "float_accuracy": round(100 * float(np.mean(ref.argmax(1) == y)), 2),
           "int8_accuracy": round(100 * float(np.mean(got.argmax(1) == y)), 2),
           "top1_agreement": round(100 * float(np.mean(ref.argmax(1) == got.argmax(1))), 2),
           "float_runs": "onnxruntime on " + info["path"] + (" (a QDQ graph: its own int8 arithmetic)"
                                                            if "QuantizeLinear" in info.get("ops", []) else ""),
           "emulator_threads": threads_auto, "runs": []}
    settings = [("emulator", threads_auto), ("onnxruntime", "default")]
    if threads_auto != 1:
        settings += [("emulator", 1), ("onnxruntime", 1)]
    else:
        settings += [("onnxruntime", 1)]
    for batch in batches:
        for who, threads in settings:
            r = run_child({"model": name, "bundle": str(bundle.path), "batch": batch, "threads": threads,
                           "runtime": who, "images": n_images, "repeats": repeats})
            row["runs"].append(r)
            log(f"  {name} batch {batch:>3} {who:<11} threads {r['threads']!s:<7} "
                f"{r['best_images_per_s']:>10,.0f} images/s (median {r['median_images_per_s']:,.0f}), "
                f"peak RSS {r['peak_rss_mb']} MB (+{r['peak_rss_rise_mb']} MB in the first pass)")
    return row


def _find(runs, runtime, batch, threads_is_one):
    for r in runs:
        if r["runtime"] == runtime and r["batch"] == batch and (r["threads"] == 1) == threads_is_one:
            return r
    return None


def print_tables(console, result: dict) -> None:
    from rich.table import Table

    acc = Table(title="int8 emulator against the float model (onnxruntime), distinct test images")
    for col in ("model", "test images", "compile s", "float top-1 %", "int8 top-1 %", "agreement %"):
        acc.add_column(col, justify="right" if col != "model" else "left")
    for m in result["models"]:
        acc.add_row(m["model"], str(m["test_images"]), f"{m['compile_s']:.2f}", f"{m['float_accuracy']:.2f}",
                    f"{m['int8_accuracy']:.2f}", f"{m['top1_agreement']:.2f}")
    console.print(acc)
    tab = Table(title=f"throughput, images/s (best of {result['settings']['repeats']} passes over "
                      f"{result['settings']['images']:,} images); ratio = emulator / onnxruntime float")
    for col in ("model", "batch", "emulator (N thr)", "onnxruntime (default thr)", "ratio",
                "emulator (1 thr)", "onnxruntime (1 thr)", "ratio", "peak RSS rise MB emu / ort"):
        tab.add_column(col, justify="right" if col != "model" else "left")
    for m in result["models"]:
        for batch in result["settings"]["batches"]:
            e, o = _find(m["runs"], "emulator", batch, False), _find(m["runs"], "onnxruntime", batch, False)
            e1, o1 = _find(m["runs"], "emulator", batch, True), _find(m["runs"], "onnxruntime", batch, True)
            if e is None:  # one usable CPU: the default is one thread
                e = e1
            tab.add_row(m["model"], str(batch),
                        f"{e['best_images_per_s']:,.0f} ({e['threads']})", f"{o['best_images_per_s']:,.0f}",
                        f"{e['best_images_per_s'] / o['best_images_per_s']:.3f}",
                        f"{e1['best_images_per_s']:,.0f}", f"{o1['best_images_per_s']:,.0f}",
                        f"{e1['best_images_per_s'] / o1['best_images_per_s']:.3f}",
                        f"{e['peak_rss_rise_mb']} / {o['peak_rss_rise_mb']}")
    console.print(tab)
    cpu = Table(title="one thread each, images per CPU-second (the process's CPU time: hardly affected by other "
                      "work on the machine)")
    for col in ("model", "batch", "emulator", "onnxruntime", "ratio"):
        cpu.add_column(col, justify="right" if col != "model" else "left")
    for m in result["models"]:
        for batch in result["settings"]["batches"]:
            e1, o1 = _find(m["runs"], "emulator", batch, True), _find(m["runs"], "onnxruntime", batch, True)
            if e1 and o1 and "best_images_per_cpu_s" in e1:
                cpu.add_row(m["model"], str(batch), f"{e1['best_images_per_cpu_s']:,.0f}",
                            f"{o1['best_images_per_cpu_s']:,.0f}",
                            f"{e1['best_images_per_cpu_s'] / o1['best_images_per_cpu_s']:.3f}")
    console.print(cpu)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models", nargs="*", help=f"models to run (default: all of {', '.join(data.names())})")
    ap.add_argument("--images", type=int, default=10_000, help="images per pass (test split tiled)")
    ap.add_argument("--batches", default="1,32,256", help="comma-separated batch sizes")
    ap.add_argument("--repeats", type=int, default=3, help="timed passes per setting")
    ap.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    ap.add_argument("--child", help=argparse.SUPPRESS)  # one measurement, in its own process
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(measure(json.loads(args.child))))
        return 0
    from rich.console import Console

    console = Console(width=None if sys.stdout.isatty() else 150)
    names = args.models or data.names()
    batches = [int(b) for b in args.batches.split(",")]
    result = {"machine": machine(("rich",)),
              "settings": {"images": args.images, "batches": batches, "repeats": args.repeats,
                           "emulator": "Session(bundle, backend='emulator'), 8-bit minmax calibration",
                           "onnxruntime": "CPUExecutionProvider, default graph optimisations; 'default' threads "
                                          "= intra_op_num_threads 0 (onnxruntime's choice)"},
              "models": []}
    print_machine(console, result["machine"])
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            result["models"].append(bench_model(name, args.images, batches, args.repeats, Path(tmp), console.print))
    result["machine"]["load_average_at_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    print_tables(console, result)
    if args.json:
        write_json(args.json, result)
        console.print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
