"""Emulator throughput of two source trees of fpga-accel, measured alternately on the same machine.

A change to the emulator is judged by running both versions in turns (separate processes, one
tree after the other, ``--rounds`` times) so that both see the same machine load; each round also
times onnxruntime on the float model in the same process, and the ratio to it is reported.

    git archive 863d84c | tar -x -C /tmp/before          # an older tree, unpacked anywhere
    python benchmarks/compare_trees.py /tmp/before . --models mnist_cnn --batches 32,256
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, write_json

#: what one process runs: compile with the tree's own compiler, then time Session.run and onnxruntime
CHILD = r"""
import json, sys, time
import numpy as np
root, name, batches, images, out = sys.argv[1], sys.argv[2], [int(b) for b in sys.argv[3].split(",")], int(sys.argv[4]), sys.argv[5]
sys.path.insert(0, root)
sys.path.insert(0, root + "/models")
import fpga_accel, data
import onnxruntime as ort
assert fpga_accel.__file__.startswith(root), fpga_accel.__file__
x, y = data.load_test(name)
xs = np.concatenate([x] * (-(-images // len(x))))[:images]
b = fpga_accel.compile(data.model_path(name), out, calib=data.load_calib(name), progress=False)
s = fpga_accel.Session(b, backend="emulator")
o = ort.InferenceSession(str(data.model_path(name)), providers=["CPUExecutionProvider"])
inp = data.info(name)["input"]["name"]
res = {}
for bs in batches:
    for who, f in (("emulator", lambda v: s.run(v)), ("onnxruntime", lambda v: o.run(None, {inp: v}))):
        f(xs[:bs])
        best = None
        for _ in range(2):
            t = time.perf_counter()
            for i in range(0, len(xs), bs):
                f(xs[i:i + bs])
            d = time.perf_counter() - t
            best = d if best is None else min(best, d)
        res[f"{who}@{bs}"] = len(xs) / best
print(json.dumps(res))
"""


def run_child(root: Path, name: str, batches: str, images: int, tmp: Path) -> dict:
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    env.pop("FPGA_ACCEL_THREADS", None)
    out = tmp / f"{name}-{abs(hash(str(root)))}.fpga"
    p = subprocess.run([sys.executable, "-c", CHILD, str(root.resolve()), name, batches, str(images), str(out)],
                       capture_output=True, text=True, env=env, cwd=tmp, check=False)
    if p.returncode:
        raise SystemExit(f"the run in {root} failed:\n{p.stderr[-3000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("before", type=Path)
    ap.add_argument("after", type=Path)
    ap.add_argument("--models", default="mnist_cnn")
    ap.add_argument("--batches", default="1,32,256")
    ap.add_argument("--images", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", metavar="PATH")
    args = ap.parse_args(argv)
    result = {"machine": machine(), "before": str(args.before), "after": str(args.after), "models": {}}
    print(f"{result['machine']['date_utc']}  {result['machine']['cpu']}, {result['machine']['usable_cpus']} CPUs, "
          f"load {result['machine']['load_average_at_start']}")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models.split(","):
            rounds = {"before": [], "after": []}
            for _ in range(args.rounds):
                for which in ("before", "after"):
                    rounds[which].append(run_child(getattr(args, which), name, args.batches, args.images, Path(tmp)))
            best = {w: {k: max(r[k] for r in rs) for k in rs[0]} for w, rs in rounds.items()}
            result["models"][name] = {"rounds": rounds, "best": best}
            for bs in args.batches.split(","):
                cells = []
                for w in ("before", "after"):
                    e, o = best[w][f"emulator@{bs}"], best[w][f"onnxruntime@{bs}"]
                    cells.append(f"{w}: emulator {e:,.0f}/s, onnxruntime {o:,.0f}/s, ratio {e / o:.3f}")
                print(f"{name} batch {bs}: " + " | ".join(cells))
    result["machine"]["load_average_at_end"] = list(os.getloadavg())
    if args.json:
        write_json(args.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
