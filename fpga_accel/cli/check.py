"""Compare a bundle's backends with the emulator and with the float model on the same inputs.

Every backend that can run here (or those named with --backend) computes the hardware integers
of the inputs; they must equal the emulator's bit for bit. Then per output and backend: the
top-1 agreement with the float model in onnxruntime (for class scores), the max and mean
absolute error and the SQNR, and with --labels the accuracy of both. The float model is the ONNX
file the bundle was compiled from (or --model); its sha256 must match the manifest, and
onnxruntime runs it as ONNX defines it (a QDQ model with its quantisers, not fused int8 kernels).
Saturation is counted where the float model's value lies beyond a layer's range; --layers prints
per layer the error against the float reference (fpga_accel.layer_errors). Exit code 1 when a
backend differs from the emulator or fails, or --min-agreement is given and not reached.
"""
from __future__ import annotations

import argparse
import math

import numpy as np

from ._output import Column, echo, print_table

ORDER = 40


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ..runtime.backends import backend_names

    p.add_argument("bundle", metavar="NAME.fpga", help="the bundle written by `fpga-accel compile`")
    p.add_argument("--input", required=True, metavar="X.npy", help="inputs: .npy or .npz keyed by input name")
    p.add_argument("--labels", metavar="Y.npy", help="integer class labels (N,) to report the accuracy of both")
    p.add_argument("--model", metavar="MODEL.onnx", help="the float model (default: the source named in the manifest)")
    p.add_argument("--backend", action="append", choices=backend_names(), metavar="NAME",
                   help="a backend to compare with the emulator (repeatable; default: every backend, those "
                        f"that cannot run here listed as skipped); one of {', '.join(backend_names())}")
    p.add_argument("--batch-size", type=int, default=256, metavar="N", help="images per call (default 256)")
    p.add_argument("--timeout", type=float, metavar="SECONDS",
                   help="longest wait for one backend call before giving up (default: no limit)")
    p.add_argument("--min-agreement", type=float, metavar="PERCENT",
                   help="exit with code 1 when the top-1 agreement of a class-score output is lower")
    p.add_argument("--layers", action="store_true",
                   help="per layer: error of its output against the float model (cosine, SNR, max error in "
                        "steps), in graph order, the layer that adds the most error marked")


def source_model(manifest: dict, override: str | None) -> tuple[str, bytes]:
    """(path, bytes) of the float model, refused unless it is the one the bundle was compiled from."""
    from ..analysis.reference import source_model as verified

    return verified(manifest, override)


def run_reference(model: bytes, feeds: dict[str, np.ndarray], batch: int) -> tuple[dict[str, np.ndarray], str]:
    """(float outputs, what computed them): onnxruntime with the ONNX definition's semantics
    (graph optimisations off, so a QDQ model is not replaced by fused int8 kernels), or
    fpga-accel's float reference for a model onnxruntime cannot load."""
    from ..analysis.reference import run_reference as reference

    return reference(model, feeds, batch)


def compare(ref: np.ndarray, got: np.ndarray) -> dict:
    """Error figures of ``got`` against ``ref``; top-1 agreement when both are class scores."""
    from ..analysis.check import output_errors

    return output_errors(ref, got)


def backend_rows(bundle, names: list[str], q: dict, ref_raw: dict, args):
    """Run ``q`` (hardware integers) on each backend: table rows, {backend: raw outputs}, failures,
    notes (why a backend was skipped)."""
    from ..errors import FpgaAccelError
    from ..runtime import Session, get_backend
    from ..runtime.backends import availability

    rows, raws, failed, notes = [], {}, [], []
    total = sum(v.size for v in ref_raw.values())
    for name in names:
        why = availability(get_backend(name), bundle)
        if why is not None:
            rows.append([name, "skipped (cannot run here)", "-", "-"])
            notes.append(f"skipped {name}: {why}")
            continue
        try:
            with Session(bundle, backend=name, batch_size=args.batch_size, timeout=args.timeout) as s:
                raw = s.run(q, raw=True)
                speed = f"{s.stats.images_per_s:,.1f}"
        except FpgaAccelError as e:
            rows.append([name, "ERROR", "-", "-"])
            failed.append(f"backend {name} failed: {str(e).splitlines()[0]}")
            continue
        raws[name] = raw
        diff = sum(int(np.count_nonzero(raw[k] != ref_raw[k])) for k in ref_raw)
        status = "bit-exact" if diff == 0 else "DIFFERS"
        rows.append([name, status, f"{diff:,} of {total:,}", speed])
        if diff:
            failed.append(f"backend {name} differs from the emulator in {diff:,} of {total:,} hardware output integers")
    return rows, raws, failed, notes


def fmt_db(x: float) -> str:
    return "exact" if x == math.inf else f"{x:.1f}"


def print_saturation(errs) -> None:
    """Per layer, the outputs the emulator clamped at its type's limits where the float model's
    value lies beyond the range the type represents: a layer with many has a calibration range
    too narrow for these inputs. Outputs at a limit the float model clips at too (ReLU6) are not
    saturation."""
    hot = [f"{r.layer} {r.saturated:,} of {r.size:,} ({100 * r.saturated / r.size:.2f}%)"
           for r in errs.rows if r.saturated]
    echo("saturated outputs (emulator): " + ("; ".join(hot) if hot else "none")
         + " [at a type limit where the float model's value lies beyond the range]")


