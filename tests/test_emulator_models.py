"""Whole models through the emulator, quantised at int8 with minmax calibration.

- The example models (models/): top-1 accuracy of the emulated int8 model within 0.5 points of the
  float model on the held-out test split (the acceptance figure), and top-1 agreement with float.
- The corpus models (../shared/corpus/models) that import and quantise: emulator against the float
  graph on random inputs (drawn from the calibration set), SQNR above a floor. Models that hit an op without an integer
  implementation are skipped with the compiler's reason (`pytest -rs` lists them).
Run with ``-s`` to see the figures.
"""
import warnings

import numpy as np
import pytest
from conftest import CORPUS
from model_util import random_input

from fpga_accel.emulator import emulate
from fpga_accel.errors import InputError, ModelError, UnsupportedModelError
from fpga_accel.frontend import import_onnx
from fpga_accel.ir.execute import run_graph
from fpga_accel.passes import run_flow
from fpga_accel.quant import QuantWarning
from fpga_accel.quant.calibrate import load_calibration, observe_ranges
from fpga_accel.quant.config import QuantConfig
from fpga_accel.quant.quantizer import quantize_model, split_edges, tensors_to_observe
from models import data

EXAMPLES = ["mnist_cnn", "digits_cnn", "mlp", "resnet_ds"]
MAX_ACCURACY_DROP = 0.5  # points of top-1 accuracy
MIN_AGREEMENT = 98.0  # % of test images with the same top-1 class as float


def quantised(g, calib: dict, config=None):
    """``g`` (after the hardware flow) quantised as the compiler does: parameters the model carries
    (QDQ / QONNX) as given, the others from ranges observed on ``calib``."""
    config = config or QuantConfig()
    _, hw, _ = split_edges(g)
    given = dict(g.meta.get("qparams") or {})
    want = {t: kw for t, kw in tensors_to_observe(g, hw, config).items() if t not in given}
    ranges = observe_ranges(g, calib, want, kind=config.observer) if want else {}
    return quantize_model(g, ranges, config, given=given or None)


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_model_int8_accuracy(name):
    g = import_onnx(data.model_path(name))
    run_flow(g, "hardware")
    qm = quantised(g, load_calibration(data.load_calib(name), g.inputs))
    x, y = data.load_test(name)
    feeds = {g.inputs[0].name: x}
    out = g.output_names[0]
    ref = run_graph(g, feeds)[out]
    got = emulate(qm, feeds).outputs[out]
    acc_float = 100 * np.mean(ref.argmax(1) == y)
    acc_int8 = 100 * np.mean(got.argmax(1) == y)
    agree = 100 * np.mean(ref.argmax(1) == got.argmax(1))
    print(f"\n{name}: float {acc_float:.2f}%  int8 {acc_int8:.2f}%  top-1 agreement {agree:.2f}% ({len(y)} images)")
    assert abs(acc_float - data.info(name)["test_accuracy"]) < 0.01  # the float graph is the registered model
    assert acc_int8 >= acc_float - MAX_ACCURACY_DROP, f"{name}: int8 {acc_int8:.2f}% vs float {acc_float:.2f}%"
    assert agree >= MIN_AGREEMENT


# --- corpus -------------------------------------------------------------------------------------------
MODELS = sorted(CORPUS.glob("models/**/*.onnx")) if CORPUS.is_dir() else []
SQNR_FLOOR_DB = 25.0
SQNR_FLOORS = {
    # eleven requantised stages (Conv, Selu table, BatchNorm as Mul and Add, ...): about 24 dB
    "hls4ml/conv2d_small_mp_keras.onnx": 20.0,
    # their own 2-bit activations (QONNX parameters used as given) against the unquantised float graph
    "qonnx/TFC_1W2A.onnx": 10.0, "qonnx/TFC_2W2A.onnx": 10.0,
}
#: models that import but cannot be quantised for a stated reason, pinned so a change is noticed
KNOWN_REFUSALS: dict = {}


def sqnr_db(ref: np.ndarray, got: np.ndarray) -> float:
    ref, got = np.asarray(ref, np.float64), np.asarray(got, np.float64)
    noise = np.sum((got - ref) ** 2)
    return float("inf") if noise == 0 else float(10 * np.log10(np.sum(ref ** 2) / noise))


def _key(path) -> str:
    return str(path.relative_to(CORPUS / "models"))


@pytest.mark.corpus
@pytest.mark.parametrize("path", MODELS, ids=[_key(p) for p in MODELS])
def test_corpus_model_sqnr(path):
    key = _key(path)
    try:
        g = import_onnx(path)
    except UnsupportedModelError as e:
        pytest.skip(f"not imported: {e}")
    run_flow(g, "hardware")
    # the test images are calibration images: the SQNR measures the integer arithmetic's rounding, not the
    # saturation of values a small calibration set never saw (tiny models have few values per image)
    calib = {t.name: random_input((64, *t.shape[1:]), t.dtype, seed=0) for t in g.inputs}
    test = {k: v[:32] for k, v in calib.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QuantWarning)  # e.g. a Relu that random inputs never open
        if key in KNOWN_REFUSALS:
            err, match = KNOWN_REFUSALS[key]
            with pytest.raises(err, match=match):
                quantised(g, calib)
            return
        try:
            qm = quantised(g, calib)
        except (UnsupportedModelError, ModelError) as e:
            if "no integer implementation" not in str(e):
                raise
            pytest.skip(f"not quantised: {e}")
    ref = run_graph(g, test)
    got = emulate(qm, test).outputs
    for name in g.output_names:
        db = sqnr_db(ref[name], got[name])
        floor = SQNR_FLOORS.get(key, SQNR_FLOOR_DB)
        print(f"\n{key} '{name}': SQNR {db:.1f} dB (floor {floor} dB)")
        assert db >= floor, f"{key} '{name}': emulator vs float SQNR {db:.1f} dB < {floor} dB"
