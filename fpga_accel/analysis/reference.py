"""The float side of every comparison: the model as ONNX defines it, on the same inputs.

onnxruntime runs with graph optimisations off (:func:`definition_session`): on, it replaces a QDQ
model's QuantizeLinear → op → DequantizeLinear chains by fused int8 kernels whose results depend on
the CPU (with or without VNNI) and differ from the QDQ definition; off, every node runs as the
ONNX spec says, which is what the accelerator's integers are held to (DESIGN.md §3). A model
onnxruntime cannot load (QONNX / Brevitas domains) runs in fpga-accel's own float reference.
"""
from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping

import numpy as np

from ..errors import InputError


def definition_session(model, threads: int | None = None):
    """An onnxruntime CPU session of ``model`` (path, bytes or ModelProto) that computes what the
    ONNX definition says: graph optimisations off, so QDQ pairs stay QuantizeLinear /
    DequantizeLinear nodes instead of fused integer kernels. ``threads`` pins the intra-op threads
    (1 gives bit-for-bit repeatable float sums)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    if threads is not None:
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
    if hasattr(model, "SerializeToString"):
        model = model.SerializeToString()
    elif isinstance(model, os.PathLike):
        model = os.fspath(model)
    return ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])


def run_onnxruntime(model, feeds: Mapping[str, np.ndarray], batch: int = 256) -> dict[str, np.ndarray]:
    """Every output of ``model`` on ``feeds`` in a :func:`definition_session`, in chunks of
    ``batch`` samples (or of the model's fixed batch, if it has one)."""
    sess = definition_session(model)
    fixed = sess.get_inputs()[0].shape[0]
    step = fixed if isinstance(fixed, int) and fixed > 0 else batch
    n = next(iter(feeds.values())).shape[0]
    names = [o.name for o in sess.get_outputs()]
    parts = [sess.run(names, {k: v[s:s + step] for k, v in feeds.items()}) for s in range(0, n, step)]
    return {name: np.concatenate([p[i] for p in parts]) for i, name in enumerate(names)}


def run_reference(model, feeds: Mapping[str, np.ndarray], batch: int = 256) -> tuple[dict[str, np.ndarray], str]:
    """(float outputs, what computed them): onnxruntime as the ONNX definition says, or fpga-accel's
    float reference executor for a model onnxruntime cannot load (QONNX / Brevitas domains)."""
    try:
        return run_onnxruntime(model, feeds, batch), "onnxruntime"
    except Exception as e:  # onnxruntime's load errors have no common public base class
        if "onnxruntime" not in type(e).__module__:
            raise
        why = str(e).splitlines()[0][:160]
    from ..frontend import import_onnx
    from ..ir.execute import run_graph

    g = import_onnx(model)
    n = next(iter(feeds.values())).shape[0]
    parts = [run_graph(g, {k: v[s:s + batch] for k, v in feeds.items()}) for s in range(0, n, batch)]
    outs = {name: np.concatenate([p[name] for p in parts]) for name in g.output_names}
    return outs, f"fpga-accel's float reference (onnxruntime cannot run this model: {why})"


def source_model(manifest: dict, override: str | os.PathLike | None = None) -> tuple[str, bytes]:
    """(path, bytes) of the float model a bundle was compiled from: ``override`` or the source the
    manifest names, refused unless its sha256 is the one the manifest records."""
    info = manifest["model"]
    path = os.fspath(override) if override is not None else info.get("source")
    if not path:
        raise InputError("the bundle was compiled from an in-memory model; pass the float model "
                         "(CLI: --model MODEL.onnx)")
    if not os.path.isfile(path):
        raise InputError(f"{path}: float model not found" + ("" if override else " (the source the manifest "
                         "names; it moved?); pass --model MODEL.onnx"))
    with open(path, "rb") as f:
        data = f.read()
    if hashlib.sha256(data).hexdigest() == info.get("file_sha256"):
        return path, data
    from ..frontend import load_onnx  # the sha256 import computes: of the model without metadata

    got = hashlib.sha256(load_onnx(data).SerializeToString()).hexdigest()
    if got != info.get("sha256"):
        raise InputError(f"{path}: sha256 {got[:16]}… is not that of the model this bundle was compiled from "
                         f"({str(info.get('sha256'))[:16]}…); pass the original model with --model or recompile")
    return path, data


def hardware_graph(model, manifest: dict | None = None):
    """The float IR of ``model`` after the ``hardware`` flow: the graph compile quantised, whose
    tensors carry the names and (NHWC) shapes of the bundle's integer tensors. ``manifest`` gives
    the input shapes for a model that leaves dimensions open."""
    from ..errors import ShapeError
    from ..frontend import import_onnx
    from ..passes import run_flow

    try:
        g = import_onnx(model)
    except ShapeError:
        if manifest is None:
            raise
        shapes = {t["name"]: (1, *(int(d) for d in t["shape"][1:])) for t in manifest.get("inputs", [])}
        g = import_onnx(model, input_shapes=shapes)
    run_flow(g, "hardware")
    return g
