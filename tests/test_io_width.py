"""I/O adapters stay within the AXI DMA's widest stream (1024 bits) whatever the folding: a wider
first or last layer gets a width converter, in the fold model and in the generated HLS alike, and
the C simulation still equals the emulator bit for bit."""
from __future__ import annotations

import numpy as np
import pytest
from codegen_util import make_model, need_toolchain
from onnx import helper

import fpga_accel
from fpga_accel.compiler import load_qmodel
from fpga_accel.emulator import run_layers
from fpga_accel.flow.target import dma_plan
from fpga_accel.pe.io import MAX_STREAM_BITS, io_lanes
from fpga_accel.runtime.session import Session


@pytest.mark.parametrize("lanes,bits", [(1, 8), (128, 8), (129, 8), (392, 8), (784, 8), (256, 16), (97, 16),
                                        (1000, 3), (7, 200)])
def test_io_lanes_is_the_widest_divisor_that_fits(lanes, bits):
    d = io_lanes(lanes, bits)
    assert lanes % d == 0 and (d * bits <= MAX_STREAM_BITS or d == 1)
    assert all(lanes % e or e * bits > MAX_STREAM_BITS for e in range(d + 1, lanes + 1))


def wide_ends(tmp_path):
    """160 -> 8 -> 160 with the first layer at SIMD 160 and the last at PE 160: both ends 1280 bits
    wide unless narrowed."""
    r = np.random.default_rng(3)
    m = make_model([helper.make_node("Gemm", ["x", "w1", "b1"], ["h"], transB=1),
                    helper.make_node("Relu", ["h"], ["r"]),
                    helper.make_node("Gemm", ["r", "w2", "b2"], ["y"], transB=1)], {"x": [160]},
                   {"w1": r.normal(0, 0.1, (8, 160)).astype(np.float32), "b1": r.normal(0, 0.1, 8).astype(np.float32),
                    "w2": r.normal(0, 0.3, (160, 8)).astype(np.float32), "b2": r.normal(0, 0.1, 160).astype(np.float32)})
    calib = r.normal(0, 1, (16, 160)).astype(np.float32)
    first = fpga_accel.compile(m, tmp_path / "first.fpga", board="zcu104", progress=False, calib=calib, generators=[])
    g1, g2 = [e["name"] for e in first.manifest["layers"] if e["op"] == "Gemm"]
    cfg = {"layers": {g1: {"folding": {"pe": 1, "simd": 160}}, g2: {"folding": {"pe": 160, "simd": 1}}}}
    return fpga_accel.compile(m, tmp_path / "wide.fpga", board="zcu104", progress=False, calib=calib, config=cfg)


def test_wide_ends_are_narrowed_and_csim_equals_the_emulator(tmp_path):
    need_toolchain()
    b = wide_ends(tmp_path)
    streams = b.manifest["kernel"]["axis"]["streams"]
    assert all(int(s["tdata_bits"]) <= MAX_STREAM_BITS for s in streams)
    assert len(dma_plan(streams)) == len(streams)  # the build's DMA plan accepts them
    stages = [s["kind"] for s in b.manifest["fold"]["stages"]]
    assert stages.count("width_convert") >= 2  # one behind the input, one in front of the output
    qm = load_qmodel(b)
    r = np.random.default_rng(4)
    q = {t.name: r.integers(t.qparams.qtype.min, t.qparams.qtype.max + 1, (3, *t.shape[1:])).astype(t.qparams.qtype.dtype)
         for t in qm.inputs}
    with Session(b, backend="csim") as s:
        got = s.run(q, raw=True)
    want = run_layers(qm, q)
    for t in qm.outputs:
        np.testing.assert_array_equal(got[t.name], want[t.name])
