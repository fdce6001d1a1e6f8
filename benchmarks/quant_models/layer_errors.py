"""Where fpga_accel's 8-bit integers and onnxruntime's ``quantize_static`` part: per quantised
tensor, the RMS error against the float model and the magnitude of its mean per channel (the part
bias correction removes), in steps of that tensor's scale, on validation images
(training images not used for calibration), for onnxruntime's QDQ model run by onnxruntime, the
same QDQ model's scales in this project's integers ("ort scales"), and fpga_accel's own quantisation
with bias correction off ("minmax") and with the default config.

    python benchmarks/quant_models/layer_errors.py mbv2_mnist [--images 3800]

"ort QDQ" and "ort scales" share every scale and zero point, so their difference is the arithmetic
alone: onnxruntime's float convolution and round-half-even requantisation against the integer
accumulator and M·2^-shift (docs/integer-contract.md §5); the share of their integers that differ is
printed beside. Tensors are those onnxruntime quantises (the QuantizeLinear inputs), matched by name.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import onnx
import onnxruntime as ort
from onnx import numpy_helper
from quantization import model_files, ort_qdq

import fpga_accel
from fpga_accel.compiler import load_qmodel
from fpga_accel.emulator.executor import emulate


def session(model: onnx.ModelProto):
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # the QDQ graph as ONNX defines it
    so.intra_op_num_threads = 1
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])


def ort_tensors(qdq: Path, float_names: set[str], x: np.ndarray) -> dict[str, tuple[np.ndarray, float, int]]:
    """name -> (onnxruntime's integers in NHWC, scale, zero point) of every quantised activation."""
    m = onnx.load(qdq)
    consts = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    nodes = [n for n in m.graph.node if n.op_type == "QuantizeLinear" and n.input[0] in float_names]
    del m.graph.output[:]
    for n in nodes:
        m.graph.output.append(onnx.helper.make_tensor_value_info(n.output[0], onnx.TensorProto.INT8, None))
    outs = session(m).run(None, {"input": x})
    return {n.input[0]: (nhwc(v), float(consts[n.input[1]]), int(consts[n.input[2]])) for n, v in zip(nodes, outs)}


def nhwc(a: np.ndarray) -> np.ndarray:
    return a.transpose(0, 2, 3, 1) if a.ndim == 4 else a


def ours(bundle, names, x) -> dict[str, tuple[np.ndarray, float, int]]:
    """The same tensors from the emulator (hardware tensors carry a layout suffix)."""
    qm = load_qmodel(bundle)
    env = emulate(qm, {qm.model_inputs[0].name: x}, keep=True).tensors
    got = {}
    for t in names:
        k = next((k for k in (t, t + "_nhwc", t + "_t") if k in env), None)
        if k is not None:
            p = qm.tensors[k].qparams
            got[t] = (env[k], p.scale, p.zero_point)
    return got


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--images", type=int, default=1000, help="validation images (the first N; default 1000)")
    args = ap.parse_args(argv)
    path, calib, x, _ = model_files(args.model, "validation")
    x = x[:args.images]
    fm = onnx.load(path)
    names = [o for n in fm.graph.node for o in n.output]
    tmp = Path(tempfile.mkdtemp())
    qdq = ort_qdq(path, calib, tmp)
    rows = {"ort QDQ": ort_tensors(qdq, set(names), x)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        builds = {"ort scales": fpga_accel.compile(qdq, tmp / "q.fpga", progress=False, generators=[]),
                  "minmax": fpga_accel.compile(path, tmp / "m.fpga", calib=calib, progress=False, generators=[],
                                               config={"bias_correction": False}),
                  "default": fpga_accel.compile(path, tmp / "d.fpga", calib=calib, progress=False, generators=[])}
    for k, b in builds.items():
        rows[k] = ours(b, list(rows["ort QDQ"]), x)
    shown = [t for t in rows["ort QDQ"] if all(t in r for r in rows.values())]
    del fm.graph.output[:]
    for t in shown:
        fm.graph.output.append(onnx.helper.make_tensor_value_info(t, onnx.TensorProto.FLOAT, None))
    ref = dict(zip(shown, session(fm).run(None, {"input": x})))
    print(f"{args.model}: {len(x)} validation images; RMS error against float (in brackets: its mean per channel, "
          f"averaged in magnitude over the channels), in steps of each tensor's scale")
    print(f"| tensor | {' | '.join(rows)} | ort QDQ ≠ ort scales |")
    print("|---|" + "---|" * (len(rows) + 1))
    for t in shown:
        f = nhwc(ref[t]).astype(np.float64)
        cells = []
        for r in rows.values():
            q, s, zp = r[t]
            e = ((s * (q.astype(np.float64) - zp)).reshape(f.shape) - f) / s
            cells.append(f"{np.sqrt(np.mean(e ** 2)):.3f} ({np.mean(np.abs(e.reshape(-1, f.shape[-1]).mean(0))):.3f})")
        (a, _, za), (b, _, zb) = rows["ort QDQ"][t], rows["ort scales"][t]
        differ = np.mean((a.astype(np.int64) - za).reshape(f.shape) != (b.astype(np.int64) - zb).reshape(f.shape))
        print(f"| {t} | {' | '.join(cells)} | {100 * differ:.3f} % |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
