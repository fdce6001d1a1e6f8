"""Would a quantisation chosen per model from its calibration data beat the default at 8 bits?

    python benchmarks/quant_models/candidates.py [MODEL ...] [--json benchmarks/results/quantization_candidates.json]

Each candidate config is compiled twice from the model's 200 calibration images: on all of them,
and run on the validation images (training images not used for calibration: 3,800 MNIST, 1,300
digits; ``quantization.py --split validation``), and on three quarters of them (every sample but
each fourth), run on the quarter held out. The held-out quarter is what a compiler could choose
with, the user's calibration data alone: the candidate whose logits there are closest to the
float model's (mean squared difference) is the pick. On the validation images each candidate gets
top-1, the paired comparison with onnxruntime's ``quantize_static`` on the same calibration
images (images only it / only onnxruntime gets right, McNemar's exact p), the same against the
default, the RMS difference of its logits from the float model's, and its compile time (all 200
images, generators off, on the machine the JSON describes). ``discordant`` lists the validation
images the default and onnxruntime answer differently, one right and one wrong: which one is
right, whether the float model is, and the float model's margin (its top logit minus the
runner-up; ``float_margin_median`` for comparison).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import machine, write_json
from quantization import BUNDLED, QUANT_MODELS, emulated, model_files, ort_logits, ort_qdq, paired

import fpga_accel

#: the config keys of each candidate on top of 8 bits (``default``: the config's defaults)
CANDIDATES = {
    "default": {},
    "no bias correction": {"bias_correction": False},
    "percentile 99.99": {"observer": "percentile", "percentile": 99.99},
    "mse observer": {"observer": "mse"},
    "adaround 200": {"adaround": {"iterations": 200, "seconds": 3600}},
}


def held_out(n: int) -> np.ndarray:
    """Every fourth calibration sample (the MNIST calibration images are ordered by class)."""
    return np.arange(n) % 4 == 3


def compile_run(path, calib, x, cfg, dest: Path) -> tuple[np.ndarray, float]:
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        b = fpga_accel.compile(path, dest, calib=calib, progress=False, generators=[], config={"bits": 8, **cfg})
    seconds = time.perf_counter() - t
    return emulated(b, x), seconds


def rms(a: np.ndarray, b: np.ndarray) -> float:
    return float(f"{np.sqrt(np.mean((a.astype(np.float64) - b) ** 2)):.4g}")


def measure(name: str, tmp: Path) -> dict:
    path, calib, x, y = model_files(name, "validation")
    ref, ref_cal = ort_logits(path, x), ort_logits(path, calib)
    ort = ort_logits(ort_qdq(path, calib, tmp), x).argmax(1)
    hold = held_out(len(calib))
    rows, answers = {}, {}
    for c, cfg in CANDIDATES.items():
        out, seconds = compile_run(path, calib, x, cfg, tmp / f"{name}.fpga")
        out_h, _ = compile_run(path, calib[~hold], calib[hold], cfg, tmp / f"{name}_h.fpga")
        answers[c] = out.argmax(1)
        rows[c] = {"top1": round(100 * float(np.mean(answers[c] == y)), 2), "vs_ort": paired(answers[c], ort, y),
                   "vs_default": paired(answers[c], answers["default"], y), "logit_rms": rms(out, ref),
                   "held_out_rms": rms(out_h, ref_cal[hold]), "compile_s": round(seconds, 1)}
        print(f"  {name} {c:18s} {rows[c]['top1']:6.2f} %  vs ort +{rows[c]['vs_ort']['better']}/"
              f"-{rows[c]['vs_ort']['worse']}  logits {rows[c]['logit_rms']}  held out {rows[c]['held_out_rms']}  "
              f"({seconds:.1f} s)", flush=True)
    pick = min(rows, key=lambda c: rows[c]["held_out_rms"])
    return {"model": name, "validation_images": len(y), "float": round(100 * float(np.mean(ref.argmax(1) == y)), 2),
            "ort QDQ": round(100 * float(np.mean(ort == y)), 2), "pick": pick, "candidates": rows,
            **discordant(answers["default"], ort, ref, y)}


def discordant(ours: np.ndarray, ort: np.ndarray, ref: np.ndarray, y: np.ndarray) -> dict:
    """The images only one of ``ours`` and ``ort`` gets right, with the float model's answer and margin."""
    top2 = np.sort(ref, axis=1)[:, -2:]
    margin = top2[:, 1] - top2[:, 0]
    rows = [{"image": int(i), "right": "default" if ours[i] == y[i] else "ort QDQ",
             "float_right": bool(ref[i].argmax() == y[i]), "float_margin": float(f"{margin[i]:.3g}")}
            for i in np.flatnonzero((ours == y) != (ort == y))]
    return {"float_margin_median": float(f"{np.median(margin):.3g}"), "discordant": rows}


def table(rows: list[dict]) -> str:
    cols = list(CANDIDATES)
    lines = ["| model | " + " | ".join(cols) + " | pick |", "|---|" + "---|" * (len(cols) + 1)]
    for r in rows:
        cells = [f"+{v['vs_ort']['better']}/−{v['vs_ort']['worse']}, {v['logit_rms']}"
                 for v in (r["candidates"][c] for c in cols)]
        lines.append(f"| {r['model']} | " + " | ".join(cells) + f" | {r['pick']} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    import json

    every = BUNDLED + sorted(json.loads((QUANT_MODELS / "models.json").read_text()))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="*", help=f"default: {' '.join(every)}")
    ap.add_argument("--json", help="write every figure and the machine's description here")
    args = ap.parse_args(argv)
    bad = [m for m in args.models if m not in every]
    if bad:
        ap.error(f"unknown model(s) {bad}; choose from {every}")
    start = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        rows = [measure(m, Path(tmp)) for m in args.models or every]
    print("cells: images only it / only ort QDQ gets right, RMS logit difference from float")
    print(table(rows))
    d = [r for row in rows for r in row["discordant"]]
    for who in ("default", "ort QDQ"):
        mine = [r for r in d if r["right"] == who]
        print(f"only {who} right: {len(mine)} images, the float model right on {sum(r['float_right'] for r in mine)}")
    if d:
        print(f"largest float margin of a discordant image: {max(r['float_margin'] for r in d)}; median margins "
              + ", ".join(f"{r['model']} {r['float_margin_median']}" for r in rows))
    if args.json:
        write_json(args.json, {"machine": machine(("onnxruntime",)), "seconds": round(time.time() - start, 1),
                               "candidates": CANDIDATES, "held_out": "every fourth calibration sample",
                               "results": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
