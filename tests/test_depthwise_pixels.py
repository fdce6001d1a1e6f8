"""Depthwise pixel parallelism: with every channel in parallel (PE = C), PX adjacent output pixels
per word from the parallel window at PX, each weight read once for the PX pixels and, where the
board's DSP port allows, shared by pixel pairs in one multiply (depthwise.h PACK = 2).

The fold space and its checks, the stages' cycle and DSP models; then small depthwise convolutions
(3x3 with padding, 3x3 stride 2, 5x5 dilated, 1D) compiled at PX = 2 and 4 (with KP = 1 and more
kernel positions per word): the C simulation equals the emulator bit for bit (with the synthesis
loops too), every stage's counted loop iterations equal its cycle model, and the timed simulation at
the generated FIFO depths runs at the model's interval (within 2 %) without deadlock.
"""
from __future__ import annotations

import numpy as np
import pytest
from codegen_util import make_model, need_toolchain, quantise
from onnx import helper

IMAGES = 4
#: name -> (input shape C,H,W or C,W; kernel; strides; dilations; pads)
CONVS = {
    "p3": ((8, 8, 8), [3, 3], [1, 1], [1, 1], [1, 1, 1, 1]),
    "p3s2": ((4, 9, 8), [3, 3], [2, 2], [1, 1], [1, 1, 1, 1]),
    "p5": ((2, 10, 12), [5, 5], [1, 1], [2, 2], [4, 4, 4, 4]),
    "p1d": ((6, 16), [3], [1], [1], [1, 1]),
}


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


def plan_of(qm, name, port_bits=0):
    from fpga_accel.fold.lower import plan_layer

    return plan_layer(next(lay for lay in qm.layers if lay.name == name), qm, port_bits)


@pytest.fixture(scope="module")
def qm():
    return quantise(depthwise_model())


# --- the fold space and the models -----------------------------------------------------------------

def test_fold_space_adds_pixels_with_every_channel(qm):
    p = plan_of(qm, "p3")  # 8x8x8, 3x3 pad 1: widths 8 and 8, PX 2, 4, 8
    assert p.pxs == (2, 4, 8)
    pixels = [f for f in p.folds() if "px" in f]
    assert pixels == [{"pe": 8, "simd": s, "px": x} for x in (2, 4, 8) for s in (8, 24, 72)]
    assert [p.products(f) for f in pixels[:3]] == [16, 48, 144]
    for f in pixels:
        assert p.check(f) is None, f
        assert p.in_lanes(f) == p.out_lanes(f) == 8 * f["px"]
    assert "px=3" in p.check({"pe": 8, "simd": 8, "px": 3})
    assert "pe=8" in p.check({"pe": 4, "simd": 4, "px": 2})
    assert "simd=16" in p.check({"pe": 8, "simd": 16, "px": 2})
    assert plan_of(qm, "p3s2").pxs == (2, 4)  # widths 8 and 4


def test_lowering_refuses_pixels_it_cannot_take(qm):
    from fpga_accel.ops import lookup
    from fpga_accel.pe import FoldingProblem, LowerContext

    lay = next(lay for lay in qm.layers if lay.name == "p3")
    with pytest.raises(FoldingProblem, match=r"PE must be 8"):
        lookup("Conv").lower(lay, LowerContext(qm, {"pe": 4, "simd": 4, "px": 2}))
    with pytest.raises(FoldingProblem, match=r"one of \[2, 4, 8\]"):
        lookup("Conv").lower(lay, LowerContext(qm, {"pe": 8, "simd": 8, "px": 3}))


