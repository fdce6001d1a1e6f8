"""Quantise mnist_cnn with onnxruntime into the QDQ example model ``mnist_cnn_qdq``.

    python models/quantize_qdq.py            # after models/train.py has written mnist_cnn

No torch needed. onnxruntime's ``quantize_static`` in QDQ format: int8 weights, symmetric and per
output channel; int8 activations (QuantType.QInt8, asymmetric, per tensor: the zero point lets
the post-ReLU tensors use the whole range); MinMax calibration on mnist_cnn's 200 calibration
images. No pre-processing pass is run, so the float graph between the QuantizeLinear /
DequantizeLinear pairs is exactly mnist_cnn's. The model shares mnist_cnn's calib.npz and
test.npz; its accuracy is measured by onnxruntime on the written file.
"""
from __future__ import annotations

import sys

import data
import numpy as np
import onnx
import onnxruntime
from common import HERE, file_entry, op_types, ort_accuracy, ort_logits, update_registry
from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static

SOURCE = "mnist_cnn"
NAME = "mnist_cnn_qdq"
BATCH = 50
OPTIONS = {"quant_format": QuantFormat.QDQ, "per_channel": True, "activation_type": QuantType.QInt8,
           "weight_type": QuantType.QInt8, "calibrate_method": CalibrationMethod.MinMax,
           # onnxruntime's defaults for int8, spelled out so the registry records what was used
           "extra_options": {"ActivationSymmetric": False, "WeightSymmetric": True}}


class Batches(CalibrationDataReader):
    """Feeds the calibration images in fixed batches of ``BATCH``."""

    def __init__(self, input_name: str, x: np.ndarray) -> None:
        self.feeds = iter([{input_name: x[i:i + BATCH]} for i in range(0, len(x), BATCH)])

    def get_next(self) -> dict | None:
        return next(self.feeds, None)


def main() -> int:
    src = data.info(SOURCE)
    input_name = src["input"]["name"]
    float_model = data.model_path(SOURCE)
    calib = data.load_calib(SOURCE)
    x_test, y_test = data.load_test(SOURCE)

    out = HERE / NAME / "model.onnx"
    out.parent.mkdir(parents=True, exist_ok=True)
    quantize_static(str(float_model), str(out), Batches(input_name, calib), **OPTIONS)

    correct, acc = ort_accuracy(out, x_test, y_test, input_name)
    agree = float((ort_logits(out, x_test, input_name).argmax(1) == ort_logits(float_model, x_test, input_name)
                   .argmax(1)).mean())
    print(f"{NAME}: onnxruntime test accuracy {acc:.2f}% ({correct}/{len(y_test)}), float model "
          f"{src['test_accuracy']:.2f}%, same prediction on {100 * agree:.1f}%, {out.stat().st_size} bytes")

    update_registry(NAME, {
        "description": f"{SOURCE} quantised by onnxruntime.quantization.quantize_static: QDQ format, int8 "
                       "weights (symmetric, per output channel), int8 activations (QuantType.QInt8, asymmetric, "
                       f"per tensor), MinMax calibration on the {len(calib)} images of {SOURCE}'s calib.npz",
        **file_entry(out, bytes=out.stat().st_size),
        "opset": next(o.version for o in onnx.load(str(out)).opset_import if o.domain in ("", "ai.onnx")),
        "ops": op_types(out),
        "derived_from": {"model": SOURCE, "sha256": src["sha256"]},
        "quantization": {"tool": f"onnxruntime {onnxruntime.__version__} quantize_static",
                         **{k: getattr(v, "name", v) for k, v in OPTIONS.items()}, "calibration_batches": BATCH,
                         "pre_processing": "none"},
        "input": src["input"],
        "output": src["output"],
        "preprocessing": src["preprocessing"] + "; the input stays float, the model quantises it itself",
        "split": src["split"],
        "calib": src["calib"],
        "test": src["test"],
        "test_accuracy": acc,
        "test_correct": correct,
        "float_agreement": round(100 * agree, 2),
        "accuracy_by": f"onnxruntime {onnxruntime.__version__} CPUExecutionProvider on model.onnx, graph optimisations off",
        "source": "models/quantize_qdq.py",
        "data_licence": src["data_licence"],
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
