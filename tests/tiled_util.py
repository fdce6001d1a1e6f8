"""Helpers for the tiled-engine tests: small graphs quantised on random data, the example models
quantised as the compiler does, and the comparison of the engine with the emulator."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from fpga_accel import toolchain
from fpga_accel.emulator import run_layers
from fpga_accel.frontend import import_onnx
from fpga_accel.ir.execute import run_graph
from fpga_accel.passes import run_flow
from fpga_accel.quant.arith import quantize
from fpga_accel.quant.calibrate import load_calibration, observe_ranges
from fpga_accel.quant.config import QuantConfig
from fpga_accel.quant.quantizer import quantize_model, split_edges, tensors_to_observe
from fpga_accel.tiled import TiledEngine, build_program


def make_model(nodes, inputs, inits=None, opset=13):
    """Float graph inputs {name: shape without the batch}; the output is the last node's."""
    ins = [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["N", *s]) for n, s in inputs.items()]
    inits = [numpy_helper.from_array(np.asarray(a, np.float32), n) for n, a in (inits or {}).items()]
    out = helper.make_tensor_value_info(nodes[-1].output[0], TensorProto.FLOAT, None)
    m = helper.make_model(helper.make_graph(nodes, "case", ins, [out], inits),
                          opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return onnx.shape_inference.infer_shapes(m)


def quantised(model, calib: dict, config=None):
    """``model`` (path or ModelProto) imported, through the hardware flow and quantised on ``calib``."""
    g = import_onnx(model)
    run_flow(g, "hardware")
    cfg = config or QuantConfig()
    _, hw, _ = split_edges(g)
    ranges = observe_ranges(g, load_calibration(calib, g.inputs), tensors_to_observe(g, hw, cfg), kind=cfg.observer)
    return g, quantize_model(g, ranges, cfg)


def random_case(model, seed: int = 0, n: int = 2, bits: int = 8):
    """(qm, raw integer inputs) of a small graph quantised on random data."""
    r = np.random.default_rng(seed)
    g0 = import_onnx(model)

    def data(k):
        return {t.name: (r.uniform(-1, 1) + r.uniform(0.5, 2) * r.standard_normal((k, *t.shape[1:]))).astype(np.float32)
                for t in g0.inputs}

    _, qm = quantised(model, data(48), QuantConfig(bits=bits))
    return qm, raw_inputs(qm, data(n))


def raw_inputs(qm, feeds) -> dict:
    pre = run_graph(qm.host_before, feeds) if qm.host_before.nodes else feeds
    return {t.name: quantize(pre[t.name], t.qparams, name=t.name) for t in qm.inputs}


def check_exact(qm, q_inputs, **build) -> TiledEngine:
    """The engine's outputs equal the emulator's bit for bit on the whole batch, and every tensor
    the program keeps in DDR equals the emulator's on the last image. Returns the engine."""
    program = build_program(qm, **build)
    engine = TiledEngine(program)
    got = engine.run(q_inputs)
    want = run_layers(qm, q_inputs, threads=1)
    for name, w in want.items():
        assert got[name].dtype == w.dtype, (name, got[name].dtype, w.dtype)
        np.testing.assert_array_equal(got[name], w, err_msg=f"output '{name}' with {build}")
    last = {k: v[-1:] for k, v in q_inputs.items()}
    every = run_layers(qm, last, keep=True, threads=1)
    for t in program.data["tensors"]:
        np.testing.assert_array_equal(engine.tensor(t["name"]), every[t["name"]][0],
                                      err_msg=f"tensor '{t['name']}' with {build}")
    return engine


@pytest.fixture(autouse=True)
def needs_toolchain():
    """Skip a C-simulation test where g++ or the ap_types headers are missing (a module imports this
    fixture to use it)."""
    try:
        toolchain.compiler()
        toolchain.ap_types_dir()
    except toolchain.ToolchainError as e:
        pytest.skip(str(e))
