"""MobileNetV1-0.25 (VWW, 96x96; benchmarks/mlperf_tiny.py, random weights) as the folder chooses it on
pynq-z2 and zcu104, where its pointwise layers take pixel parallelism with neuron or synapse folds
(mvau_mmv at PE < M or SIMD below its input words): the C simulation equals the emulator bit for bit,
with the fast paths and with the loops synthesis sees, and every stage's counted loop iterations
equal its cycle model."""
from __future__ import annotations

import sys

import numpy as np
import pytest
from codegen_util import need_toolchain

from models import data

sys.path.insert(0, str(data.HERE.parent / "benchmarks"))
mlperf_tiny = pytest.importorskip("mlperf_tiny")

IMAGES = 2


@pytest.mark.slow
@pytest.mark.parametrize("board", ["pynq-z2", "zcu104"])
def test_folded_mmv_design_csim_equals_emulator(board, tmp_path):
    need_toolchain()
    import fpga_accel
    from fpga_accel.bundle_model import load_qmodel
    from fpga_accel.codegen.hls_project import generate_hls
    from fpga_accel.codegen.network import build_network
    from fpga_accel.emulator import run_layers
    from fpga_accel.emulator.csim_library import CsimLibrary, build_csim

    model, calib = mlperf_tiny.write(tmp_path, ["mobilenet_v1_025_vww"])["mobilenet_v1_025_vww"]
    b = fpga_accel.compile(model, tmp_path / "m.fpga", board=board, calib=np.load(calib), progress=False,
                           generators=[generate_hls])
    qm = load_qmodel(b)
    net = build_network(qm, b.manifest)
    mmv = [c.stage.params for c in net.calls if c.stage.kind == "mvau_mmv"]
    assert any(p["PE"] < p["MH"] or p["SIMD"] < p["IN_SIMD"] for p in mmv), mmv

    lib = CsimLibrary(build_csim(b.path / "hls", progress=False))
    r = np.random.default_rng(0)
    ins = [r.integers(t.qparams.qtype.min, t.qparams.qtype.max + 1, (IMAGES, *t.shape[1:])).astype(t.qparams.qtype.dtype)
           for t in qm.inputs]
    want = run_layers(qm, {t.name: x for t, x in zip(qm.inputs, ins)})
    for loops in (False, True):
        lib.set_fast_paths(not loops)
        outs = [np.zeros((IMAGES, *t.shape[1:]), t.qparams.qtype.dtype) for t in qm.outputs]
        lib.run(ins, outs, IMAGES)
        for t, got in zip(qm.outputs, outs):
            np.testing.assert_array_equal(got, want[t.name], err_msg=f"{t.name} (synthesis loops: {loops})")
        counted = lib.stage_cycles()
        for c in net.calls:
            assert counted[c.stage.name] == c.stage.batch_cycles(IMAGES), c.stage.name
