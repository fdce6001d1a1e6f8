"""Load test of ``fpga-accel serve`` (emulator backend by default) beside one Session used directly.

The service runs in a process of its own (the command itself, loopback only); closed-loop clients
in this process (threads with a kept-alive connection each) send one image per request as .npy
for ``--seconds`` at each concurrency (1, 8, 64). Two service settings: dynamic batching
(``--max-batch``, ``--max-wait-ms``) and none (``--max-batch 1``). Beside them, the same images
through one ``Session.run`` directly: one image per call, and ``--max-batch`` per call.

At one client the two services are also measured in alternating 0.5 s slices (``--pairs``), so
the cost of waiting for a batch is seen apart from the machine's changing load.

Latency is each request's round trip at the client (p50, p99); throughput is answered images per
second of wall time. Clients and service share the machine's cores, so at 64 clients the client
threads take part of the CPU the service would have on its own.

    python benchmarks/serve.py                      # mnist_cnn, 3 s per point
    python benchmarks/serve.py --json benchmarks/results/serve.json
"""
from __future__ import annotations

import argparse
import http.client
import io
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "benchmarks"), str(ROOT)]

from _common import data, machine, write_json


def npy(x: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, x)
    return buf.getvalue()


def start_service(bundle: str, backend: str, max_batch: int, max_wait_ms: float) -> tuple[subprocess.Popen, int]:
    cmd = [sys.executable, "-m", "fpga_accel.cli", "serve", bundle, "--backend", backend, "--port", "0",
           "--max-batch", str(max_batch), "--max-wait-ms", str(max_wait_ms)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=ROOT, env=env)
    line = proc.stdout.readline()  # "serving ... on http://127.0.0.1:PORT/v1/infer ..."
    if "http://" not in line:
        proc.kill()
        raise RuntimeError(f"the service did not start: {line!r}")
    return proc, int(line.split("http://")[1].split("/")[0].rsplit(":", 1)[1])


def stop_service(proc: subprocess.Popen) -> None:
    proc.terminate()  # drains, then exits
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()


def load(port: int, bodies: list[bytes], clients: int, seconds: float) -> dict:
    """Closed-loop clients for ``seconds``: round-trip latencies and images per second."""
    lat: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    stop = time.monotonic() + seconds

    def client(k: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        i = k
        while time.monotonic() < stop:
            t = time.perf_counter()
            conn.request("POST", "/v1/infer", bodies[i % len(bodies)], {"Content-Type": "application/x-npy"})
            r = conn.getresponse()
            r.read()
            if r.status == 200:
                lat[k].append(time.perf_counter() - t)
            else:
                errors[k] += 1
            i += clients
        conn.close()

    t0 = time.perf_counter()
    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    all_lat = np.concatenate([np.asarray(x) for x in lat]) if any(lat) else np.zeros(1)
    return summary(all_lat, len(all_lat) / wall, errors=sum(errors))


def summary(lat: np.ndarray, images_per_s: float, errors: int = 0) -> dict:
    return {"p50_ms": float(np.percentile(lat, 50) * 1e3), "p99_ms": float(np.percentile(lat, 99) * 1e3),
            "images_per_s": images_per_s, "requests": len(lat), "errors": errors}


def direct(bundle: str, backend: str, images: np.ndarray, batch: int, seconds: float) -> dict:
    """One Session, ``batch`` images per call, for ``seconds``: latency per call, images/s."""
    import fpga_accel

    with fpga_accel.Session(bundle, backend=backend) as s:
        s.run(images[:batch])
        lat, done, i = [], 0, 0
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            x = images[i:i + batch]
            t = time.perf_counter()
            s.run(x)
            lat.append(time.perf_counter() - t)
            done += len(x)
            i = (i + batch) % (len(images) - batch)
        return summary(np.asarray(lat), done / (time.perf_counter() - t0))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model", nargs="?", default="mnist_cnn", help="an example model (default: mnist_cnn)")
    ap.add_argument("--seconds", type=float, default=3.0, help="duration of each point (default: 3)")
    ap.add_argument("--clients", default="1,8,64", help="concurrencies (default: 1,8,64)")
    ap.add_argument("--backend", default="emulator", help="the runtime backend (default: emulator)")
    ap.add_argument("--max-batch", type=int, default=32)
    ap.add_argument("--max-wait-ms", type=float, default=2.0)
    ap.add_argument("--pairs", type=int, default=10, help="alternating 1-client slices per setting (default: 10)")
    ap.add_argument("--json", metavar="PATH", help="write the figures as JSON")
    args = ap.parse_args()
    import fpga_accel

    clients = [int(c) for c in args.clients.split(",")]
    images = data.load_test(args.model)[0][:512]
    bodies = [npy(images[i:i + 1]) for i in range(len(images))]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        bundle = str(Path(tmp) / f"{args.model}.fpga")
        generators = None
        if args.backend == "csim":  # the C-simulation compiles the bundle's HLS project
            from fpga_accel.codegen.hls_project import generate_hls

            generators = [generate_hls]
        fpga_accel.compile(data.model_path(args.model), bundle, calib=data.HERE / args.model / "calib.npz",
                           progress=False, **({"generators": generators} if generators else {}))
        for batch in (1, args.max_batch):
            rows.append({"setting": f"Session.run direct, {batch} image(s)/call", "clients": 1,
                         **direct(bundle, args.backend, images, batch, args.seconds)})
        settings = [("serve, batching", args.max_batch, args.max_wait_ms), ("serve, no batching", 1, 0)]
        services = [start_service(bundle, args.backend, mb, wait) for _, mb, wait in settings]
        try:
            for (name, mb, wait), (_, port) in zip(settings, services):
                load(port, bodies, 4, 0.5)  # warm-up
                for c in clients:
                    rows.append({"setting": f"{name} (max-batch {mb}, max-wait {wait:g} ms)", "clients": c,
                                 **load(port, bodies, c, args.seconds)})
            # one client, the two services in alternating slices: the machine's load drifts alike for both
            slices: list[list[float]] = [[], []]
            for _ in range(args.pairs):
                for k, (_, port) in enumerate(services):
                    slices[k].append(load(port, bodies, 1, 0.5)["p50_ms"])
            paired = {name: float(np.median(p)) for (name, _, _), p in zip(settings, slices)}
        finally:
            for proc, _ in services:
                stop_service(proc)
    print(f"{args.model} on the {args.backend} backend, {args.seconds:g} s per point, one image per request")
    print(f"{'setting':48} {'clients':>7} {'p50 ms':>8} {'p99 ms':>8} {'images/s':>9} {'errors':>6}")
    for r in rows:
        print(f"{r['setting']:48} {r['clients']:>7} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} "
              f"{r['images_per_s']:>9.0f} {r['errors']:>6}")
    print(f"1 client, alternating 0.5 s slices ({args.pairs} each), median p50: "
          + ", ".join(f"{k} {v:.2f} ms" for k, v in paired.items()))
    if args.json:
        write_json(args.json, {"machine": machine(), "model": args.model, "backend": args.backend,
                               "seconds": args.seconds, "rows": rows, "paired_p50_ms_1_client": paired})
    return 0


if __name__ == "__main__":
    sys.exit(main())
