"""Top-1 accuracy of each quantisation method beside the float model and onnxruntime's own
``quantize_static``, on trained models: the bundled examples and the networks of
``benchmarks/quant_models/`` (a ReLU6 residual CNN on digits, MobileNetV2-style depthwise nets, a
squeeze-excitation CNN).

    python benchmarks/quantization.py                               # every model, 8-bit and 4-bit weights
    python benchmarks/quantization.py mnist_cnn --bits 8 --json benchmarks/results/quantization.json

Every method compiles the model with ``fpga_accel.compile`` (generators off: only the quantised
model is needed) on the model's 200 calibration images and runs the bundle in the emulator on the
held-out test split. Settings (each method named is on, the others off): ``minmax`` (the default
observer, no method), ``+CLE``
(``equalize``), ``+BC`` (``bias_correction``), ``CLE+BC``, ``+AdaRound`` (``adaround``, default
options) and ``CLE+BC+AR``. ``ort QDQ`` is ``onnxruntime.quantization.quantize_static`` (QDQ,
per-channel int8 weights, int8 asymmetric activations, MinMax, the same 200 images) run by
onnxruntime with graph optimisations off (as ONNX defines the QDQ graph); ``ort scales`` is that
same QDQ model compiled by fpga_accel (its scales used as given) and run in the emulator: the
scales onnxruntime chose, computed with this project's integers. At 8/8 the JSON also gives, for
minmax and ort QDQ, the share of test images whose top-1 is the float model's (``agree``).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from _common import ROOT, data, machine, write_json

import fpga_accel
from fpga_accel.compiler import load_qmodel
from fpga_accel.emulator.executor import emulate

QUANT_MODELS = ROOT / "benchmarks" / "quant_models"
OFF = {"equalize": False, "bias_correction": False, "adaround": False}
METHODS = {
    "minmax": OFF,
    "+CLE": {**OFF, "equalize": True},
    "+BC": {**OFF, "bias_correction": True},
    "CLE+BC": {**OFF, "equalize": True, "bias_correction": True},
    "+AdaRound": {**OFF, "adaround": True},
    "CLE+BC+AR": {"equalize": True, "bias_correction": True, "adaround": True},
}
BUNDLED = ["digits_cnn", "mlp", "mnist_cnn", "resnet_ds"]


def model_files(name: str) -> tuple[Path, np.ndarray, np.ndarray, np.ndarray]:
    """(onnx path, calibration inputs, test inputs, test labels)."""
    if name in BUNDLED:
        x, y = data.load_test(name)
        return data.model_path(name), data.load_calib(name), x, y
    entry = json.loads((QUANT_MODELS / "models.json").read_text())[name]
    src = entry["data_files_of"]
    x, y = data.load_test(src)
    return QUANT_MODELS / entry["file"], data.load_calib(src), x, y


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


def emulated(bundle, x) -> np.ndarray:
    qm = load_qmodel(bundle)
    return next(iter(emulate(qm, {qm.model_inputs[0].name: x}).outputs.values()))


def measure(name: str, bits: list[str], tmp: Path) -> dict:
    path, calib, x, y = model_files(name)
    ref = ort_logits(path, x)
    row = {"model": name, "test_images": len(y), "float": top1(ref, y), "settings": {}}
    for setting in bits:
        wb, ab = (int(b) for b in setting.split("/"))
        res = {}
        for method, cfg in METHODS.items():
            t = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                b = fpga_accel.compile(path, tmp / f"{name}.fpga", calib=calib, progress=False, generators=[],
                                       config={"weight_bits": wb, "act_bits": ab, **cfg})
            out = emulated(b, x)
            res[method] = {"top1": top1(out, y), "agree": agree(out, ref), "compile_s": round(time.perf_counter() - t, 2)}
            print(f"  {name} w{wb}/a{ab} {method:10s} {res[method]['top1']:6.2f} %  "
                  f"({res[method]['compile_s']:.1f} s)", flush=True)
        if (wb, ab) == (8, 8):
            qdq = ort_qdq(path, calib, tmp)
            out = ort_logits(qdq, x)
            res["ort QDQ"] = {"top1": top1(out, y), "agree": agree(out, ref)}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                b = fpga_accel.compile(qdq, tmp / f"{name}_qdq.fpga", progress=False, generators=[])
            out = emulated(b, x)
            res["ort scales"] = {"top1": top1(out, y), "agree": agree(out, ref)}
            print(f"  {name} w8/a8 ort QDQ    {res['ort QDQ']['top1']:6.2f} %  (its scales in the emulator: "
                  f"{res['ort scales']['top1']:.2f} %)", flush=True)
        row["settings"][setting] = res
    return row


def table(rows: list[dict]) -> str:
    cols = list(METHODS) + ["ort QDQ", "ort scales"]
    lines = ["| model | test images | float | bits w/a | " + " | ".join(cols) + " |",
             "|---|---|---|---|" + "---|" * len(cols)]
    for r in rows:
        for s, res in r["settings"].items():
            cells = [f"{res[c]['top1']:.2f}" if c in res else "–" for c in cols]
            lines.append(f"| {r['model']} | {r['test_images']} | {r['float']:.2f} | {s} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    every = BUNDLED + sorted(json.loads((QUANT_MODELS / "models.json").read_text()))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="*", help=f"default: {' '.join(every)}")
    ap.add_argument("--bits", action="append", choices=["8/8", "4/8", "6/8"], help="weight/activation bits "
                    "(repeatable; default 8/8 and 4/8)")
    ap.add_argument("--json", help="write every figure and the machine's description here")
    args = ap.parse_args(argv)
    bad = [m for m in args.models if m not in every]
    if bad:
        ap.error(f"unknown model(s) {bad}; choose from {every}")
    start = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        rows = [measure(m, args.bits or ["8/8", "4/8"], Path(tmp)) for m in args.models or every]
    print(table(rows))
    if args.json:
        write_json(args.json, {"machine": machine(("onnxruntime",)), "seconds": round(time.time() - start, 1),
                               "methods": METHODS, "results": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
