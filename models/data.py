"""Read the example models' files through ``registry.json``, one way for every caller.

numpy only. Every file is checked against the sha256 the registry records before it is used, so a
stale or edited file fails loudly instead of silently shifting an accuracy.

    from models import data
    x, y = data.load_test("mnist_cnn")          # float32 in the model's input shape, int64 labels
    calib = data.load_calib("mnist_cnn")        # float32 training inputs for calibration
    onnx_file = data.model_path("mnist_cnn")
"""
from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REGISTRY = HERE / "registry.json"


class ModelDataError(ValueError):
    """An example model or data file is unknown, missing or does not match the registry."""


@lru_cache(maxsize=1)
def _registry() -> dict:
    if not REGISTRY.is_file():
        raise ModelDataError(f"{REGISTRY} is missing; regenerate it with `python models/train.py`")
    with open(REGISTRY, encoding="utf-8") as f:
        return json.load(f)


def names() -> list[str]:
    """Names of the registered example models, sorted."""
    return sorted(_registry()["models"])


def info(name: str) -> dict:
    """The registry entry of model ``name`` (paths in it are relative to ``models/``)."""
    models = _registry()["models"]
    if name not in models:
        raise ModelDataError(f"unknown example model '{name}'; known: {', '.join(sorted(models))}")
    return models[name]


def sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _checked(name: str, entry: dict) -> Path:
    path = HERE / entry["path"]
    if not path.is_file():
        raise ModelDataError(f"model '{name}': file {path} is missing; regenerate it with {info(name)['source']}")
    got = sha256(path)
    if got != entry["sha256"]:
        raise ModelDataError(
            f"model '{name}': {entry['path']} has sha256 {got}, the registry says {entry['sha256']}; "
            f"restore the file or regenerate it with {info(name)['source']}"
        )
    return path


def model_path(name: str) -> Path:
    """Path of the model's ONNX file, after checking its sha256."""
    return _checked(name, info(name))


def load_calib(name: str) -> np.ndarray:
    """Calibration inputs (float32, already preprocessed, shape (K, *input shape without N)).

    The array is stored under the model's input name, so ``{input_name: x}`` is a ready feed.
    """
    entry = info(name)
    with np.load(_checked(name, entry["calib"])) as z:
        return np.asarray(z[entry["input"]["name"]], dtype=np.float32)


def load_test(name: str) -> tuple[np.ndarray, np.ndarray]:
    """The held-out test split: (x float32 preprocessed in the model's input shape, y int64 labels).

    The file stores raw integer pixels ``x`` and the ``divisor`` that maps them to [0, 1], the same
    float32 division the model was trained with.
    """
    entry = info(name)
    with np.load(_checked(name, entry["test"])) as z:
        x = z["x"].astype(np.float32) / np.float32(z["divisor"])
        y = z["y"].astype(np.int64)
    return x, y
