"""Pixel parallelism: a dense convolution taking PX adjacent output pixels per word (PE of the output
channels, whole pixels in, PX whole pixels out): the parallel window at PX and the MMV MVAU.

The fold space and its checks; then small convolutions (3x3 pad 1, a stride-2 stem with asymmetric
pads, 5x5 pad 2, 1x1 without a window, 1D) compiled with PX forced to 2 and 4: the C simulation
equals the emulator bit for bit (with the synthesis loops too), every stage's counted loop
iterations equal its cycle model, and the timed simulation at the generated FIFO depths runs at
the model's interval (within 2 %) without deadlock.
"""
from __future__ import annotations

import numpy as np
import pytest
from codegen_util import make_model, need_toolchain, quantise
from onnx import helper

IMAGES = 4
#: name -> (input shape C,H,W or C,W; output channels; kernel; strides; pads)
CONVS = {
    "s3": ((3, 6, 8), 8, [3, 3], [1, 1], [1, 1, 1, 1]),
    "stem": ((3, 7, 16), 8, [3, 3], [2, 2], [1, 1, 0, 0]),
    "k5": ((2, 7, 8), 4, [5, 5], [1, 1], [2, 2, 2, 2]),
    "pw": ((6, 4, 8), 5, [1, 1], [1, 1], [0, 0, 0, 0]),
    "c1d": ((3, 16), 4, [3], [1], [1, 1]),
}


def convs_model(seed=0):
    """One branch per entry of CONVS: Conv + Relu from its own input to its own output."""
    r = np.random.default_rng(seed)
    nodes, inits, ins, outs = [], {}, {}, []
    for name, (shape, m, k, s, p) in CONVS.items():
        c = shape[0]
        inits[f"{name}_w"] = (r.standard_normal((m, c, *k)) / np.sqrt(c * np.prod(k))).astype(np.float32)
        inits[f"{name}_b"] = (0.1 * r.standard_normal(m)).astype(np.float32)
        nodes += [helper.make_node("Conv", [f"{name}_x", f"{name}_w", f"{name}_b"], [f"{name}_c"], name=name,
                                   kernel_shape=k, strides=s, pads=p),
                  helper.make_node("Relu", [f"{name}_c"], [f"{name}_y"], name=f"{name}_relu")]
        ins[f"{name}_x"] = list(shape)
        outs.append(f"{name}_y")
    return make_model(nodes, ins, inits, outs)


def plan_of(qm, name):
    from fpga_accel.fold.lower import plan_layer

    return plan_layer(next(lay for lay in qm.layers if lay.name == name), qm)


@pytest.fixture(scope="module")
def qm():
    return quantise(convs_model())


def test_fold_space_adds_pixels_with_any_pe_and_whole_pixels(qm):
    p = plan_of(qm, "s3")
    assert p.pxs == (2, 4, 8)
    pixels = [f for f in p.folds() if "px" in f]
    assert {f["px"] for f in pixels} == {2, 4, 8}
    # every output channel with whole pixels always; neuron or synapse folds only where they give a cycle
    # count that one pixel per word cannot (the MMV's counted cycles, not the plan's own formula)
    at_one = {p.stages(f)[-1].cycles() for f in p.folds() if "px" not in f}
    whole = {(8, 3), (8, 9), (8, 27)}
    for f in pixels:
        assert (f["pe"], f["simd"]) in whole or p.stages(f)[-1].cycles() not in at_one, f
    assert whole | {(f["pe"], f["simd"]) for f in pixels if f["px"] == 2} > whole
    assert {"pe": 8, "simd": 1, "px": 2} in pixels  # 24 groups x 27 = 648 cycles: 13.5 a pixel
    assert {"pe": 4, "simd": 27, "px": 2} not in pixels  # 48 cycles, as PE 8 x SIMD 27 at one pixel
    assert plan_of(qm, "stem").pxs == (2, 4, 8)  # 16 columns in, 8 out
    assert plan_of(qm, "pw").pxs == (2, 4, 8) and plan_of(qm, "c1d").pxs == (2, 4, 8)
    assert p.check({"pe": 8, "simd": 9, "px": 4}) is None
    assert "px=3" in p.check({"pe": 8, "simd": 9, "px": 3})
    assert p.check({"pe": 4, "simd": 9, "px": 2}) is None
    assert "pe=3" in p.check({"pe": 3, "simd": 9, "px": 2})
    assert p.check({"pe": 8, "simd": 1, "px": 2}) is None  # slices of whole pixels
    assert "simd=2" in p.check({"pe": 8, "simd": 2, "px": 2})
    # PX whole pixels in, PX pixels of every channel out, whatever PE is
    assert p.in_lanes({"pe": 8, "simd": 27, "px": 4}) == 12 and p.out_lanes({"pe": 8, "simd": 27, "px": 4}) == 32
    assert p.out_lanes({"pe": 2, "simd": 9, "px": 4}) == 32
    assert p.in_lanes({"pe": 2, "simd": 1, "px": 4}) == 12 and p.out_lanes({"pe": 2, "simd": 1, "px": 4}) == 32
    assert p.products({"pe": 8, "simd": 27, "px": 4}) == 8 * 27 * 4