def test_stages_cycles_and_packed_dsps(qm):
    from fpga_accel.fold import get_board
    from fpga_accel.pe.depthwise import pixel_packs

    board = get_board("zcu104")
    p = plan_of(qm, "p3", board.dsp_port_bits)
    for px in (2, 4, 8):
        for kp in (1, 3, 9):
            win, dw = p.stages({"pe": 8, "simd": 8 * kp, "px": px})
            assert (win.kind, dw.kind) == ("parallel_window", "depthwise")
            assert (win.params["PX"], dw.params["PX"], dw.params["KP"]) == (px, px, kp)
            assert dw.cycles() == 64 // px * 9 // kp
            assert win.cycles() == 8 * max(8 // px * 9 // kp, 8 // px)  # output rows of max(emits, one row read)
    a = p.stages({"pe": 8})[1].params["IN_BITS"]
    assert a == 8 and pixel_packs(8, 8, board.dsp_port_bits)
    one = p.stages({"pe": 8})[1]  # 8 products, 8 outputs every 9 cycles: one time-shared requantiser
    assert one.params["RQ"] == 1 and one.cost(board).dsp == 8 + 1
    for px, kp in ((2, 1), (4, 3), (8, 9)):
        st = p.stages({"pe": 8, "simd": 8 * kp, "px": px})[1]
        assert st.params["PACK"] == 2
        # PX/2 pairs of 8·KP products share a DSP each; PX·8 outputs every 9/KP cycles share
        # ceil(PX·8 / (9/KP)) requantisers of one DSP each
        assert st.params["RQ"] == -(-px * 8 // (9 // kp))
        assert st.cost(board).dsp == px // 2 * 8 * kp + st.params["RQ"]
    from fpga_accel.pe.depthwise import packed_pixel_dsps

    assert packed_pixel_dsps(st.params) == 4 * 8 * 9  # PX = 8, KP = 9: 4 pairs of 72 products
    unpacked = plan_of(qm, "p3", 0).stages({"pe": 8, "simd": 8, "px": 2})[1]  # no board: no packing
    assert unpacked.params["PACK"] == 1
    assert not pixel_packs(8, 8, 24) and pixel_packs(8, 8, 25) and not pixel_packs(4, 4, 27)
    assert not pixel_packs(16, 8, 27) and pixel_packs(8, 9, 27)


# --- C simulation, cycle counts and timed simulation ----------------------------------------------

def _bundle(tmp_path, px_level: int, kp_level: int):
    """The model compiled for zcu104 with every depthwise conv at PE = C, PX its ``px_level``-th
    pixel option and SIMD = C·KP, KP the ``kp_level``-th divisor of its KH·KW (the last one when it
    has fewer)."""
    import fpga_accel
    from fpga_accel.codegen.hls_project import generate_hls
    from fpga_accel.pe import parallel_window as pw

    layers = {}
    for name, (shape, k, s, d, p) in CONVS.items():
        taps = int(np.prod(k))
        kps = [x for x in range(1, taps + 1) if taps % x == 0]
        kp = kps[min(kp_level, len(kps) - 1)]
        iw = shape[-1]
        ow = (iw + p[len(k) - 1] + p[-1] - d[-1] * (k[-1] - 1) - 1) // s[-1] + 1
        pxs = pw.pixel_options(iw, ow)
        layers[name] = {"folding": {"pe": shape[0], "simd": shape[0] * kp, "px": pxs[min(px_level, len(pxs) - 1)]}}
    r = np.random.default_rng(1)
    calib = {f"{n}_x": r.uniform(-1, 1, (16, *CONVS[n][0])).astype(np.float32) for n in CONVS}
    return fpga_accel.compile(depthwise_model(), tmp_path / f"px{px_level}kp{kp_level}.fpga", board="zcu104",
                              calib=calib, config={"layers": layers}, progress=False, generators=[generate_hls])


@pytest.mark.parametrize("px_level,kp_level", [(0, 0), (1, 1)])
def test_csim_equals_emulator_and_cycles_match(px_level, kp_level, tmp_path):
    need_toolchain()
    from fpga_accel.bundle_model import load_qmodel
    from fpga_accel.codegen.network import build_network
    from fpga_accel.emulator import run_layers
    from fpga_accel.emulator.csim_library import CsimLibrary, build_csim
    from fpga_accel.sim import simulate

    b = _bundle(tmp_path, px_level, kp_level)
    qm = load_qmodel(b)
    folds = {lay["name"]: lay["folding"] for lay in b.manifest["layers"]}
    for name in CONVS:
        assert folds[name].get("px", 1) > 1, (name, folds[name])
    lib = CsimLibrary(build_csim(b.path / "hls", progress=False))
    r = np.random.default_rng(px_level)
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
    packed = set()
    for c in net.calls:
        assert counted[c.stage.name] == c.stage.batch_cycles(2), c.stage.name
        if c.stage.kind == "depthwise":
            p = c.stage.params
            assert c.stage.cycles() == p["N_VECTORS"] // p["PX"] * p["K"] // p["KP"]
            if p["PACK"] == 2:
                packed.add(c.stage.layer)
    assert packed == set(CONVS)  # int8 activations and weights pack on DSP48E2
    res = simulate(b, images=IMAGES)
    model = b.manifest["fold"]["cycles_per_image"]
    assert res.deadlock is None and res.outputs_match is True
    assert model <= res.cycles_per_image <= model * 1.02, (res.cycles_per_image, model)
