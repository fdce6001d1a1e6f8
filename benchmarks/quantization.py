"""Top-1 accuracy of each quantisation method beside the float model and onnxruntime's own
``quantize_static``, on trained models: the bundled examples and the networks of
``benchmarks/quant_models/`` (a ReLU6 residual CNN on digits, MobileNetV2-style depthwise nets, a
squeeze-excitation CNN).

    python benchmarks/quantization.py                               # every model, 8-bit and 4-bit weights
    python benchmarks/quantization.py mnist_cnn --bits 8/8 --json benchmarks/results/quantization.json
    python benchmarks/quantization.py mbv2_mnist resnet_ds --bits 8/8 --split validation --methods default minmax +BC

Every method compiles the model with ``fpga_accel.compile`` (generators off: only the quantised
model is needed) on the model's 200 calibration images and runs the bundle in the emulator on the
held-out test split (every image neither trained on nor calibrated with), or with ``--split
validation`` on the training images not used for calibration (MNIST 3,800, digits 1,300; read from
the corpus ``models/train.py`` splits, ``../shared/corpus/data``), which is where a default is
chosen: the test split only reports. Settings: ``default`` (the config's defaults: at 8 bits, bias
correction on the depthwise layers only; below 8, on every layer), then each method named on and
the others off: ``minmax`` (the default observer, no method), ``+CLE``
(``equalize``), ``+BC`` (``bias_correction``), ``CLE+BC``, ``+AdaRound`` (``adaround``, default
options) and ``CLE+BC+AR``. ``ort QDQ`` is ``onnxruntime.quantization.quantize_static`` (QDQ,
per-channel int8 weights, int8 asymmetric activations, MinMax, the same 200 images) run by
onnxruntime with graph optimisations off (as ONNX defines the QDQ graph); ``ort scales`` is that
same QDQ model compiled by fpga_accel (its scales used as given) and run in the emulator: the
scales onnxruntime chose, computed with this project's integers. At 8/8 the JSON also gives, for
each method and ort QDQ, the share of images whose top-1 is the float model's (``agree``), the RMS
difference of the logits from the float model's (``logit_rms``), and for
each method the paired comparison with ort QDQ on the same images (``vs_ort``): the images only it
gets right (``better``), only ort QDQ gets right (``worse``), and McNemar's exact two-sided p-value
(the binomial test of ``better`` against ``better + worse`` at one half).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from _common import ROOT, data, machine, write_json
from common import CORPUS_DATA

import fpga_accel
from fpga_accel.compiler import load_qmodel
from fpga_accel.emulator.executor import emulate

QUANT_MODELS = ROOT / "benchmarks" / "quant_models"
OFF = {"equalize": False, "bias_correction": False, "adaround": False}
METHODS = {
    "default": {},
    "minmax": OFF,
    "+CLE": {**OFF, "equalize": True},
    "+BC": {**OFF, "bias_correction": True},
    "CLE+BC": {**OFF, "equalize": True, "bias_correction": True},
    "+AdaRound": {**OFF, "adaround": True},
    "CLE+BC+AR": {"equalize": True, "bias_correction": True, "adaround": True},
}
BUNDLED = ["digits_cnn", "mlp", "mnist_cnn", "resnet_ds"]


def model_files(name: str, split: str = "test") -> tuple[Path, np.ndarray, np.ndarray, np.ndarray]:
    """(onnx path, calibration inputs, inputs and labels of ``split``: "test" or "validation")."""
    src = name
    path = data.model_path(name) if name in BUNDLED else None
    if path is None:
        entry = json.loads((QUANT_MODELS / "models.json").read_text())[name]
        src, path = entry["data_files_of"], QUANT_MODELS / entry["file"]
    calib = data.load_calib(src)
    x, y = data.load_test(src) if split == "test" else validation(src, calib)
    return path, calib, x, y


def validation(src: str, calib: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The training images not used for calibration, split as ``models/train.py`` splits its corpus
    (checked: the calibration images and the test rows it gives must be the stored ones)."""
    mnist = "mnist_5k.npz" in data.info(src)["split"]
    with np.load(CORPUS_DATA / ("mnist_5k.npz" if mnist else "digits.npz")) as z:
        raw, labels = z["X"], z["y"].astype(np.int64)
    if mnist:
        per_class = [np.flatnonzero(labels == c) for c in range(10)]
        train, test = (np.concatenate([i[:400] for i in per_class]), np.concatenate([i[400:] for i in per_class]))
        used = np.concatenate([i[:20] for i in per_class])
        divisor = 255.0
    else:
        perm = np.random.default_rng(0).permutation(len(labels))
        train, test, used, divisor = perm[:1500], perm[1500:], perm[:200], 16.0
    rows = np.setdiff1d(train, used)

    def inputs(r):
        return (raw[r].astype(np.float32) / np.float32(divisor)).reshape(len(r), *calib.shape[1:])
    with np.load(data.HERE / data.info(src)["test"]["path"]) as z:
        stored_test = z["index"]
    if not (np.array_equal(inputs(used), calib) and np.array_equal(np.sort(test), np.sort(stored_test))):
        raise SystemExit(f"{src}: the corpus split does not reproduce the stored calibration/test files")
    return inputs(rows), labels[rows]


def paired(a: np.ndarray, b: np.ndarray, y: np.ndarray) -> dict:
    """Images only ``a`` gets right, only ``b`` gets right, and McNemar's exact two-sided p-value."""
    better, worse = int(np.sum((a == y) & (b != y))), int(np.sum((a != y) & (b == y)))
    n, k = better + worse, min(better, worse)
    p = min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n) if n else 1.0
    return {"better": better, "worse": worse, "p": round(p, 4)}


