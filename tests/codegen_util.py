"""Helpers of the code-generation tests: quantise small ONNX graphs, generate and C-simulate their
HLS project, compare with the emulator bit for bit."""
from __future__ import annotations

import ctypes
import shutil
import time
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from fpga_accel.codegen.hls_project import generate_hls
from fpga_accel.emulator import run_layers
from fpga_accel.frontend import import_onnx
from fpga_accel.passes import run_flow
from fpga_accel.quant.calibrate import observe_ranges
from fpga_accel.quant.config import QuantConfig
from fpga_accel.quant.quantizer import quantize_model, split_edges, tensors_to_observe


def need_toolchain():
    if shutil.which("g++") is None:
        pytest.skip("g++ is not installed")
    from fpga_accel.toolchain import ToolchainError, ap_types_dir

    try:
        ap_types_dir()
    except ToolchainError as e:
        pytest.skip(str(e))


def make_model(nodes, inputs: dict, inits: dict | None = None, outputs: list[str] | None = None, opset=13):
    """Float model: graph inputs {name: shape without batch}, initializers, outputs (default: the
    last node's first output)."""
    ins = [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["N", *s]) for n, s in inputs.items()]
    outs = outputs or [nodes[-1].output[0]]
    inits = [numpy_helper.from_array(np.asarray(a), n) for n, a in (inits or {}).items()]
    graph = helper.make_graph(nodes, "case", ins, [helper.make_tensor_value_info(o, TensorProto.FLOAT, None)
                                                   for o in outs], inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return onnx.shape_inference.infer_shapes(m)


def quantise(model, seed=0, layers: dict | None = None, bits=8):
    """QModel of ``model`` calibrated on random data; ``layers`` as QuantConfig.layers (per-node bits)."""
    r = np.random.default_rng(seed)
    g = import_onnx(model)
    run_flow(g, "hardware")
    cfg = QuantConfig(bits=bits, layers=layers or {})
    _, hw, _ = split_edges(g)
    spread = {t.name: (r.uniform(-1, 1), r.uniform(0.5, 2.0)) for t in g.inputs}
    feeds = {t.name: (spread[t.name][0] + spread[t.name][1] * r.standard_normal((32, *t.shape[1:]))).astype(np.float32)
             for t in g.inputs}
    ranges = observe_ranges(g, feeds, tensors_to_observe(g, hw, cfg))
    return quantize_model(g, ranges, cfg)


def random_folding(qm, r) -> list[dict]:
    """manifest["layers"] with a random valid PE/SIMD for every layer."""
    def divisor(n):
        ds = [d for d in range(1, n + 1) if n % d == 0 and d <= 16]
        return int(ds[int(r.integers(len(ds)))])

    out = []
    for lay in qm.layers:
        x, y = qm.tensors[lay.inputs[0]].shape, qm.tensors[lay.outputs[0]].shape
        if lay.op_type in ("Conv", "Gemm", "MatMul"):
            w = lay.consts["weights"].shape if lay.op_type == "Conv" else ()
            if lay.op_type == "Conv" and lay.config["group"] == w[0] == x[-1] and w[1] == 1:  # depthwise
                fold = {"pe": divisor(int(y[-1]))}
            elif lay.op_type == "Conv" and lay.config["group"] != 1:  # grouped: within one group
                g = lay.config["group"]
                fold = {"pe": divisor(int(y[-1]) // g), "simd": divisor(int(x[-1]) // g)}
            else:
                fold = {"pe": divisor(int(y[-1])), "simd": divisor(int(x[-1]))}
        elif lay.op_type == "Pad":
            fold = {}
        elif lay.op_type == "Concat":  # any divisor of the output's channels (channel_concat when unaligned)
            fold = {"pe": divisor(int(y[-1]))}
        else:
            fold = {"pe": divisor(int(y[-1]))} if len(y) > 1 else {}
        out.append({"name": lay.name, "folding": fold})
    return out


class Csim:
    """Generate the HLS project of a QModel under ``tmp`` and build its C simulation."""

    def __init__(self, qm, tmp: Path, layers=None, board=None):
        from fpga_accel.emulator.csim_library import CsimLibrary, build_csim

        self.qm = qm
        self.manifest = {"layers": layers or [], "board": board or {"name": "test", "clock_mhz": 100.0}}
        generate_hls(tmp, qm, self.manifest)
        self.hls = Path(tmp) / "hls"
        t = time.perf_counter()
        self.path = build_csim(self.hls, progress=False)
        self.build_seconds = time.perf_counter() - t
        self.lib = CsimLibrary(self.path)
        raw = ctypes.CDLL(str(self.path))
        raw.fa_csim_run_axis.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(ctypes.c_void_p),
                                         ctypes.c_uint]
        raw.fa_csim_run_axis.restype = ctypes.c_int
        self.raw = raw

    def inputs(self, n, r) -> list[np.ndarray]:
        out = []
        for t in self.qm.inputs:
            q = t.qparams.qtype
            out.append(r.integers(q.min, q.max + 1, (n, *t.shape[1:])).astype(q.dtype))
        return out

    def outputs(self, n) -> list[np.ndarray]:
        return [np.zeros((n, *t.shape[1:]), t.qparams.qtype.dtype) for t in self.qm.outputs]

    def run(self, ins, axis=False) -> list[np.ndarray]:
        n = ins[0].shape[0]
        outs = self.outputs(n)
        if not axis:
            self.lib.run(ins, outs, n)
            return outs
        a = (ctypes.c_void_p * len(ins))(*(x.ctypes.data for x in ins))
        b = (ctypes.c_void_p * len(outs))(*(x.ctypes.data for x in outs))
        rc = self.raw.fa_csim_run_axis(a, b, n)
        assert rc == 0, f"fa_csim_run_axis returned {rc} (2/4: beat count, 3: TLAST not on the run's last beat only)"
        return outs

    def reference(self, ins) -> list[np.ndarray]:
        ref = run_layers(self.qm, {t.name: x for t, x in zip(self.qm.inputs, ins)})
        return [ref[t.name] for t in self.qm.outputs]

    def check(self, ins, axis=False, what=""):
        got, want = self.run(ins, axis), self.reference(ins)
        for t, g, w in zip(self.qm.outputs, got, want):
            assert g.dtype == w.dtype and g.shape == w.shape
            bad = np.flatnonzero(g.reshape(-1) != w.reshape(-1))
            assert bad.size == 0, (f"{what} output '{t.name}': {bad.size} of {g.size} integers differ from the "
                                   f"emulator, first at flat index {bad[0]}: csim {g.reshape(-1)[bad[0]]} "
                                   f"emulator {w.reshape(-1)[bad[0]]}")


def raw_inputs(qm, n: int, seed: int) -> dict[str, np.ndarray]:
    """``n`` random stored integers per hardware input, over each type's whole range."""
    r = np.random.default_rng(seed)
    return {t.name: r.integers(t.qparams.qtype.min, t.qparams.qtype.max + 1, (n, *t.shape[1:])).astype(t.qparams.qtype.dtype)
            for t in qm.inputs}


def assert_opencl_equals_emulator(bundle, seed: int, n: int = 3) -> dict[str, np.ndarray]:
    """The bundle's OpenCL model (PoCL here) == the emulator bit for bit on random stored integers;
    skipped where no OpenCL platform is installed. Returns the emulator's outputs."""
    from fpga_accel.compiler import load_qmodel
    from fpga_accel.runtime.backends.opencl import OpenCLBackend
    from fpga_accel.runtime.session import Session

    why = OpenCLBackend.unavailable(bundle)
    if why:
        pytest.skip(why)
    qm = load_qmodel(bundle)
    q = raw_inputs(qm, n, seed)
    want = run_layers(qm, q)
    with Session(bundle, backend="opencl") as s:
        got = s.run(q, raw=True)
    for t in qm.outputs:
        np.testing.assert_array_equal(got[t.name], want[t.name])
    return want


def image_model(nodes, inits: dict, name: str, hw: int, classes: int) -> onnx.ModelProto:
    """A checked float model of ``nodes``: input x (N, 3, hw, hw), output y (N, classes), opset 13."""
    graph = helper.make_graph(nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, hw, hw])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", classes])],
                              [numpy_helper.from_array(v, k) for k, v in inits.items()])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m
