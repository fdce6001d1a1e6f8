"""Depthwise kernel-position parallelism: with every channel in parallel (PE = C), SIMD = C·KP
feeds the depthwise PE KP kernel positions per word from the parallel window.

The fold space and its checks; then small depthwise convolutions (3x3 with padding, 3x3 stride 2,
5x5 dilated, 1D) compiled with SIMD forced to C·KP for every KP dividing KH·KW: the C simulation
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
#: name -> (input shape C,H,W or C,W; kernel; strides; dilations; pads)
CONVS = {
    "d3": ((8, 10, 10), [3, 3], [1, 1], [1, 1], [1, 1, 1, 1]),
    "d3s2": ((4, 11, 12), [3, 3], [2, 2], [1, 1], [1, 1, 1, 1]),
    "d5": ((2, 12, 11), [5, 5], [1, 1], [2, 2], [4, 3, 4, 3]),
    "d1d": ((6, 16), [3], [1], [1], [1, 1]),
}


def kps(name: str) -> list[int]:
    taps = int(np.prod(CONVS[name][1]))
    return [k for k in range(1, taps + 1) if taps % k == 0]


def depthwise_model(seed=0):
    """One branch per entry of CONVS: depthwise Conv + Relu from its own input to its own output."""
    r = np.random.default_rng(seed)
    nodes, inits, ins, outs = [], {}, {}, []
    for name, (shape, k, s, d, p) in CONVS.items():
        c = shape[0]
        inits[f"{name}_w"] = (r.standard_normal((c, 1, *k)) / np.sqrt(np.prod(k))).astype(np.float32)
        inits[f"{name}_b"] = (0.1 * r.standard_normal(c)).astype(np.float32)
        nodes += [helper.make_node("Conv", [f"{name}_x", f"{name}_w", f"{name}_b"], [f"{name}_c"], name=name,
                                   kernel_shape=k, strides=s, dilations=d, pads=p, group=c),
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
    return quantise(depthwise_model())


def test_fold_space_adds_kernel_positions_with_every_channel(qm):
    p = plan_of(qm, "d3")
    single = [f for f in p.folds() if "px" not in f]  # the pixel folds: test_depthwise_pixels.py
    assert single == [{"pe": 1}, {"pe": 2}, {"pe": 4}, {"pe": 8}, {"pe": 8, "simd": 24}, {"pe": 8, "simd": 72}]
    assert [p.products(f) for f in single] == [1, 2, 4, 8, 24, 72]
    assert p.check({"pe": 8, "simd": 72}) is None and p.check({"pe": 4, "simd": 4}) is None
    assert p.check({"pe": 2}) is None and p.check({"pe": 2, "simd": 1}) is None
    why = p.check({"pe": 4, "simd": 12})
    assert "simd=12" in why and "pe=8" in why and "kernel positions" in why and "[1, 24, 72]" in why
    assert "simd" in p.check({"pe": 8, "simd": 16})
    assert [f.get("simd") for f in plan_of(qm, "d5").folds() if "px" not in f] == [None, None, 10, 50]
    # the parallel window reads whole pixels; the PE writes PE channels
    assert p.in_lanes({"pe": 8, "simd": 72}) == 8 and p.out_lanes({"pe": 8, "simd": 72}) == 8


def test_stages_and_cycles_per_kernel_positions(qm):
    p = plan_of(qm, "d3")  # 10x10x8, 3x3 pad 1: 100 windows of 9 positions
    for fold, kind, words in (({"pe": 8}, "sliding_window", 9), ({"pe": 8, "simd": 24}, "parallel_window", 3),
                              ({"pe": 8, "simd": 72}, "parallel_window", 1)):
        win, dw = p.stages(fold)
        assert win.kind == kind and dw.kind == "depthwise"
        assert dw.params["KP"] == 9 // words and dw.cycles() == 100 * words
        assert win.cycles() == 10 * max(10 * words, 10)  # output rows of max(windows x words, one row read)
    assert p.stages({"pe": 4})[1].cycles() == 100 * 2 * 9


def test_cost_counts_kp_products_and_the_wider_weight_words(qm):
    from fpga_accel.fold import get_board

    board = get_board("zcu104")
    p = plan_of(qm, "d3")
    (s1, c1), (s3, c3) = ((st, st.cost(board)) for st in (p.stages(f)[1] for f in ({"pe": 8}, {"pe": 8, "simd": 24})))
    one, three = c1, c3
    # 8 outputs every 9 (KP = 1) or 3 (KP = 3) cycles: 1 or 3 time-shared requantisers, a DSP each
    assert (s1.params["RQ"], s3.params["RQ"]) == (1, 3)
    assert (one.dsp - 1, three.dsp - 3) == (8, 24)
    w1, w3 = one.memories[0], three.memories[0]
    assert (w1.depth, w1.width, w3.depth, w3.width) == (9, 64, 3, 192)


def test_lowering_refuses_other_simd_naming_the_choices(qm):
    from fpga_accel.ops import lookup
    from fpga_accel.pe import FoldingProblem, LowerContext

    lay = next(lay for lay in qm.layers if lay.name == "d3")
    with pytest.raises(FoldingProblem, match=r"SIMD must be one of \[1, 4\]"):
        lookup("Conv").lower(lay, LowerContext(qm, {"pe": 4, "simd": 24}))
    with pytest.raises(FoldingProblem, match=r"\[1, 8, 24, 72\]"):
        lookup("Conv").lower(lay, LowerContext(qm, {"pe": 8, "simd": 16}))


def test_the_folder_uses_kernel_positions(qm):
    from fpga_accel.fold import fold_model

    r = fold_model(qm, "zcu104")
    assert r.foldings["d3"].get("simd", 0) > 8, r.foldings
    kinds = {s.kind for lay in r.design.layers if lay.name == "d3" for s in lay.stages}
    assert kinds == {"parallel_window", "depthwise"}


# --- C simulation, cycle counts and timed simulation ----------------------------------------------

def _bundle(tmp_path, level: int):
    """The model compiled for zcu104 with every depthwise conv at PE = C and SIMD = C·KP, KP the
    ``level``-th divisor of its KH·KW (the last one when it has fewer)."""
    import fpga_accel
    from fpga_accel.codegen.hls_project import generate_hls

    layers = {}
    for name, (shape, *_rest) in CONVS.items():
        ks = kps(name)
        kp = ks[min(level, len(ks) - 1)]
        layers[name] = {"folding": {"pe": shape[0], **({"simd": shape[0] * kp} if kp > 1 else {})}}
    r = np.random.default_rng(1)
    calib = {f"{n}_x": r.uniform(-1, 1, (16, *CONVS[n][0])).astype(np.float32) for n in CONVS}
    return fpga_accel.compile(depthwise_model(), tmp_path / f"kp{level}.fpga", board="zcu104", calib=calib,
                              config={"layers": layers}, progress=False, generators=[generate_hls])


@pytest.mark.parametrize("level", [0, 1, 2])
def test_csim_equals_emulator_and_cycles_match(level, tmp_path):
    need_toolchain()
    from fpga_accel.bundle_model import load_qmodel
    from fpga_accel.codegen.network import build_network
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
    net = build_network(qm, b.manifest)
    counted = lib.stage_cycles()
    kinds = {}
    for c in net.calls:
        assert counted[c.stage.name] == c.stage.batch_cycles(2), c.stage.name
        kinds[c.stage.layer] = kinds.get(c.stage.layer, set()) | {c.stage.kind}
    for name, (shape, *_rest) in CONVS.items():
        fold = b.manifest["layers"][[lay["name"] for lay in b.manifest["layers"]].index(name)]["folding"]
        assert ("parallel_window" in kinds[name]) == (fold.get("simd", 1) > shape[0]), (name, fold, kinds[name])
    res = simulate(b, images=IMAGES)
    model = b.manifest["fold"]["cycles_per_image"]
    assert res.deadlock is None and res.outputs_match is True
    assert model <= res.cycles_per_image <= model * 1.02, (res.cycles_per_image, model)