def print_layers(errs) -> None:
    """The per-layer table of :func:`fpga_accel.layer_errors`, the worst layer marked."""
    worst = errs.worst
    rows = [[str(r.index), r.layer, r.op_type, str(r.bits), f"{r.cosine:.6f}", fmt_db(r.snr_db), fmt_db(r.own_snr_db),
             f"{r.max_abs_steps:.2f}", f"{r.saturated:,}", "<- worst" if r is worst else ""] for r in errs.rows]
    print()
    print_table([Column("#", "right"), Column("layer"), Column("op"), Column("bits", "right"),
                 Column("cosine", "right"), Column("SNR dB", "right"), Column("own SNR dB", "right"),
                 Column("max err (steps)", "right"), Column("saturated", "right"), Column("")], rows,
                title=f"per layer against the {errs.reference}, {errs.samples} samples (graph order)")
    print("own SNR: the SNR the layer would have if only the error it adds counted (its inputs' error taken "
          "away); max err in steps of the output's scale")
    if worst is not None:
        echo(f"worst layer: {worst.layer} ({worst.op_type}), own SNR {fmt_db(worst.own_snr_db)} dB, "
              f"{worst.bits}-bit output")


def run(args) -> int:
    from ..bundle import load_bundle
    from ..errors import InputError
    from ..runtime import Session, backend_names
    from ._checks import at_least, fraction_of, seconds
    from .run import in_file, is_class_scores, load_arrays

    at_least(args.batch_size, "--batch-size")
    seconds(args.timeout)
    fraction_of(args.min_agreement, "--min-agreement", 0, float("inf"))  # above 100: always fails, on purpose
    bundle = load_bundle(args.bundle)
    path, model = source_model(bundle.manifest, args.model)
    names = ["emulator"] + [b for b in (args.backend or backend_names()) if b != "emulator"]
    with Session(bundle, backend="emulator", batch_size=args.batch_size) as em:
        feeds = load_arrays(args.input, em.input_names)
        q = in_file(args.input, lambda: em.hardware_inputs(feeds))
        dtypes = {t.name: t.dtype for t in em.qmodel.model_inputs}
        rows, raws, failed, notes = backend_rows(bundle, names, q, em.run(q, raw=True), args)
        outs = {b: em.model_outputs(r) for b, r in raws.items()}
    ref, ref_by = run_reference(model, {k: np.asarray(v, dtype=dtypes[k]) for k, v in feeds.items()},
                                args.batch_size)
    n = next(iter(q.values())).shape[0]
    echo(f"model     {path} (sha256 {bundle.manifest['model']['sha256'][:12]}… verified)")
    echo(f"bundle    {bundle.path}, {n} samples")
    from ..overrides import hand_edits

    for line in hand_edits(bundle.manifest):  # the C simulation and a build run the edited project
        echo(f"hand edit {line}")
    print_table([Column("backend"), Column("hardware integers vs emulator"), Column("differing", "right"),
                 Column("images/s", "right")], rows)
    for note in notes:
        echo(note, keep_newlines=True)

    rows, low = [], []
    for b, got in outs.items():
        for name, y in got.items():
            c = compare(ref[name], y)
            agree = "-" if c["agree"] is None else f"{100 * c['agree'] / n:.2f}% ({c['agree']}/{n})"
            rows.append([name, b, agree, f"{c['max_abs']:.4g}", f"{c['mean_abs']:.4g}", f"{c['sqnr_db']:.1f}"])
            if c["agree"] is not None and args.min_agreement is not None and 100 * c["agree"] / n < args.min_agreement:
                low.append((name, b))
    print()
    print_table([Column("output"), Column("backend"), Column("top-1 agreement", "right"),
                 Column("max abs err", "right"), Column("mean abs err", "right"), Column("SQNR dB", "right")], rows,
                title=f"against the float model ({ref_by.split(' (')[0]})")
    if ref_by != "onnxruntime":
        print(f"float model run by {ref_by}")
    for b, got in outs.items():
        for name, y in got.items():
            if is_class_scores(y):
                agree = int(np.sum(ref[name].argmax(axis=1) == y.argmax(axis=1)))
                where = "" if b == "emulator" else f" [{b}]"
                echo(f"agreement {name}{where}: {100 * agree / n:.2f}% of top-1 predictions match ({agree}/{n})")

    if args.labels:
        labels = load_arrays(args.labels, ["labels"], "labels")["labels"]
        if labels.dtype.kind not in "iu" or labels.shape != (n,):
            raise InputError(f"{args.labels}: labels must be integers of shape ({n},); got {labels.dtype} "
                             f"{labels.shape}")
        scored = [k for k, y in outs["emulator"].items() if is_class_scores(y)]
        if not scored:
            raise InputError("--labels given, but no output holds class scores (N, classes)")
        k = scored[0]
        acc_f = 100 * float(np.mean(ref[k].argmax(axis=1) == labels))
        for b, got in outs.items():
            acc_q = 100 * float(np.mean(got[k].argmax(axis=1) == labels))
            echo(f"accuracy  {k}: float ({ref_by.split(' (')[0]}) {acc_f:.2f}%, accelerator ({b}) {acc_q:.2f}% "
                  f"on {n} labelled samples")
    from ..analysis.layer_errors import compare_layers
    from ..analysis.reference import hardware_graph

    errs = compare_layers(em.qmodel, hardware_graph(model, bundle.manifest),
                          {k: np.asarray(v, dtype=dtypes[k]) for k, v in feeds.items()})
    if args.layers:
        print_layers(errs)
    print_saturation(errs)
    for msg in failed:
        echo(f"FAIL: {msg}")
    if low:
        outputs = list(dict.fromkeys(o for o, _ in low))
        echo(f"FAIL: top-1 agreement of {outputs} below {args.min_agreement}% "
              f"({', '.join(sorted({b for _, b in low}))})")
    return 1 if failed or low else 0
