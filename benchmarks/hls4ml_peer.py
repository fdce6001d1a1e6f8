"""hls4ml's C-simulation beside fpga-accel on the same trained weights.

hls4ml converts Keras, PyTorch or QONNX models; its ONNX path needs qonnx's channels-last
rewrite first. So for each model (default: mnist_cnn and mlp) this script

1. tries hls4ml's ONNX front end on the model's own ONNX file and records what it says;
2. rebuilds the network in PyTorch from the ONNX file's weights (Conv, Gemm, BatchNormalization,
   Relu, MaxPool, Flatten in a chain), checks it against onnxruntime, and converts that with
   hls4ml's PyTorch front end (backend Vitis, io_stream, granularity name), once with its default
   precision ``ap_fixed<16,6>`` and once with 8-bit types (below), timing convert and compile
   (``hls_model.compile()``: writing the project and g++), ``predict`` images/s and accuracy;
3. compiles the same ONNX file with ``fpga_accel.compile`` (8-bit, minmax on the model's 200
   calibration images; timed quantising only and for the whole bundle with its HLS project) and
   measures the emulator's images/s and accuracy and ``Session(bundle, backend="csim")``: the g++
   build of the generated HLS project (fresh cache) and its images/s.

torch is needed only here (``pip install torch``); it is not a dependency of fpga-accel.

    python benchmarks/hls4ml_peer.py                       # mnist_cnn, mlp; 1000 test images
    python benchmarks/hls4ml_peer.py mlp --images 200 --json benchmarks/results/hls4ml_peer.json
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import data, machine, print_machine, write_json

#: hls4ml precision settings compared (hls4ml's own syntax), as ``default_precision`` of
#: ``config_from_pytorch_model`` (granularity name: every type left "auto" starts from it). The first
#: is hls4ml's default; the 8-bit ones set every input, weight, bias and result to 8 bits with 4
#: integer bits, once with hls4ml's default truncation and wrap-around and once rounding and saturating
PRECISIONS = {"default ap_fixed<16,6>": "ap_fixed<16,6>",
              "8-bit ap_fixed<8,4> (TRN, WRAP)": "ap_fixed<8,4>",
              "8-bit ap_fixed<8,4,RND_CONV,SAT>": "ap_fixed<8,4,AP_RND_CONV,AP_SAT>"}


def error_text(e: BaseException) -> str:
    return f"{type(e).__name__}: {e}".strip()[:600]


@contextlib.contextmanager
def quiet():
    """hls4ml prints every layer it converts; keep its output out of the table (it is in the JSON)."""
    buf = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(buf):
        warnings.simplefilter("ignore")
        yield buf


# --- the PyTorch network of an ONNX chain ------------------------------------------------------
def torch_from_onnx(path):
    """An ``nn.Sequential`` computing the ONNX graph ``path`` (a chain of Conv, Relu, MaxPool,
    Flatten, Gemm, BatchNormalization), with the ONNX file's weights."""
    import onnx
    import torch
    from onnx import numpy_helper
    from torch import nn

    m = onnx.load(str(path))
    w = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    layers = []
    for node in m.graph.node:
        a = {x.name: onnx.helper.get_attribute_value(x) for x in node.attribute}
        t = lambda name: torch.tensor(np.array(w[name], dtype=np.float32))
        if node.op_type == "Conv":
            wt = w[node.input[1]]
            pads = a.get("pads", [0, 0, 0, 0])
            if pads[:2] != pads[2:] or a.get("group", 1) != 1:
                raise ValueError(f"node {node.name}: asymmetric pads or groups are not rebuilt here")
            conv = nn.Conv2d(wt.shape[1], wt.shape[0], tuple(wt.shape[2:]), stride=tuple(a.get("strides", [1, 1])),
                             padding=tuple(pads[:2]), bias=len(node.input) > 2)
            conv.weight.data = t(node.input[1])
            if len(node.input) > 2:
                conv.bias.data = t(node.input[2])
            layers.append(conv)
        elif node.op_type == "Gemm":
            wt = w[node.input[1]]
            if not a.get("transB", 0):
                wt = wt.T
            lin = nn.Linear(wt.shape[1], wt.shape[0])
            lin.weight.data = torch.tensor(np.ascontiguousarray(wt, dtype=np.float32) * a.get("alpha", 1.0))
            lin.bias.data = t(node.input[2]) * a.get("beta", 1.0)
            layers.append(lin)
        elif node.op_type == "BatchNormalization":
            bn = nn.BatchNorm1d(w[node.input[1]].shape[0], eps=a.get("epsilon", 1e-5))
            bn.weight.data, bn.bias.data = t(node.input[1]), t(node.input[2])
            bn.running_mean.data, bn.running_var.data = t(node.input[3]), t(node.input[4])
            layers.append(bn)
        elif node.op_type == "Relu":
            layers.append(nn.ReLU())
        elif node.op_type == "MaxPool":
            if any(a.get("pads", [0])) or a.get("ceil_mode", 0):
                raise ValueError(f"node {node.name}: padded or ceil-mode MaxPool is not rebuilt here")
            layers.append(nn.MaxPool2d(tuple(a["kernel_shape"]), stride=tuple(a.get("strides", a["kernel_shape"]))))
        elif node.op_type == "Flatten":
            layers.append(nn.Flatten())
        else:
            raise ValueError(f"node {node.name}: op {node.op_type} is not rebuilt in PyTorch here")
    return nn.Sequential(*layers).eval()


