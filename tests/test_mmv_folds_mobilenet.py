"""MobileNetV1-0.25 (VWW, 96x96; benchmarks/mlperf_tiny.py, random weights) on pynq-z2 and zcu104: the
design the folder chooses, and the same design with every layer that offers an MMV step (pixel
parallelism with neuron or synapse folds: mvau_mmv at PE < M or SIMD below its input words) no
slower than the design's interval moved to the one with the fewest products (compiled for
alveo-u250: its PX-pixel words outgrow the small boards). For both the C
simulation equals the emulator bit for bit, with the fast paths and with the loops synthesis sees,
and every stage's counted loop iterations equal its cycle model."""
from __future__ import annotations

import sys
from dataclasses import replace

import numpy as np
import pytest
from codegen_util import need_toolchain

from models import data

sys.path.insert(0, str(data.HERE.parent / "benchmarks"))
mlperf_tiny = pytest.importorskip("mlperf_tiny")

IMAGES = 2


def _steps(qm, foldings: dict, board: str, interval: int) -> dict:
    """``foldings`` with each layer's fewest-products MMV step of at most ``interval`` cycles."""
    from fpga_accel.fold import get_board
    from fpga_accel.fold.lower import plan_layer

    out = dict(foldings)
    for lay in qm.layers:
        plan = plan_layer(lay, qm, get_board(board).dsp_port_bits)
        plain = {tuple(sorted(f.items())) for f in replace(plan, mmv_steps=False).folds()}
        steps = [f for f in plan.folds() if tuple(sorted(f.items())) not in plain and f.get("mul", "dsp") == "dsp"
                 and max(s.cycles() for s in plan.stages(f)) <= interval]
        if steps:
            out[lay.name] = min(steps, key=lambda f: (plan.products(f), -f["px"]))
    return out


def _check(b):
    from fpga_accel.bundle_model import load_qmodel
    from fpga_accel.codegen.network import build_network
    from fpga_accel.emulator import run_layers
    from fpga_accel.emulator.csim_library import CsimLibrary, build_csim

    qm = load_qmodel(b)
    net = build_network(qm, b.manifest)
    lib = CsimLibrary(build_csim(b.path / "hls", progress=False))
    if b.manifest.get("uram_load"):  # weights the placement put in URAM: filled from DDR at start
        lib.load(b.read("weights/uram.bin"))
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
    return net


@pytest.mark.slow
@pytest.mark.parametrize("board", ["pynq-z2", "zcu104"])
def test_folded_and_mmv_step_designs_csim_equal_emulator(board, tmp_path):
    need_toolchain()
    import fpga_accel
    from fpga_accel.bundle_model import load_qmodel
    from fpga_accel.codegen.hls_project import generate_hls

    model, calib = mlperf_tiny.write(tmp_path, ["mobilenet_v1_025_vww"])["mobilenet_v1_025_vww"]
    chosen = fpga_accel.compile(model, tmp_path / "m.fpga", board=board, calib=np.load(calib), progress=False,
                                generators=[generate_hls])
    _check(chosen)
    if board == "zcu104":  # six images in flight: the timed run extends its batch to a steady state
        from fpga_accel.sim import simulate

        model_cycles = chosen.manifest["fold"]["cycles_per_image"]
        res = simulate(chosen, images=4)
        assert res.warmed is True and res.images > 4 and res.outputs_match is True and res.deadlock is None
        assert model_cycles <= res.cycles_per_image <= 1.02 * model_cycles, (res.cycles_per_image, model_cycles)
    foldings = {lay["name"]: lay["folding"] for lay in chosen.manifest["layers"]}
    stepped = _steps(load_qmodel(chosen), foldings, board, chosen.manifest["fold"]["cycles_per_image"])
    layers = {name: {"folding": fold} for name, fold in stepped.items() if fold}
    # the wide words of PX whole pixels outgrow the small board: the same foldings on a big one
    b = fpga_accel.compile(model, tmp_path / "s.fpga", board="alveo-u250", calib=np.load(calib), progress=False,
                           config={"layers": layers}, generators=[generate_hls])
    net = _check(b)
    mmv = [c.stage.params for c in net.calls if c.stage.kind == "mvau_mmv"]
    assert any(p["PE"] < p["MH"] or p["SIMD"] < p["IN_SIMD"] for p in mmv), mmv
