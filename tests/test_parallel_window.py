"""Kernel-position parallelism: a convolution's SIMD = C·KP (KP kernel positions per word).

The fold space and its checks; then small convolutions (3x3 and 5x5 stems, stride 2, padding,
dilation, 1D) compiled with their SIMD forced to C·KP for every KP dividing KH·KW: the C simulation
equals the emulator bit for bit (with the synthesis loops too), every stage's counted loop
iterations equal its cycle model, and the timed simulation at the generated FIFO depths runs at the
model's interval (within 2 %) without deadlock.
"""
from __future__ import annotations

import numpy as np
import pytest
from codegen_util import make_model, need_toolchain, quantise
from onnx import helper

IMAGES = 4
#: name -> (input shape C,H,W or C,W; output channels; kernel; strides; dilations; pads)
CONVS = {
    "s3": ((3, 10, 10), 8, [3, 3], [1, 1], [1, 1], [1, 1, 1, 1]),
    "s5": ((1, 13, 13), 4, [5, 5], [2, 2], [1, 1], [2, 2, 2, 2]),
    "dil": ((2, 11, 9), 4, [3, 3], [1, 1], [2, 2], [2, 1, 2, 1]),
    "c1d": ((3, 16), 4, [3], [1], [1], [1, 1]),
}


def kps(name: str) -> list[int]:
    taps = int(np.prod(CONVS[name][2]))
    return [k for k in range(1, taps + 1) if taps % k == 0]


def convs_model(seed=0):
    """One branch per entry of CONVS: Conv + Relu from its own input to its own output."""
    r = np.random.default_rng(seed)
    nodes, inits, ins, outs = [], {}, {}, []
    for name, (shape, m, k, s, d, p) in CONVS.items():
        c = shape[0]
        inits[f"{name}_w"] = (r.standard_normal((m, c, *k)) / np.sqrt(c * np.prod(k))).astype(np.float32)
        inits[f"{name}_b"] = (0.1 * r.standard_normal(m)).astype(np.float32)
        nodes += [helper.make_node("Conv", [f"{name}_x", f"{name}_w", f"{name}_b"], [f"{name}_c"], name=name,
                                   kernel_shape=k, strides=s, dilations=d, pads=p),
                  helper.make_node("Relu", [f"{name}_c"], [f"{name}_y"], name=f"{name}_relu")]
        ins[f"{name}_x"] = list(shape)
        outs.append(f"{name}_y")
    return make_model(nodes, ins, inits, outs)


def plan_of(qm, name):
    from fpga_accel.fold.lower import plan_layer

    return plan_layer(next(lay for lay in qm.layers if lay.name == name), qm)


# --- the fold space -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def qm():
    return quantise(convs_model())


def test_fold_space_adds_whole_pixels_times_kernel_positions(qm):
    p = plan_of(qm, "s3")
    assert p.simds() == [1, 3, 9, 27]  # divisors of C = 3, then 3·3 and 3·9
    assert {f["simd"] for f in p.folds()} == {1, 3, 9, 27}
    assert p.check({"pe": 8, "simd": 27}) is None and p.check({"pe": 1, "simd": 9}) is None
    why = p.check({"pe": 1, "simd": 6})
    assert "simd=6" in why and "kernel positions" in why and "[1, 3, 9, 27]" in why
    assert plan_of(qm, "s5").simds() == [1, 5, 25]
    assert plan_of(qm, "c1d").simds() == [1, 3, 9]
    # the window reads whole pixels once SIMD spans them; below, SIMD channels per word
    assert [p.in_lanes({"pe": 1, "simd": s}) for s in (1, 3, 9, 27)] == [1, 3, 3, 3]
    assert [p.out_lanes({"pe": 4, "simd": s}) for s in (1, 27)] == [4, 4]


def test_stages_and_cycles_per_kernel_positions(qm):
    p = plan_of(qm, "s3")  # 10x10x3 -> 10x10x8, 3x3 pad 1: 100 windows of 9 positions
    # steady state: 10 output rows of max(10 windows x NW words, one 10-pixel row read); the next
    # image's first two rows are read during the last two output rows
    for simd, kind, window in ((3, "sliding_window", 10 * 90), (9, "parallel_window", 10 * 30),
                               (27, "parallel_window", 10 * 10)):
        win, mv = p.stages({"pe": 8, "simd": simd})
        assert win.kind == kind and mv.params["SIMD"] == simd and mv.params["MW"] == 27
        assert win.cycles() == window
        assert mv.cycles() == 100 * 27 // simd
    # fully parallel: one pixel per cycle, 100 per image, not 100 x 9; only the first image of a
    # batch waits for its 2 prologue rows
    win = p.stages({"pe": 8, "simd": 27})[0]
    assert [win.batch_cycles(n) for n in (1, 2, 5)] == [120, 220, 520]