# --- hls4ml -------------------------------------------------------------------------------------
def hls4ml_onnx_probe(path, workdir: Path) -> dict:
    """hls4ml's ONNX front end on the plain ONNX file, as a user would first try it."""
    import hls4ml
    import onnx

    t = time.perf_counter()
    try:
        with quiet():
            model = onnx.load(str(path))
            cfg = hls4ml.utils.config_from_onnx_model(model, granularity="name", backend="Vitis")
            hls4ml.converters.convert_from_onnx_model(model, output_dir=str(workdir / "onnx_probe"), backend="Vitis",
                                                      io_type="io_stream", hls_config=cfg)
        return {"ok": True, "seconds": round(time.perf_counter() - t, 2)}
    except Exception as e:  # noqa: BLE001  (whatever hls4ml raises is the finding)
        return {"ok": False, "error": error_text(e)}


def hls4ml_run(net, in_shape, precision: str, x: np.ndarray, y: np.ndarray, ref: np.ndarray, workdir: Path) -> dict:
    import hls4ml

    out: dict = {"precision": precision}
    try:
        t = time.perf_counter()
        with quiet() as log:
            cfg = hls4ml.utils.config_from_pytorch_model(net, tuple(in_shape), granularity="name", backend="Vitis",
                                                         default_precision=precision)
            hls_model = hls4ml.converters.convert_from_pytorch_model(
                net, output_dir=str(workdir), backend="Vitis", io_type="io_stream", hls_config=cfg)
        out["convert_s"] = round(time.perf_counter() - t, 2)
        t = time.perf_counter()
        with quiet() as log:
            hls_model.compile()
        out["compile_s"] = round(time.perf_counter() - t, 2)
        xs = np.ascontiguousarray(x.reshape(len(x), -1) if x.ndim == 2 else x)
        t = time.perf_counter()
        with quiet():
            got = np.asarray(hls_model.predict(xs)).reshape(len(x), -1)
        took = time.perf_counter() - t
        out["predict_images_per_s"] = round(len(x) / took, 1)
        out["accuracy"] = round(100 * float(np.mean(got.argmax(1) == y)), 2)
        out["top1_agreement_with_float"] = round(100 * float(np.mean(got.argmax(1) == ref.argmax(1))), 2)
        out["max_abs_error_vs_float"] = float(np.max(np.abs(got - ref)))
        out["log_tail"] = log.getvalue()[-400:]
    except Exception as e:  # noqa: BLE001  (recorded in the results, not hidden)
        out["error"] = error_text(e)
        out["traceback_tail"] = traceback.format_exc()[-1500:]
    return out


