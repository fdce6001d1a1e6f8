"""Helpers for whole-model tests: reference data, random inputs, onnxruntime at any batch size."""
from __future__ import annotations

import pathlib

import numpy as np
import onnx
from onnx import numpy_helper


def free_batch_dim(model: onnx.ModelProto, symbol: str = "N") -> onnx.ModelProto:
    """A copy of ``model`` whose graph inputs and outputs have a symbolic leading dimension, so
    onnxruntime accepts any batch size (for models that declare a fixed batch but do not depend on it)."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    consts = {t.name for t in m.graph.initializer}
    for t in list(m.graph.input) + list(m.graph.output):
        dims = t.type.tensor_type.shape.dim
        if t.name not in consts and len(dims):
            dims[0].Clear()
            dims[0].dim_param = symbol
    return m


def random_input(shape, dtype, seed: int) -> np.ndarray:
    """Standard normal floats (uniform 0..9 for integer inputs) of ``shape``."""
    r = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "f":
        return r.standard_normal(shape).astype(dtype)
    return r.integers(0, 10, shape).astype(dtype)


def reference_pairs(model_path: pathlib.Path) -> list[tuple[str, list[np.ndarray], list[np.ndarray]]]:
    """The ``test_data_set_*`` folders beside a model: (folder name, inputs, outputs) in file order."""
    def load(p):
        return numpy_helper.to_array(onnx.load_tensor(str(p)))

    pairs = []
    for d in sorted(model_path.parent.glob("test_data_set_*")):
        ins = [load(p) for p in sorted(d.glob("input_*.pb"), key=lambda p: int(p.stem.split("_")[1]))]
        outs = [load(p) for p in sorted(d.glob("output_*.pb"), key=lambda p: int(p.stem.split("_")[1]))]
        pairs.append((d.name, ins, outs))
    return pairs
