"""The tiled engine's output path moves up to a bus word an iteration (docs/tiled.md §5): P =
min(out_lanes, W / itemsize(out)) lanes, W the arena ports' bytes (FA_TILED_AXI_BITS / 8), out_lanes the
engine's output-path lanes (FA_TILED_OUT_LANES, W unless the program names fewer), one element an iteration through an output or
residual view of channel stride > 1. Each STORE event of the traced C simulation runs exactly the
iterations this rule gives, computed here from the program alone: a Tm tile's drain ⌈tmo / P⌉ a pixel,
a whole-pixel drain ⌈c / P⌉ a pixel; at W = 16 (a 128-bit HP port) and W = 64, with the outputs equal
to the emulator's bit for bit."""
import math

import numpy as np
import pytest
from onnx import helper
from test_tiled_engine import W as weights
from test_tiled_engine import conv
from tiled_util import make_model, needs_toolchain, random_case  # noqa: F401 (an autouse fixture)

from fpga_accel.emulator import run_layers
from fpga_accel.tiled import build_program
from fpga_accel.tiled.tiles import whole_pixels

STORE = 4  # tiled/trace.h Unit




def _wide_residual():
    """40 channels, so a Tm tile of 32 and a whole pixel take several bus words; a residual add."""
    r = np.random.default_rng(11)
    return make_model(
        [conv("c1", "x", "w1", "a", pads=[1, 1, 1, 1]), helper.make_node("Relu", ["a"], ["b"]),
         conv("c2", "b", "w2", "c"), helper.make_node("Add", ["c", "b"], ["d"]), helper.make_node("Relu", ["d"], ["e"])],
        {"x": [3, 5, 6]}, {"w1": weights(r, 40, 3, 3, 3), "w1_b": weights(r, 40), "w2": weights(r, 40, 40, 1, 1),
                           "w2_b": weights(r, 40)})


def _shuffled():
    """Two convolutions written into interleaved channels of a shuffle (output views of channel stride 2),
    a third adding one of them as its residual (a residual view of channel stride 2)."""
    r = np.random.default_rng(12)
    i64 = lambda n, v: helper.make_node("Constant", [], [n], value=helper.make_tensor(n, 7, [len(v)], v))
    return make_model(
        [conv("c1", "x", "w1", "a", pads=[1, 1, 1, 1]), conv("c2", "x", "w2", "b"),
         helper.make_node("Concat", ["a", "b"], ["cat"], axis=1),
         i64("s5", [0, 2, 8, 4, 5]), i64("s4", [0, 16, 4, 5]),
         helper.make_node("Reshape", ["cat", "s5"], ["r5"]),
         helper.make_node("Transpose", ["r5"], ["t5"], perm=[0, 2, 1, 3, 4]),
         helper.make_node("Reshape", ["t5", "s4"], ["sh"]),
         conv("c3", "sh", "w3", "d", pads=[1, 1, 1, 1]), conv("c4", "x", "w4", "e"),
         helper.make_node("Add", ["e", "a"], ["f"]), helper.make_node("Concat", ["d", "f"], ["y"], axis=1)],
        {"x": [3, 4, 5]}, {"w1": weights(r, 8, 3, 3, 3), "w1_b": weights(r, 8), "w2": weights(r, 8, 3, 1, 1),
                           "w2_b": weights(r, 8), "w3": weights(r, 6, 16, 3, 3), "w3_b": weights(r, 6),
                           "w4": weights(r, 8, 3, 1, 1), "w4_b": weights(r, 8)})


def lanes(d, bus_bytes, cap=0):
    """Rule C's P for layer d: the bus word's elements of the output type, at most the engine's out_lanes
    (``cap``, 0: none), one through a strided view."""
    views = [d["output"]] + [p["residual"] for p in d.get("post", []) if p["op"] == "add"]
    if any(v.get("channel_stride", 1) > 1 for v in views):
        return 1
    p = bus_bytes // np.dtype(d["output"]["dtype"]).itemsize
    return max(1, min(p, cap) if cap else p)


def expected_stores(d, engine, bus_bytes):
    """(r0, q0, iterations) of each output path of conv/gemm layer d, in the order the engine runs them."""
    out, t, geo = d["output"], d["tile"], d.get("geometry", {})
    groups, mg = geo.get("groups", 1), geo.get("cout_per_group", out["c"])
    depthwise = groups > 1 and geo.get("cin_per_group") == 1
    p = lanes(d, bus_bytes, engine.get("out_lanes", 0))
    want = []
    for r0 in range(0, out["h"], t["rows"]):
        for q0 in range(0, out["w"], t["cols"]):
            npx = min(t["rows"], out["h"] - r0) * min(t["cols"], out["w"] - q0)
            if not depthwise and whole_pixels(d, engine):
                want.append((r0, q0, npx * math.ceil(out["c"] / p)))
                continue
            tiles = [(0, groups * mg)] if depthwise else [(g, mg) for g in range(groups)]
            for _, n in tiles:
                for o0 in range(0, n, t["tm"]):
                    want.append((r0, q0, npx * math.ceil(min(t["tm"], n - o0) / p)))
    return want