# --- ours ---------------------------------------------------------------------------------------
def ours(name: str, x: np.ndarray, y: np.ndarray, ref: np.ndarray, workdir: Path) -> dict:
    """fpga-accel on the same model: compile (quantisation only, then the whole bundle with the HLS
    project, OpenCL kernel and build scripts), the emulator, and the C-simulation of the HLS project."""
    import fpga_accel

    out: dict = {}
    path, calib = data.model_path(name), data.load_calib(name)
    logits = data.info(name)["output"]["name"]
    fpga_accel.compile(path, workdir / f"{name}_warm.fpga", calib=calib, progress=False)  # imports, first calls
    t = time.perf_counter()
    fpga_accel.compile(path, workdir / f"{name}_q.fpga", calib=calib, progress=False, generators=[])
    out["compile_quantise_only_s"] = round(time.perf_counter() - t, 2)
    t = time.perf_counter()
    bundle = fpga_accel.compile(path, workdir / f"{name}.fpga", calib=calib, progress=False)
    out["compile_s"] = round(time.perf_counter() - t, 2)
    with fpga_accel.Session(bundle, backend="emulator") as s:
        s.run(x[:8])
        t = time.perf_counter()
        got = s.run(x)[logits]
        out["emulator_images_per_s"] = round(len(x) / (time.perf_counter() - t), 1)
    out["accuracy"] = round(100 * float(np.mean(got.argmax(1) == y)), 2)
    out["top1_agreement_with_float"] = round(100 * float(np.mean(got.argmax(1) == ref.argmax(1))), 2)
    csim: dict = {}
    cache = tempfile.mkdtemp(prefix="fa-csim-cache-")
    saved = os.environ.get("FPGA_ACCEL_CACHE")
    os.environ["FPGA_ACCEL_CACHE"] = cache  # a fresh cache: the g++ build is timed, not reused
    try:
        t = time.perf_counter()
        with fpga_accel.Session(bundle, backend="csim") as s:
            s.run(x[:1])  # builds the library on first use
            csim["first_run_with_gxx_build_s"] = round(time.perf_counter() - t, 2)
            t = time.perf_counter()
            got_c = s.run(x)[logits]
            csim["images_per_s"] = round(len(x) / (time.perf_counter() - t), 1)
        csim["bit_exact_with_emulator"] = bool(np.array_equal(got, got_c))
        csim["accuracy"] = round(100 * float(np.mean(got_c.argmax(1) == y)), 2)
    except Exception as e:  # noqa: BLE001  (recorded in the results, not hidden)
        csim["error"] = error_text(e)
        csim["traceback_tail"] = traceback.format_exc()[-1500:]
    finally:
        if saved is None:
            os.environ.pop("FPGA_ACCEL_CACHE", None)
        else:
            os.environ["FPGA_ACCEL_CACHE"] = saved
    out["csim"] = csim
    return out


def bench(name: str, n: int, workdir: Path, log) -> dict:
    import onnxruntime as ort
    import torch

    info = data.info(name)
    x, y = data.load_test(name)
    x, y = x[:n], y[:n]
    path = data.model_path(name)
    ref = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {info["input"]["name"]: x})[0]
    row: dict = {"model": name, "images": len(x), "float_accuracy": round(100 * float(np.mean(ref.argmax(1) == y)), 2)}
    log(f"[{name}] hls4ml ONNX front end on the plain file ...")
    row["hls4ml_onnx_frontend"] = hls4ml_onnx_probe(path, workdir / name)
    try:
        net = torch_from_onnx(path)
        with torch.no_grad():
            tref = net(torch.tensor(x)).numpy()
        row["torch_rebuild_max_abs_diff_vs_onnxruntime"] = float(np.max(np.abs(tref - ref)))
        row["hls4ml"] = []
        for label, prec in PRECISIONS.items():
            log(f"[{name}] hls4ml {label}: convert, compile, predict {len(x)} images ...")
            r = hls4ml_run(net, x.shape[1:], prec, x, y, ref, workdir / name / f"hls4ml_{len(row['hls4ml'])}")
            r["label"] = label
            row["hls4ml"].append(r)
    except Exception as e:  # noqa: BLE001  (recorded in the results, not hidden)
        row["hls4ml_pytorch_error"] = error_text(e)
    log(f"[{name}] fpga-accel: compile, emulator, csim ...")
    row["fpga_accel"] = ours(name, x, y, ref, workdir / name)
    return row


