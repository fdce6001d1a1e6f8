"""A bundle's emulated outputs against the float model, per output and per layer (``fpga-accel
check`` without the backend comparison)."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .layer_errors import LAYER_BATCH, LayerErrors


def is_class_scores(y: np.ndarray) -> bool:
    """A float (N, C) array with C > 1: scores whose argmax is the class."""
    return y.ndim == 2 and y.shape[1] > 1 and y.dtype.kind == "f"


def output_errors(ref: np.ndarray, got: np.ndarray) -> dict:
    """Error figures of ``got`` against ``ref``: max and mean absolute error, SQNR in dB, and the
    number of top-1 predictions that agree when both are class scores (else None)."""
    ref64, err = ref.astype(np.float64), got.astype(np.float64) - ref.astype(np.float64)
    noise, signal = float(np.sum(err ** 2)), float(np.sum(ref64 ** 2))
    out = {"max_abs": float(np.max(np.abs(err))), "mean_abs": float(np.mean(np.abs(err))),
           "sqnr_db": math.inf if noise == 0 else (10 * math.log10(signal / noise) if signal > 0 else -math.inf),
           "agree": None}
    if is_class_scores(ref):
        out["agree"] = int(np.sum(ref.argmax(axis=1) == got.argmax(axis=1)))
    return out


@dataclass
class CheckResult:
    """:func:`check`'s answer."""

    samples: int
    reference: str  # what computed the float outputs
    outputs: dict[str, dict]  # per model output: :func:`output_errors`
    layers: LayerErrors  # per layer, against the float reference (saturation included)


def check(bundle, inputs, model=None, batch_size: int = LAYER_BATCH) -> CheckResult:
    """The emulator's outputs of ``bundle`` on ``inputs`` against the float model.

    ``inputs``: an array (one input) or a dict keyed by input name, float and preprocessed as for
    the float model; ``model``: the float ONNX model (default: the source the manifest names, its
    sha256 verified). The float outputs come from onnxruntime run as ONNX defines the model (a QDQ
    model with its quantisers, not fused kernels), or fpga-accel's float reference where
    onnxruntime cannot load it. ``layers`` is :func:`fpga_accel.layer_errors` on the same inputs.
    """
    from ..bundle import Bundle, load_bundle
    from ..compiler import load_qmodel
    from ..emulator import emulate
    from ..ir.execute import check_feeds
    from .layer_errors import compare_layers, model_feeds
    from .reference import hardware_graph, run_reference, source_model

    if not isinstance(bundle, Bundle):
        bundle = load_bundle(bundle)
    qm = load_qmodel(bundle)
    _, data = source_model(bundle.manifest, model)
    feeds = check_feeds(qm.host_before, model_feeds(qm, inputs))
    got = emulate(qm, feeds).outputs
    ref, by = run_reference(data, feeds, batch_size)
    outs = {name: output_errors(ref[name], y) for name, y in got.items()}
    layers = compare_layers(qm, hardware_graph(data, bundle.manifest), feeds, batch_size)
    return CheckResult(next(iter(feeds.values())).shape[0], by, outs, layers)