def test_cheapest_first_order_and_the_folder_uses_kernel_positions(qm):
    from fpga_accel.fold import fold_model
    from fpga_accel.fold.folder import _ordered

    plan = plan_of(qm, "s3")
    order = _ordered(plan, qm, {})
    work = [f["pe"] * f["simd"] * f.get("px", 1) for f, _ in order]
    assert work == [plan.products(f) for f, _ in order]
    assert work == sorted(work)
    r = fold_model(qm, "zcu104")
    assert r.foldings["s3"]["simd"] in (9, 27) and r.foldings["s5"]["simd"] in (5, 25)
    kinds = {s.kind for lay in r.design.layers if lay.name == "s3" for s in lay.stages}
    assert "parallel_window" in kinds


def test_lowering_refuses_other_simd_naming_the_choices(qm):
    from fpga_accel.ops import lookup
    from fpga_accel.pe import FoldingProblem, LowerContext

    lay = next(lay for lay in qm.layers if lay.name == "s3")
    with pytest.raises(FoldingProblem, match=r"SIMD=6 .*3x3 kernel positions.*\[1, 3, 9, 27\]"):
        lookup("Conv").lower(lay, LowerContext(qm, {"pe": 1, "simd": 6}))


def test_cost_counts_the_banks_and_registers(qm):
    from fpga_accel.fold import get_board
    from fpga_accel.fold.resources import memory_cost

    win = plan_of(qm, "s3").stages({"pe": 1, "simd": 27})[0]
    c = win.cost(get_board("pynq-z2"))
    (mem,) = c.memories
    # (span 3 + stride 1) rows x span 3 phases; 10 columns over 3 phases: 4 pixels of 3 x 8 bits
    assert (mem.count, mem.depth, mem.width) == (12, 4, 24)
    assert memory_cost(mem).lut == 12 * 24  # LUTRAM, one LUT per bit per 64 words
    assert c.ff >= 9 * 24 + 27 * 8  # the register window and the output word


# --- C simulation, cycle counts and timed simulation ----------------------------------------------

def _bundle(tmp_path, level: int):
    """The model compiled for zcu104 with every conv at PE = M and SIMD = C·KP, KP the ``level``-th
    divisor of its KH·KW (the last one when it has fewer)."""
    import fpga_accel
    from fpga_accel.codegen.hls_project import generate_hls

    layers = {}
    for name, (shape, m, *_rest) in CONVS.items():
        ks = kps(name)
        layers[name] = {"folding": {"pe": m, "simd": shape[0] * ks[min(level, len(ks) - 1)]}}
    model = convs_model()
    r = np.random.default_rng(1)
    calib = {f"{n}_x": r.uniform(-1, 1, (16, *CONVS[n][0])).astype(np.float32) for n in CONVS}
    return fpga_accel.compile(model, tmp_path / f"kp{level}.fpga", board="zcu104", calib=calib,
                              config={"layers": layers}, progress=False, generators=[generate_hls])


@pytest.mark.parametrize("level", [0, 1, 2])
def test_csim_equals_emulator_and_cycles_match(level, tmp_path):
    need_toolchain()
    from fpga_accel.bundle_model import load_qmodel
    from fpga_accel.emulator import run_layers
    from fpga_accel.emulator.csim_library import CsimLibrary, build_csim
    from fpga_accel.sim import simulate

    b = _bundle(tmp_path, level)
    qm = load_qmodel(b)
    lib = CsimLibrary(build_csim(b.path / "hls", progress=False))
    r = np.random.default_rng(level)
    ins = [r.integers(t.qparams.qtype.min, t.qparams.qtype.max + 1, (2, *t.shape[1:])).astype(t.qparams.qtype.dtype)
           for t in qm.inputs]
    want = run_layers(qm, {t.name: x for t, x in zip(qm.inputs, ins)})
    for loops in (False, True):  # the fast paths, then the loops synthesis sees
        lib.set_fast_paths(not loops)
        outs = [np.zeros((2, *t.shape[1:]), t.qparams.qtype.dtype) for t in qm.outputs]
        lib.run(ins, outs, 2)
        for t, got in zip(qm.outputs, outs):
            np.testing.assert_array_equal(got, want[t.name], err_msg=f"{t.name} (synthesis loops: {loops})")
    # every stage's counted iterations == its model, and the windows are the kind the SIMD asks for
    from fpga_accel.codegen.network import build_network

    net = build_network(qm, b.manifest)
    counted = lib.stage_cycles()
    kinds = {}
    for c in net.calls:
        assert counted[c.stage.name] == c.stage.batch_cycles(2), c.stage.name
        kinds[c.stage.layer] = kinds.get(c.stage.layer, set()) | {c.stage.kind}
    for name, (shape, *_rest) in CONVS.items():
        simd = b.manifest["layers"][[lay["name"] for lay in b.manifest["layers"]].index(name)]["folding"]["simd"]
        assert ("parallel_window" in kinds[name]) == (simd > shape[0]), (name, simd, kinds[name])
    res = simulate(b, images=IMAGES)
    model = b.manifest["fold"]["cycles_per_image"]
    assert res.deadlock is None and res.outputs_match is True
    assert model <= res.cycles_per_image <= model * 1.02, (res.cycles_per_image, model)
