"""A bias too large for int32 at s_in · s_w raises that channel's weight scale instead of failing.

Random-weight networks whose activations fade (GoogLeNet's classifier input at about 1e-10) and
layers with near-dead weights beside an ordinary bias used to be refused with "overflows int32".
"""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import fpga_accel
from fpga_accel.ir.qparams import ChannelQParams
from fpga_accel.quant.arith import INT32_MAX, quantize_bias
from fpga_accel.quant.params import QuantWarning, fit_bias
from fpga_accel.runtime import Session


def test_fit_bias_raises_only_the_channels_that_overflow():
    wp = ChannelQParams([1e-9, 0.01, 1e-12], "int8")
    b = np.array([0.5, 0.5, -3.0])
    with pytest.warns(QuantWarning, match=r"layer 'fc': 2 channel\(s\) have a bias too large"):
        fitted = fit_bias(wp, b, 0.02, name="fc")
    assert fitted.scales[1] == wp.scales[1]
    assert np.all(fitted.scales >= wp.scales)
    q = quantize_bias(b, 0.02, fitted, name="fc")  # fits now, and only just: one step more would not
    assert np.all(np.abs(q.astype(np.int64)) <= INT32_MAX)
    assert np.abs(q[[0, 2]].astype(np.int64)).min() > INT32_MAX * 0.99
    assert fit_bias(ChannelQParams([0.01], "int8"), [0.5], 0.02) == ChannelQParams([0.01], "int8")


def _tiny_weight_gemm(path) -> None:
    r = np.random.default_rng(0)
    w = (r.standard_normal((6, 16)) * 1e-7).astype(np.float32)  # near-dead weights
    w[3] = r.standard_normal(16).astype(np.float32) * 0.3        # one live channel
    b = np.linspace(-0.5, 0.5, 6).astype(np.float32)
    g = helper.make_graph(
        [helper.make_node("Gemm", ["x", "w", "b"], ["y"], transB=1, name="fc")], "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 6])],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), path)
    return w, b


def test_layer_with_near_dead_weights_compiles_and_keeps_its_bias(tmp_path):
    w, b = _tiny_weight_gemm(tmp_path / "m.onnx")
    x = np.random.default_rng(1).standard_normal((32, 16)).astype(np.float32)
    with pytest.warns(QuantWarning, match="layer 'fc': 5 channel"):
        bundle = fpga_accel.compile(tmp_path / "m.onnx", tmp_path / "m.fpga", calib={"x": x}, progress=False)
    with Session(bundle, backend="emulator") as s:
        got = s.run({"x": x})["y"]
    want = x @ w.T + b
    step = (want.max() - want.min()) / 255
    assert np.abs(got - want).max() <= 2 * step  # the near-dead channels come out as their bias
    np.testing.assert_allclose(got[:, [0, 1, 2, 4, 5]], np.broadcast_to(b[[0, 1, 2, 4, 5]], (32, 5)), atol=step)
