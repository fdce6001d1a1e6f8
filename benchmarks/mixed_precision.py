"""Mixed-precision search on one trained model: the curve of top-1 accuracy against the folder's
predicted DSPs (or frames/s) of the searched configurations, beside uniform 8/6/4 bits.

    python benchmarks/mixed_precision.py                              # resnet_ds on pynq-z2
    python benchmarks/mixed_precision.py --json benchmarks/results/mixed_precision.json

Each run is ``fpga_accel.search_bits`` with the model's 200 calibration images and the even-indexed
500 test images with their labels (250 to measure sensitivity, 250 held out; a step must stay
within the budget on both and, over all 500, beyond the noise: loss + 1 standard error, and the
right answers the logits' noise predicts lost);
every configuration on the trade-off front, each uniform width and the chosen one are then
compiled and run in the emulator on the odd-indexed 500 test images, which the search never saw
("test" column). The test files are sorted by class, so both halves are interleaved. DSPs, LUTs and frames/s are the folder's estimates, not synthesis results.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from _common import ROOT, data, machine, write_json

import fpga_accel
from fpga_accel.compiler import load_qmodel
from fpga_accel.emulator import emulate

RUNS = [  # (objective, ceiling, budget in points of top-1)
    ("dsp", 0.8, 0.5),
    ("dsp", 0.8, 1.0),
    ("fps", 0.3, 1.0),
]


def top1(bundle, x, y) -> float:
    qm = load_qmodel(bundle)
    out = next(iter(emulate(qm, {qm.model_inputs[0].name: x}).outputs.values()))
    return round(100.0 * float(np.mean(out.argmax(1) == y)), 2)


def float_top1(path, x, y) -> float:
    sys.path.insert(0, str(ROOT / "models"))
    from common import ort_logits

    return round(100.0 * float(np.mean(ort_logits(Path(path), x, "input").argmax(1) == y)), 2)


def run(name: str, board: str, objective: str, ceiling: float, budget: float, tmp: Path) -> dict:
    x, y = data.load_test(name)
    xs, ys, xt, yt = x[0::2], y[0::2], x[1::2], y[1::2]  # the search's images, the test images
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = fpga_accel.search_bits(data.model_path(name), data.load_calib(name), labels=ys, inputs=xs,
                                     board=board, budget=budget, objective=objective, ceiling=ceiling)
    took = time.perf_counter() - start
    rows = []
    for r in res.table:
        if not (r["kind"] == "uniform" or r["pareto"] or r["chosen"]):
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            b = res.compile(tmp / "m.fpga", r, generators=[])
        rows.append({k: r[k] for k in ("label", "kind", "step", "fps", "dsp", "lut", "bram18", "within_budget",
                                        "beyond", "pareto", "chosen", "bits")}
                    | {"held_out": round(r["metric"], 2), "loss_halves": [round(v, 2) for v in r["loss_halves"]],
                       "loss_bound": round(r["loss_bound"], 2), "breakage": round(r["breakage"], 2),
                       "test": top1(b, xt, yt)})
    key = (lambda r: r["fps"]) if objective == "fps" else (lambda r: -r[objective])
    rows.sort(key=key)
    out = {"model": name, "board": board, "objective": objective, "ceiling": ceiling, "budget": budget,
           "target_fps": res.target_fps, "reference_held_out": round(res.reference, 2),
           "float_test": float_top1(data.model_path(name), xt, yt),
           "configurations_measured": len(res.table), "evaluations": res.evaluations,
           "search_s": round(took, 1), "stopped": res.stopped, "rows": rows}
    print(table(out), flush=True)
    return out


def table(run: dict) -> str:
    goal = "fps" if run["objective"] == "fps" else run["objective"]
    lines = [(f"\n{run['model']} on {run['board']}: objective {goal}, ceiling {run['ceiling']:g}, budget "
             f"{run['budget']:g} points (float: held-out {run['reference_held_out']:.2f} %, test "
             f"{run['float_test']:.2f} %); {run['configurations_measured']} configurations, {run['search_s']:.0f} s"),
             ("| configuration | loss even / odd half | loss bound | predicted breakage | test top-1 | frames/s | DSP "
              "| LUT | BRAM18 | in budget | |"),
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in run["rows"]:
        mark = "chosen" if r["chosen"] else ("front" if r["pareto"] else "")
        lo, hi = r["loss_halves"]
        lines.append(f"| {r['label']} | {lo:+.2f} / {hi:+.2f} | {r['loss_bound']:+.2f} | {r['breakage']:.2f} | "
                     f"{r['test']:.2f} | "
                     f"{r['fps']:,.0f} | {r['dsp']} | {r['lut']:,} | {r['bram18']} | "
                     f"{'yes' if r['within_budget'] else 'no'} | {mark} |")
    lines += [f"stopped: {s}" for s in run["stopped"]]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="resnet_ds", choices=data.names())
    ap.add_argument("--board", default="pynq-z2")
    ap.add_argument("--json", help="write every figure and the machine's description here")
    args = ap.parse_args(argv)
    start = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        runs = [run(args.model, args.board, o, c, b, Path(tmp)) for o, c, b in RUNS]
    if args.json:
        write_json(args.json, {"machine": machine(("onnxruntime",)), "seconds": round(time.time() - start, 1),
                               "search_images": "even test indices", "test_images": "odd test indices",
                               "runs": runs})
    return 0


if __name__ == "__main__":
    sys.exit(main())