def ort_logits(path, x) -> np.ndarray:
    sys.path.insert(0, str(ROOT / "models"))
    from common import ort_logits as run

    return run(Path(path), x, "input")


def ort_qdq(path: Path, calib: np.ndarray, tmp: Path) -> Path:
    import logging

    import onnxruntime

    onnxruntime.set_default_logger_severity(3)  # its notes on unused initialisers would drown the table
    logging.getLogger().setLevel(logging.ERROR)
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter([{"input": calib[i:i + 50]} for i in range(0, len(calib), 50)])

        def get_next(self):
            return next(self.it, None)

    out = tmp / f"{path.stem}_qdq.onnx"
    quantize_static(str(path), str(out), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
                    calibrate_method=CalibrationMethod.MinMax,
                    extra_options={"ActivationSymmetric": False, "WeightSymmetric": True})
    return out


def top1(logits: np.ndarray, y: np.ndarray) -> float:
    return round(100.0 * float(np.mean(logits.argmax(1) == y)), 2)


def agree(logits: np.ndarray, ref: np.ndarray) -> float:
    return round(100.0 * float(np.mean(logits.argmax(1) == ref.argmax(1))), 2)


def logit_error(logits: np.ndarray, ref: np.ndarray) -> float:
    """RMS difference from the float model's logits: finer than top-1, where one image is 0.1 point."""
    return float(f"{np.sqrt(np.mean((logits.astype(np.float64) - ref) ** 2)):.4g}")


def emulated(bundle, x) -> np.ndarray:
    qm = load_qmodel(bundle)
    return next(iter(emulate(qm, {qm.model_inputs[0].name: x}).outputs.values()))


def measure(name: str, bits: list[str], tmp: Path, methods: list[str], split: str = "test") -> dict:
    path, calib, x, y = model_files(name, split)
    ref = ort_logits(path, x)
    row = {"model": name, f"{split}_images": len(y), "float": top1(ref, y), "settings": {}}
    for setting in bits:
        wb, ab = (int(b) for b in setting.split("/"))
        res, answers = {}, {}
        for method in methods:
            cfg = METHODS[method]
            t = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                b = fpga_accel.compile(path, tmp / f"{name}.fpga", calib=calib, progress=False, generators=[],
                                       config={"weight_bits": wb, "act_bits": ab, **cfg})
            out = emulated(b, x)
            answers[method] = out.argmax(1)
            res[method] = {"top1": top1(out, y), "agree": agree(out, ref), "logit_rms": logit_error(out, ref),
                           "compile_s": round(time.perf_counter() - t, 2)}
            print(f"  {name} w{wb}/a{ab} {method:10s} {res[method]['top1']:6.2f} %  "
                  f"({res[method]['compile_s']:.1f} s)", flush=True)
        if (wb, ab) == (8, 8):
            qdq = ort_qdq(path, calib, tmp)
            out = ort_logits(qdq, x)
            answers_ort = out.argmax(1)
            res["ort QDQ"] = {"top1": top1(out, y), "agree": agree(out, ref), "logit_rms": logit_error(out, ref)}
            for method in methods:
                res[method]["vs_ort"] = paired(answers[method], out.argmax(1), y)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                b = fpga_accel.compile(qdq, tmp / f"{name}_qdq.fpga", progress=False, generators=[])
            out = emulated(b, x)
            res["ort scales"] = {"top1": top1(out, y), "agree": agree(out, ref), "logit_rms": logit_error(out, ref),
                                 "vs_ort": paired(out.argmax(1), answers_ort, y)}
            print(f"  {name} w8/a8 ort QDQ    {res['ort QDQ']['top1']:6.2f} %  (its scales in the emulator: "
                  f"{res['ort scales']['top1']:.2f} %)", flush=True)
        row["settings"][setting] = res
    return row


def table(rows: list[dict], methods: list[str], split: str) -> str:
    """Top-1 per method; at 8/8, each method's images right only there / only in ort QDQ."""
    cols = methods + ["ort QDQ", "ort scales"]
    lines = [f"| model | {split} images | float | bits w/a | " + " | ".join(cols) + " |",
             "|---|---|---|---|" + "---|" * len(cols)]
    for r in rows:
        for s, res in r["settings"].items():
            cells = []
            for c in cols:
                v = res.get(c)
                pair = f" (+{v['vs_ort']['better']}/−{v['vs_ort']['worse']})" if v and "vs_ort" in v else ""
                cells.append(f"{v['top1']:.2f}{pair}" if v else "–")
            lines.append(f"| {r['model']} | {r[f'{split}_images']} | {r['float']:.2f} | {s} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    every = BUNDLED + sorted(json.loads((QUANT_MODELS / "models.json").read_text()))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="*", help=f"default: {' '.join(every)}")
    ap.add_argument("--bits", action="append", choices=["8/8", "4/8", "6/8"], help="weight/activation bits "
                    "(repeatable; default 8/8 and 4/8)")
    ap.add_argument("--methods", nargs="+", choices=list(METHODS), help="default: all of them")
    ap.add_argument("--split", choices=["test", "validation"], default="test", help="images to measure on "
                    "(validation: training images not used for calibration)")
    ap.add_argument("--json", help="write every figure and the machine's description here")
    args = ap.parse_args(argv)
    bad = [m for m in args.models if m not in every]
    if bad:
        ap.error(f"unknown model(s) {bad}; choose from {every}")
    start = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        methods = args.methods or list(METHODS)
        rows = [measure(m, args.bits or ["8/8", "4/8"], Path(tmp), methods, args.split) for m in args.models or every]
    print(table(rows, methods, args.split))
    if args.json:
        write_json(args.json, {"machine": machine(("onnxruntime",)), "seconds": round(time.time() - start, 1),
                               "split": args.split, "methods": {m: METHODS[m] for m in methods}, "results": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