def check_stores(qm, q, axi_bits, **build):
    """The traced C simulation (arena ports ``axi_bits`` wide) == the emulator, and each conv/gemm layer's
    STORE events run rule C's iterations. Returns the program."""
    from fpga_accel.sim.tiled_build import TracedCsim

    program = build_program(qm, **build)
    first = {k: v[:1] for k, v in q.items()}
    got, trace = TracedCsim(program, axi_bits=axi_bits).trace(first)
    for name, w in run_layers(qm, first, threads=1).items():
        np.testing.assert_array_equal(got[name], w, err_msg=f"output '{name}' at {axi_bits} bits, {build}")
    ev = trace.events[trace.events["unit"] == STORE]
    for i, d in enumerate(program.layers):
        if d["kind"] not in ("conv", "gemm"):
            continue
        mine = ev[ev["layer"] == i]
        seen = [(int(e["r0"]), int(e["q0"]), int(e["iterations"])) for e in mine]
        assert seen == expected_stores(d, program.engine, axi_bits // 8), (d["name"], axi_bits, build)
    return program


@pytest.mark.parametrize("axi_bits", [128, 512])
@pytest.mark.parametrize("bits", [8, 16])
def test_tm_tile_and_whole_pixel_drains_move_a_bus_word_an_iteration(axi_bits, bits):
    qm, q = random_case(_wide_residual(), seed=1, bits=bits)
    words = 0  # most bus words a pixel: more than one somewhere, so a word a pixel would fail
    for tile in (None, (2, 3)):  # one spatial tile: Tm-tile drains; several: whole pixels
        program = check_stores(qm, q, axi_bits, tm=32, tn=8, tile=tile)
        convs = [d for d in program.layers if d["kind"] == "conv"]
        assert all(np.dtype(d["output"]["dtype"]).itemsize == bits // 8 for d in convs)
        assert any(p["op"] == "add" for d in convs for p in d.get("post", []))
        assert any(whole_pixels(d, program.engine) for d in convs) == (tile is not None)
        words = max(words, *(math.ceil((d["output"]["c"] if whole_pixels(d, program.engine) else
                                        min(d["tile"]["tm"], d["output"]["c"])) / lanes(d, axi_bits // 8)) for d in convs))
    assert words > 1 or axi_bits == 512 and bits == 8


@pytest.mark.parametrize("axi_bits", [128, 512])
def test_channel_strided_views_move_an_element_an_iteration(axi_bits):
    qm, q = random_case(_shuffled(), seed=2)
    program = check_stores(qm, q, axi_bits, tm=8, tn=8)
    convs = [d for d in program.layers if d["kind"] == "conv"]
    assert any(d["output"].get("channel_stride", 1) > 1 for d in convs)
    assert any(p["op"] == "add" and p["residual"].get("channel_stride", 1) > 1 for d in convs for p in d.get("post", []))
    assert any(lanes(d, axi_bits // 8) > 1 for d in convs)  # and others move whole words


@pytest.mark.parametrize("out_lanes", [1, 4])
def test_fewer_output_lanes_take_more_iterations(out_lanes):
    """An engine of fewer output-path lanes than the bus word's bytes (FA_TILED_OUT_LANES): every
    drain takes ⌈n / min(out_lanes, W / itemsize)⌉ iterations a pixel, the outputs unchanged."""
    qm, q = random_case(_wide_residual(), seed=1, bits=16)
    for tile in (None, (2, 3)):
        program = check_stores(qm, q, 128, tm=32, tn=8, tile=tile, out_lanes=out_lanes)
        assert program.engine["out_lanes"] == out_lanes
        assert all(lanes(d, 16, out_lanes) == min(out_lanes, 8) for d in program.layers if d["kind"] == "conv")


def test_out_lanes_beyond_the_bus_word_or_not_a_power_of_two_are_refused():
    from fpga_accel.tiled.csim import EngineConfig
    from fpga_accel.tiled.program import ProgramError

    for bad in (3, 32, -1):
        with pytest.raises(ProgramError, match="out_lanes"):
            EngineConfig(4, 4, 64, 64, 64, axi_bits=128, out_lanes=bad).defines()
    assert "FA_TILED_OUT_LANES=16" in EngineConfig(4, 4, 64, 64, 64, axi_bits=128, out_lanes=16).defines()


def test_axi_bits_outside_the_ports_widths_are_refused():
    from fpga_accel.tiled.csim import EngineConfig
    from fpga_accel.tiled.program import ProgramError

    with pytest.raises(ProgramError, match="axi_bits"):
        EngineConfig(4, 4, 64, 64, 64, axi_bits=96).defines()