def test_stages_and_cycles_per_pixels(qm):
    p = plan_of(qm, "stem")  # 7x16x3 -> 3x8x8 (3x3 s2, pad top/left 1): 24 windows of 9 positions
    win, mv = p.stages({"pe": 8, "simd": 27, "px": 4})
    assert (win.kind, mv.kind) == ("parallel_window", "mvau_mmv")
    assert mv.cycles() == 24 // 4 and win.params["PX"] == 4
    # every term of the schedule (rows of IW/PX words, OW/PX groups of windows) a quarter of PX = 1's
    one = p.stages({"pe": 8, "simd": 27})[0]
    assert one.cycles() == 4 * win.cycles() and one.batch_cycles(3) == 4 * win.batch_cycles(3)
    (mv1,) = plan_of(qm, "pw").stages({"pe": 5, "simd": 6, "px": 8})  # no window: 8 pixels per word
    assert mv1.kind == "mvau_mmv" and mv1.cycles() == 4 * 8 // 8
    # neuron folds: 8 channels at PE 2 are NF = 4 folds of 3 synapse folds (SIMD 9 of 27) per group
    win, mv = plan_of(qm, "s3").stages({"pe": 2, "simd": 9, "px": 2})
    assert mv.params["PE"] == 2 and mv.cycles() == 6 * 8 // 2 * 4 * 3
    assert mv.outputs[0].lanes == 2 * 8 and win.outputs[0].lanes == 2 * 9
    # SIMD below the channels: the window at whole pixels (KP = 1), the MMV in slices of its words
    win, mv = plan_of(qm, "s3").stages({"pe": 4, "simd": 1, "px": 2})
    assert win.params["SIMD"] == 3 and (mv.params["SIMD"], mv.params["IN_SIMD"]) == (1, 3)
    assert mv.cycles() == 24 * 2 * 27
    (mv1,) = plan_of(qm, "pw").stages({"pe": 5, "simd": 2, "px": 4})  # 1x1: PX whole pixels in, 3 slices
    assert (mv1.params["IN_SIMD"], mv1.inputs[0].lanes, mv1.cycles()) == (6, 24, 32 // 4 * 3)


def test_cost_shares_weights_and_multiplies_products(qm):
    from fpga_accel.fold import get_board
    from fpga_accel.pe.cost import requant_cost

    board = get_board("zcu104")
    p = plan_of(qm, "s3")
    one = p.stages({"pe": 8, "simd": 27})[-1].cost(board)
    four = p.stages({"pe": 8, "simd": 27, "px": 4})[-1].cost(board)
    assert four.dsp == 4 * one.dsp
    weights = lambda c: [(m.depth, m.width, m.count) for m in c.memories if m.role == "weights"]
    assert weights(four) == weights(one)  # one weight read for all four pixels
    assert not [m for m in four.memories if m.role == "buffer"]  # one neuron fold: nothing replayed
    # PE 4 of 8: two neuron folds replay the pair of pixels from a buffer of SF words of PX·SIMD lanes
    half = p.stages({"pe": 4, "simd": 9})[-1].cost(board)
    two = p.stages({"pe": 4, "simd": 9, "px": 2})[-1]
    c2 = two.cost(board)
    rq = lambda st, lanes: requant_cost(lanes, st.params["ACC_BITS"], 8, board.dsp_port_bits, rq=st.params["RQ"]).dsp
    plain = p.stages({"pe": 4, "simd": 9})[-1]
    # the products twice; ceil(PX·PE / SF) = 3 shared requantisers against the MVAU's ceil(4 / 3) = 2
    assert (two.params["RQ"], plain.params["RQ"]) == (3, 2)
    assert c2.dsp - rq(two, 8) == 2 * (half.dsp - rq(plain, 4)) and weights(c2) == weights(half)
    assert [(m.depth, m.width) for m in c2.memories if m.role == "buffer"] == [(3, 2 * 9 * 8)]
    assert two.cycles() == 48 // 2 * 2 * 3 and two.input_slack(two.cycles()) == 2  # ceil(3 replayed cycles x 72 words / 144)


def test_lowering_refuses_partial_pixels_naming_the_choices(qm):
    from fpga_accel.ops import lookup
    from fpga_accel.pe import FoldingProblem, LowerContext

    lay = next(lay for lay in qm.layers if lay.name == "s3")
    with pytest.raises(FoldingProblem, match=r"SIMD must be one of \[1, 3, 9, 27\]"):
        lookup("Conv").lower(lay, LowerContext(qm, {"pe": 4, "simd": 2, "px": 2}))
    with pytest.raises(FoldingProblem, match=r"PE=3 does not divide the output channels \(8\)"):
        lookup("Conv").lower(lay, LowerContext(qm, {"pe": 3, "simd": 27, "px": 2}))
    with pytest.raises(FoldingProblem, match=r"PX=3 .*one of \[2, 4, 8\]"):
        lookup("Conv").lower(lay, LowerContext(qm, {"pe": 8, "simd": 27, "px": 3}))


def test_the_folder_takes_pixels_when_a_window_reads_its_floor():
    """A thin stem on a big board: one input pixel per cycle is the floor without PX."""
    from fpga_accel.fold import fold_model

    qm = quantise(convs_model())
    r = fold_model(qm, "zcu104")
    assert r.foldings["stem"].get("px", 1) > 1, r.foldings
    kinds = {s.kind for lay in r.design.layers if lay.name == "stem" for s in lay.stages}
    assert kinds == {"parallel_window", "mvau_mmv"}


def _bundle(tmp_path, px: int, full: bool, folds: bool = False):
    """The model compiled with every conv at PE = M (with ``folds`` M/2, or 1 for an odd M: neuron
    folds, and SIMD = 1: slices of whole pixels), SIMD = C (or C·KH·KW when ``full``: more DSPs than zcu104 has, so for alveo-u250) and PX =
    ``px``."""
    import fpga_accel
    from fpga_accel.codegen.hls_project import generate_hls

    pe = (lambda m: m // 2 if m % 2 == 0 else 1) if folds else (lambda m: m)
    simd = (lambda c, k: 1) if folds else (lambda c, k: c * (int(np.prod(k)) if full else 1))
    layers = {name: {"folding": {"pe": pe(m), "simd": simd(shape[0], k), "px": px}}
              for name, (shape, m, k, *_rest) in CONVS.items()}
    r = np.random.default_rng(1)
    calib = {f"{n}_x": r.uniform(-1, 1, (16, *CONVS[n][0])).astype(np.float32) for n in CONVS}
    return fpga_accel.compile(convs_model(), tmp_path / f"px{px}{'nf' if folds else ''}.fpga", board="alveo-u250" if full else "zcu104",
                              calib=calib,
                              config={"layers": layers}, progress=False, generators=[generate_hls])


@pytest.mark.parametrize("px,full,folds", [(2, False, False), (4, True, False), (4, False, True)])
def test_csim_equals_emulator_and_cycles_match(px, full, folds, tmp_path):
    need_toolchain()
    from fpga_accel.bundle_model import load_qmodel
    from fpga_accel.codegen.network import build_network
    from fpga_accel.emulator import run_layers
    from fpga_accel.emulator.csim_library import CsimLibrary, build_csim
    from fpga_accel.sim import simulate

    b = _bundle(tmp_path, px, full, folds)
    qm = load_qmodel(b)
    lib = CsimLibrary(build_csim(b.path / "hls", progress=False))
    r = np.random.default_rng(px)
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
    assert all("mvau_mmv" in kinds[name] for name in CONVS), kinds
    if folds:  # the neuron folds really ran: each MMV at PE < M, NF times its groups' synapse folds
        mmv = [c.stage for c in net.calls if c.stage.kind == "mvau_mmv"]
        assert all(s.params["PE"] < s.params["MH"] for s in mmv), [s.params for s in mmv]
    res = simulate(b, images=IMAGES)
    model = b.manifest["fold"]["cycles_per_image"]
    assert res.deadlock is None and res.outputs_match is True
    assert model <= res.cycles_per_image <= model * 1.02, (res.cycles_per_image, model)
