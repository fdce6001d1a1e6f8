"""Compare a bundle with its float model: onnxruntime beside the accelerator on the same inputs.

Prints per output the top-1 agreement (for class scores), the max and mean absolute error and
the SQNR, and with --labels the accuracy of both. The float model is the ONNX file the bundle was
compiled from (or --model); its sha256 must match the manifest. Exit code 1 when
--min-agreement is given and not reached.
"""
from __future__ import annotations

import argparse
import hashlib
import math

import numpy as np

from ._output import Column, print_table

ORDER = 40


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ..runtime.backends import backend_names

    p.add_argument("bundle", metavar="NAME.fpga", help="the bundle written by `fpga-accel compile`")
    p.add_argument("--input", required=True, metavar="X.npy", help="inputs: .npy or .npz keyed by input name")
    p.add_argument("--labels", metavar="Y.npy", help="integer class labels (N,) to report the accuracy of both")
    p.add_argument("--model", metavar="MODEL.onnx", help="the float model (default: the source named in the manifest)")
    p.add_argument("--backend", default="emulator", choices=backend_names() + ["auto"],
                   help="where to run the bundle (default: emulator)")
    p.add_argument("--batch-size", type=int, default=256, metavar="N", help="images per call (default 256)")
    p.add_argument("--min-agreement", type=float, metavar="PERCENT",
                   help="exit with code 1 when the top-1 agreement of a class-score output is lower")


def source_model(manifest: dict, override: str | None) -> tuple[str, bytes]:
    """(path, bytes) of the float model, refused unless it is the one the bundle was compiled from."""
    import os

    from ..errors import InputError

    info = manifest["model"]
    path = override or info.get("source")
    if not path:
        raise InputError("the bundle was compiled from an in-memory model; pass --model MODEL.onnx")
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


def run_float(model: bytes, feeds: dict[str, np.ndarray], batch: int) -> dict[str, np.ndarray]:
    """onnxruntime on ``feeds`` in chunks (of the model's fixed batch, if it has one)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    sess = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
    fixed = sess.get_inputs()[0].shape[0]
    step = fixed if isinstance(fixed, int) and fixed > 0 else batch
    n = next(iter(feeds.values())).shape[0]
    names = [o.name for o in sess.get_outputs()]
    parts = [sess.run(names, {k: v[s:s + step] for k, v in feeds.items()}) for s in range(0, n, step)]
    return {name: np.concatenate([p[i] for p in parts]) for i, name in enumerate(names)}


def compare(ref: np.ndarray, got: np.ndarray) -> dict:
    """Error figures of ``got`` against ``ref``; top-1 agreement when both are class scores."""
    from .run import is_class_scores

    ref64, err = ref.astype(np.float64), got.astype(np.float64) - ref.astype(np.float64)
    noise, signal = float(np.sum(err ** 2)), float(np.sum(ref64 ** 2))
    out = {"max_abs": float(np.max(np.abs(err))), "mean_abs": float(np.mean(np.abs(err))),
           "sqnr_db": math.inf if noise == 0 else (10 * math.log10(signal / noise) if signal > 0 else -math.inf),
           "agree": None}
    if is_class_scores(ref):
        out["agree"] = int(np.sum(ref.argmax(axis=1) == got.argmax(axis=1)))
    return out


def run(args) -> int:
    from ..bundle import load_bundle
    from ..errors import InputError
    from ..runtime import Session
    from .run import in_file, is_class_scores, load_arrays

    bundle = load_bundle(args.bundle)
    path, model = source_model(bundle.manifest, args.model)
    with Session(bundle, backend=args.backend, batch_size=args.batch_size) as s:
        feeds = load_arrays(args.input, s.input_names)
        got = in_file(args.input, lambda: s.run(feeds))
        backend = s.backend.name
        dtypes = {t.name: t.dtype for t in s.qmodel.model_inputs}
    ref = run_float(model, {k: np.asarray(v, dtype=dtypes[k]) for k, v in feeds.items()}, args.batch_size)
    n = next(iter(got.values())).shape[0]
    print(f"model     {path} (sha256 {bundle.manifest['model']['sha256'][:12]}… verified)")
    print(f"bundle    {bundle.path}, backend {backend}, {n} samples")

    rows, low = [], []
    for name, y in got.items():
        c = compare(ref[name], y)
        agree = "-" if c["agree"] is None else f"{100 * c['agree'] / n:.2f}% ({c['agree']}/{n})"
        rows.append([name, agree, f"{c['max_abs']:.4g}", f"{c['mean_abs']:.4g}", f"{c['sqnr_db']:.1f}"])
        if c["agree"] is not None and args.min_agreement is not None and 100 * c["agree"] / n < args.min_agreement:
            low.append(name)
    print_table([Column("output"), Column("top-1 agreement", "right"), Column("max abs err", "right"),
                 Column("mean abs err", "right"), Column("SQNR dB", "right")], rows)
    for name, y in got.items():
        if is_class_scores(y):
            agree = int(np.sum(ref[name].argmax(axis=1) == y.argmax(axis=1)))
            print(f"agreement {name}: {100 * agree / n:.2f}% of top-1 predictions match ({agree}/{n})")

    if args.labels:
        labels = load_arrays(args.labels, ["labels"], "labels")["labels"]
        if labels.dtype.kind not in "iu" or labels.shape != (n,):
            raise InputError(f"{args.labels}: labels must be integers of shape ({n},); got {labels.dtype} "
                             f"{labels.shape}")
        scored = [k for k, y in got.items() if is_class_scores(y)]
        if not scored:
            raise InputError("--labels given, but no output holds class scores (N, classes)")
        k = scored[0]
        acc_f = 100 * float(np.mean(ref[k].argmax(axis=1) == labels))
        acc_q = 100 * float(np.mean(got[k].argmax(axis=1) == labels))
        print(f"accuracy  {k}: float (onnxruntime) {acc_f:.2f}%, accelerator ({backend}) {acc_q:.2f}% "
              f"on {n} labelled samples")
    if low:
        print(f"FAIL: top-1 agreement of {low} below {args.min_agreement}%")
        return 1
    return 0
