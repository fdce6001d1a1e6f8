"""The tiled engine's faster modes in C simulation, bit for bit against the emulator and the reference
executor, with the simulated compute cycles equal to the cost model's: tap-parallel convolutions
(few input channels, and channel counts Tn does not divide), inputs kept on chip across Tm tiles,
1x1 convolutions that load only the pixels they read, and the packed multiply (two 8-bit products per
DSP, PACK = 2) in both C-simulation forms; a packed engine refuses wider types."""
import numpy as np
import pytest
from onnx import helper
from test_tiled_engine import GRAPHS, TILINGS, W, conv
from test_tiled_hls import check_csim
from tiled_util import make_model, random_case

from fpga_accel import toolchain
from fpga_accel.emulator import run_layers
from fpga_accel.tiled import build_program, csim
from fpga_accel.tiled.tiles import in_span, input_resident, sampled_input, spans, tap_parallel


@pytest.fixture(autouse=True)
def _toolchain():
    try:
        toolchain.compiler()
        toolchain.ap_types_dir()
    except toolchain.ToolchainError as e:
        pytest.skip(str(e))


def speed_graph():
    """A stem-like 7x7 convolution of 3 channels, a strided 1x1 convolution with more output channels
    than Tm, a padded 1x1 one, and a 3x3 one of 13 input channels."""
    r = np.random.default_rng(11)
    return make_model(
        [conv("stem", "x", "w1", "a", strides=[2, 2], pads=[3, 3, 3, 3]), helper.make_node("Relu", ["a"], ["b"]),
         conv("down", "b", "w2", "c", strides=[2, 2]), conv("padded", "c", "w3", "d", pads=[1, 0, 1, 1]),
         helper.make_node("Relu", ["d"], ["e"]), conv("c3", "e", "w4", "f", pads=[1, 1, 1, 1])],
        {"x": [3, 19, 17]}, {"w1": W(r, 13, 3, 7, 7), "w1_b": W(r, 13), "w2": W(r, 13, 13, 1, 1), "w2_b": W(r, 13),
                             "w3": W(r, 13, 13, 1, 1), "w3_b": W(r, 13), "w4": W(r, 6, 13, 3, 3), "w4_b": W(r, 6)})


def modes(program) -> set[str]:
    """The modes the program's convolutions run in (on their first spatial tile)."""
    found = set()
    for d in program.layers:
        if d["kind"] not in ("conv", "gemm"):
            continue
        geo = d.get("geometry") if d["kind"] == "conv" else None
        if d["kind"] == "conv" and tap_parallel(d, program.engine):
            found.add("tap")
            continue
        if geo is None:
            continue
        t = d["tile"]
        (kh, kw), (sh, sw), (dh, dw) = geo["kernel"], geo["strides"], geo["dilations"]
        r0, r1 = spans(d["output"]["h"], t["rows"])[0]
        q0, q1 = spans(d["output"]["w"], t["cols"])[0]
        if sampled_input(d, geo):
            found.add("sampled" + ("/strided" if max(sh, sw) > 1 else ""))
            area = (r1 - r0) * (q1 - q0)
        else:
            hy, hx = in_span(r0, r1, sh, dh, kh, 0), in_span(q0, q1, sw, dw, kw, 0)
            area = (hy[1] - hy[0]) * (hx[1] - hx[0])
        if input_resident(d, geo, area, program.engine):
            found.add("resident")
    return found


@pytest.mark.parametrize("tm, tn, tile", [(4, 8, None), (5, 4, (3, 4)), (3, 16, (2, 5))], ids=str)
def test_modes_bit_exact(tm, tn, tile):
    qm, q = random_case(speed_graph(), seed=5)
    program = build_program(qm, tm=tm, tn=tn, tile=tile)
    assert {"tap", "sampled/strided", "resident"} <= modes(program)
    check_csim(qm, q, tm=tm, tn=tn, tile=tile)


def test_the_stem_runs_tap_parallel_in_fewer_cycles():
    qm, q = random_case(speed_graph(), seed=5)
    sim = check_csim(qm, q, tm=8, tn=16)
    stem = sim.program.layers[0]
    assert tap_parallel(stem, sim.program.engine)
    px = stem["output"]["h"] * stem["output"]["w"]
    assert sim.layer_cycles()[0] == px * -(-(49 * 3) // 16) * 2  # 2 Tm tiles of 8 over 13 channels
    assert sim.layer_cycles()[0] * 4 < px * 49 * 2  # dense mode: one tap (3 of 16 lanes) a cycle


def test_tiles_whose_im2col_input_does_not_fit_run_dense():
    """The mode follows the tile: a 4x4 stem tile's im2col input (16 x 147) exceeds a 1000-element input
    buffer where its dense halo (13 x 13 x Tn 4) fits, so it runs dense; a 2x2 tile runs tap-parallel."""
    qm, q = random_case(speed_graph(), seed=5)
    bufs = {"input": 1000, "weight": 49 * 8 * 4, "output": 4096}
    for tile, tap in (((4, 4), False), ((2, 2), True)):
        program = build_program(qm, tm=8, tn=4, buffers=bufs, tile=tile)
        t = program.layers[0]["tile"]
        assert (t["rows"], t["cols"]) == tile
        assert tap_parallel(program.layers[0], program.engine) is tap
        check_csim(qm, q, tm=8, tn=4, buffers=bufs, tile=tile)


@pytest.mark.parametrize("synthesis_form", [False, True], ids=["native", "synthesis-form"])
def test_packed_engine_bit_exact(synthesis_form):
    """PACK = 2: lanes m and m+1 share each multiply; the same integers as the emulator on every small
    graph of 8-bit types and on the speed graph, odd Tm (a lane multiplies alone) included."""
    cases = [(name, GRAPHS[name]) for name in sorted(GRAPHS)] + [("speed", speed_graph())]
    if synthesis_form:  # the slow form: a few of them
        cases = [c for c in cases if c[0] in ("dense_stride_pad_dilation", "grouped", "gemm", "speed")]
    for name, model in cases:
        qm, q = random_case(model, seed=len(name))
        for tm, tn, tile in (TILINGS[1], (4, 8, None)):
            program = build_program(qm, tm=tm, tn=tn, tile=tile)
            sim = csim.TiledCsim(program, pack=2, synthesis_form=synthesis_form)
            got = sim.run(q)
            for out, want in run_layers(qm, q, threads=1).items():
                np.testing.assert_array_equal(got[out], want, err_msg=f"{name} Tm {tm} Tn {tn} packed")


def test_packed_engine_refuses_wider_types():
    qm, q = random_case(GRAPHS["residual"], seed=3, bits=12)
    program = build_program(qm, tm=4, tn=4)
    with pytest.raises(csim.EngineStatusError) as e:
        csim.TiledCsim(program, pack=2).run(q)
    assert e.value.code == 2 and e.value.layer == 0  # S_ENGINE, on the first convolution
    csim.TiledCsim(program, pack=1).run(q)  # the unpacked engine runs it
