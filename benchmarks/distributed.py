"""Distributed throughput: one bundle over a dataset with 1, 2 and 4 device actors on this machine.

Starts a local Ray instance (``num_cpus`` = the usable CPUs, 4 virtual ``fpga`` devices) and, for
each actor count, opens a :class:`fpga_accel.distributed.DevicePool`, runs one warm-up batch per
actor, then times ``--repeats`` runs over the images (best and median images/s; per-device
utilisation from the best run). Each actor's emulator uses one thread (``FPGA_ACCEL_THREADS=1``),
so an actor stands for one device fed by one core. A single ``Session`` in this process, with no
Ray, is the baseline.

Backend: csim (the generated HLS C++ built with g++) when it can run here, and the emulator; the
output says which figure is which. Without boards both compute on the host CPUs, so on a machine
with few cores the actors compete for the same cores: expect little scaling beyond the core count
(on boards the work is on the FPGAs and the host only moves data).

    python benchmarks/distributed.py --json benchmarks/results/distributed.json
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import data, machine, tiled, write_json

os.environ["FPGA_ACCEL_THREADS"] = "1"  # before Ray starts: its workers inherit the environment


def compile_bundle(model: str, out: Path):
    import fpga_accel
    from fpga_accel.codegen.hls_project import generate_hls

    return fpga_accel.compile(data.model_path(model), out / f"{model}.fpga", calib=data.load_calib(model),
                              progress=False, generators=[generate_hls])


def baseline(bundle, backend: str, x: np.ndarray, batch: int) -> float:
    from fpga_accel import Session

    with Session(bundle, backend=backend) as s:
        s.run(x[:batch])
        t = time.perf_counter()
        for i in range(0, len(x), batch):
            s.run(x[i:i + batch])
        return len(x) / (time.perf_counter() - t)


def measure(bundle, backend: str, devices: int, x: np.ndarray, batch: int, repeats: int) -> dict:
    from fpga_accel.distributed import DevicePool

    with DevicePool(bundle.path, devices=devices, backend=backend) as pool:
        pool.run(x[:batch * devices], batch_size=batch)  # warm-up: every actor's first batch
        runs = [pool.run(x, batch_size=batch).report for _ in range(repeats)]
    best = max(runs, key=lambda r: r.throughput)
    return {"devices": devices, "images": len(x), "batch": batch, "startup_s": round(best.startup, 2),
            "best_images_per_s": round(best.throughput, 1),
            "median_images_per_s": round(float(np.median([r.throughput for r in runs])), 1),
            "per_device": [{"device": d.device, "images": d.images, "busy_s": round(d.busy, 3),
                            "images_per_s": round(d.throughput(best.wall), 1),
                            "utilisation": round(d.utilisation(best.wall), 3)} for d in best.devices]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="mnist_cnn")
    ap.add_argument("--images", type=int, default=10_000, help="emulator images (default 10,000)")
    ap.add_argument("--csim-images", type=int, default=1024, help="csim images (default 1,024)")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", metavar="PATH", help="write the figures here")
    args = ap.parse_args()

    import ray

    from fpga_accel.runtime import get_backend

    info = machine(("ray",))
    cpus = info["usable_cpus"] or 1
    x_all, _ = data.load_test(args.model)
    out = {"machine": info, "model": args.model, "actor_threads": 1, "results": {}}
    with tempfile.TemporaryDirectory() as tmp:
        bundle = compile_bundle(args.model, Path(tmp))
        backends = ["emulator"]
        why = get_backend("csim").unavailable(bundle)
        if why is None:
            from fpga_accel.emulator.csim_library import build_csim

            build_csim(bundle, progress=False)  # once, before the actors load the cached library
            backends.insert(0, "csim")
        else:
            out["csim_unavailable"] = why
            print(f"csim unavailable ({why}); emulator only")
        ray.init(num_cpus=cpus, resources={"fpga": 4}, include_dashboard=False, log_to_driver=False)
        try:
            for backend in backends:
                n = args.csim_images if backend == "csim" else args.images
                x = tiled(x_all, n)
                base = baseline(bundle, backend, x, args.batch)
                rows = [measure(bundle, backend, d, x, args.batch, args.repeats) for d in (1, 2, 4)]
                out["results"][backend] = {"single_session_images_per_s": round(base, 1), "pools": rows}
                print(f"\n{backend}: {args.model}, {n} images, batches of {args.batch}, {cpus} usable CPU(s); "
                      f"one Session without Ray: {base:.1f} images/s")
                one = rows[0]["best_images_per_s"]
                for r in rows:
                    util = " ".join(f"{100 * d['utilisation']:.0f}%" for d in r["per_device"])
                    print(f"  {r['devices']} actor(s): {r['best_images_per_s']:8.1f} images/s (median "
                          f"{r['median_images_per_s']:.1f}), x{r['best_images_per_s'] / one:.2f} of 1 actor; "
                          f"utilisation per device {util}; start-up {r['startup_s']} s")
        finally:
            ray.shutdown()
    out["load_average_at_end"] = list(os.getloadavg())  # other work on the machine shifts every figure
    if args.json:
        write_json(args.json, out)
        print(f"\nwritten to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