def print_table(console, result: dict) -> None:
    from rich.table import Table

    tab = Table(title=f"hls4ml C-simulation beside fpga-accel, same weights ({result['models'][0]['images']} test "
                      f"images; ★ = the float model's accuracy)")
    for col in ("model", "tool / setting", "convert+compile s", "images/s", "top-1 %", "agree w/ float %", "note"):
        tab.add_column(col, justify="left" if col in ("model", "tool / setting", "note") else "right")
    for m in result["models"]:
        tab.add_row(m["model"], "float (onnxruntime) ★", "", "", f"{m['float_accuracy']:.2f}", "100.00", "")
        probe = m["hls4ml_onnx_frontend"]
        tab.add_row("", "hls4ml ONNX front end", "", "", "", "", "ok" if probe["ok"] else probe["error"][:90])
        for r in m.get("hls4ml", []):
            if "error" in r:
                tab.add_row("", f"hls4ml {r['label']}", "", "", "", "", r["error"][:90])
                continue
            tab.add_row("", f"hls4ml {r['label']}", f"{r['convert_s'] + r['compile_s']:.1f}",
                        f"{r['predict_images_per_s']:,.0f}", f"{r['accuracy']:.2f}",
                        f"{r['top1_agreement_with_float']:.2f}", "predict() C-sim (io_stream)")
        if "hls4ml_pytorch_error" in m:
            tab.add_row("", "hls4ml PyTorch front end", "", "", "", "", m["hls4ml_pytorch_error"][:90])
        f = m["fpga_accel"]
        tab.add_row("", "fpga-accel int8, emulator", f"{f['compile_s']:.2f}", f"{f['emulator_images_per_s']:,.0f}",
                    f"{f['accuracy']:.2f}", f"{f['top1_agreement_with_float']:.2f}",
                    f"numpy; compile = whole bundle ({f['compile_quantise_only_s']:.2f} s quantising only)")
        c = f.get("csim", {})
        if "images_per_s" in c:
            tab.add_row("", "fpga-accel int8, csim", f"{f['compile_s'] + c['first_run_with_gxx_build_s']:.1f}",
                        f"{c['images_per_s']:,.0f}", f"{c['accuracy']:.2f}", "",
                        f"g++ C-sim of the generated HLS; same outputs as the emulator: {c['bit_exact_with_emulator']}")
        elif c:
            tab.add_row("", "fpga-accel int8, csim", "", "", "", "", c.get("error", "")[:90])
    console.print(tab)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models", nargs="*", default=["mnist_cnn", "mlp"])
    ap.add_argument("--images", type=int, default=1000, help="test images (hls4ml predicts about 50-100 per second)")
    ap.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    ap.add_argument("--keep", metavar="DIR", help="keep the generated projects in DIR")
    args = ap.parse_args(argv)
    from rich.console import Console

    console = Console(width=None if sys.stdout.isatty() else 160)
    result = {"machine": machine(("hls4ml", "torch")), "settings": {
        "images": args.images, "hls4ml": "PyTorch front end, backend Vitis, io_stream, granularity name; "
                                         "predict() after compile() (g++ C-simulation through ctypes)",
        "precisions": PRECISIONS, "fpga_accel": "8-bit, minmax calibration on the model's 200 calibration images"},
        "models": []}
    print_machine(console, result["machine"])
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.keep) if args.keep else Path(tmp)
        for name in args.models:
            result["models"].append(bench(name, args.images, work, console.print))
    result["machine"]["load_average_at_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    print_table(console, result)
    if args.json:
        write_json(args.json, result)
        console.print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
