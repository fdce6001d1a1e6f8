"""The split tiled engine (tiled/top.h FA_TILED_SPLIT: a second weights and a second activations master)
in C simulation: the same integers as the unsplit engine and the emulator on every dense mode, the
same compute cycles, and its trace's second masters carrying exactly the input rows and weight halves
the rule gives (computed here from the rule, not from the engine)."""
import numpy as np
import pytest
from onnx import helper
from test_tiled_engine import W, conv
from test_tiled_hls import wide_case
from test_tiled_hls_speed import modes, speed_graph
from tiled_util import make_model, needs_toolchain, quantised, random_case, raw_inputs  # noqa: F401 (an autouse fixture)

from fpga_accel.bundle_check import BundleError
from fpga_accel.emulator import run_layers
from fpga_accel.tiled import build_program, csim
from fpga_accel.tiled.cost import _conv_geometry
from fpga_accel.tiled.ddr import ACTS, ACTS_B, WEIGHTS, WEIGHTS_B
from fpga_accel.tiled.interface import split_of
from fpga_accel.tiled.program import ProgramError, itemsize
from fpga_accel.tiled.tiles import tap_parallel, tiles_per_step, whole_pixels
from models import data


def check_split(qm, q, synthesis_form=False, **build):
    """Split C simulation == unsplit C simulation == emulator on the outputs and on every DDR tensor of
    the last image, bit for bit, with the same compute cycles per layer. Returns the program."""
    program = build_program(qm, **build)
    one = csim.TiledCsim(program, synthesis_form=synthesis_form)
    two = csim.TiledCsim(program, synthesis_form=synthesis_form, split=1)
    assert two.library.config.split == 1 and two.library.path != one.library.path
    got, base = two.run(q), one.run(q)
    want = run_layers(qm, q, threads=1)
    for name, w in want.items():
        np.testing.assert_array_equal(got[name], w, err_msg=f"output '{name}' with {build}")
        np.testing.assert_array_equal(base[name], w)
    last = {k: v[-1:] for k, v in q.items()}
    two.run(last)
    one.run(last)
    for t in program.data["tensors"]:
        np.testing.assert_array_equal(two.tensor(t["name"]), one.tensor(t["name"]), err_msg=t["name"])
    assert two.layer_cycles() == one.layer_cycles()
    return program


@pytest.mark.parametrize("name", ["resnet_ds", "mnist_cnn"])
def test_split_engine_bit_exact_on_example_models(name):
    _, qm = quantised(data.model_path(name), data.load_calib(name))
    x, _ = data.load_test(name)
    q = raw_inputs(qm, {qm.model_inputs[0].name: x[:2]})
    check_split(qm, q, tm=8, tn=8)
    check_split(qm, q, tm=3, tn=5, tile=(2, 3))
    if name == "resnet_ds":  # whole pixels: a spatial tile's channels all on chip
        program = check_split(qm, q, tm=8, tn=8, tile=(4, 7))
        assert sum(whole_pixels(d, program.engine) for d in program.layers if d["kind"] in ("conv", "gemm")) >= 3


@pytest.mark.parametrize("tm, tn, tile", [(4, 8, None), (5, 4, (3, 4))], ids=str)
def test_split_engine_bit_exact_on_every_dense_mode(tm, tn, tile):
    """A tap-parallel stem, a strided 1x1 convolution (sampled pixels), a resident input, a padded 1x1."""
    qm, q = random_case(speed_graph(), seed=5)
    program = check_split(qm, q, tm=tm, tn=tn, tile=tile)
    assert {"tap", "sampled/strided", "resident"} <= modes(program)


def test_split_engine_bit_exact_on_steps_and_a_gemm():
    """Steps of several Tn tiles (weight runs of many sizes, halves rounded to 64 bytes) and a gemm."""
    qm, q, build = wide_case()
    program = check_split(qm, q, **build)
    assert "gemm" in {d["kind"] for d in program.layers}


def test_split_engine_synthesis_form_and_sixteen_bit_weights():
    """The form synthesis sees, and 2-byte elements (a half's element count is its bytes / 2)."""
    qm, q = random_case(speed_graph(), seed=5)
    check_split(qm, q, synthesis_form=True, tm=3, tn=5, tile=(2, 3))
    qm, q = random_case(speed_graph(), seed=6, bits=12)
    check_split(qm, q, tm=4, tn=8)


def test_split_field_is_checked():
    with pytest.raises(ProgramError, match="'split' = 2 must be 0 or 1"):
        csim.EngineConfig(4, 4, 64, 64, 64, split=2).defines()
    assert "FA_TILED_SPLIT=1" in csim.EngineConfig(4, 4, 64, 64, 64, split=1).defines()
    assert not any("SPLIT" in d for d in csim.EngineConfig(4, 4, 64, 64, 64).defines())  # as before
    assert split_of({"tiled": {"array": {}}}) is False  # older bundles: not split
    assert split_of({"tiled": {"array": {"split": True}}}) is True
    with pytest.raises(BundleError, match=r"'tiled.array.split' is 1, not true or false"):
        split_of({"tiled": {"array": {"split": 1}}})


# --- the rule, on the trace ----------------------------------------------------------------------------
def first_half_bytes(nb: int) -> int:
    """The rule: the first half of a weight run of nb bytes, rounded up to 64 bytes."""
    return min(nb, -(-nb // 128) * 64)


def two_layers():
    """A padded 3x3 convolution (halo rows, padding rows among them) and a strided 1x1 one (sampled
    rows), each one spatial tile and one Tm tile on a 16 x 4 engine, int8 throughout."""
    r = np.random.default_rng(3)
    return make_model([conv("c3", "x", "w1", "a", pads=[1, 1, 1, 1]), helper.make_node("Relu", ["a"], ["b"]),
                       conv("down", "b", "w2", "c", strides=[2, 2])],
                      {"x": [12, 7, 5]}, {"w1": W(r, 10, 12, 3, 3), "w1_b": W(r, 10), "w2": W(r, 6, 10, 1, 1),
                                          "w2_b": W(r, 6)})


def traced_bytes(program, q, split):
    from fpga_accel.sim.tiled_build import TracedCsim

    outs, tr = TracedCsim(program, split=split).trace(q)
    layer_of = np.repeat(tr.events["layer"], tr.events["runs"].astype(np.int64))
    per: dict = {}
    for lay, port, write, nb in zip(layer_of.tolist(), tr.runs["port"].tolist(), tr.runs["write"].tolist(),
                                    tr.runs["bytes"].tolist()):
        per[(lay, port, write)] = per.get((lay, port, write), 0) + nb
    return outs, per, tr


def test_second_masters_carry_the_odd_rows_and_the_second_weight_halves():
    qm, q = random_case(two_layers(), seed=2)
    q = {k: v[:1] for k, v in q.items()}
    program = build_program(qm, tm=16, tn=4)
    c3, down = program.layers[0], program.layers[1]
    for d in (c3, down):  # one spatial tile, one Tm tile, not tap-parallel
        assert (d["tile"]["rows"], d["tile"]["cols"]) == (d["output"]["h"], d["output"]["w"]), d["name"]
        assert not tap_parallel(d, program.engine) and d["kind"] == "conv"
    outs, split, tr = traced_bytes(program, q, 1)
    base_outs, unsplit, _ = traced_bytes(program, q, 0)
    for k in outs:
        np.testing.assert_array_equal(outs[k], base_outs[k])
    # c3: input 7 x 5 x 12 (int8), halo rows yy = 0..8 for iy = yy - 1; odd yy through acts_b
    h, w, c = 7, 5, 12
    odd_rows = [yy for yy in range(h + 2) if yy % 2 and 0 <= yy - 1 < h]
    assert split[(0, ACTS_B, 0)] == len(odd_rows) * w * c
    assert split[(0, ACTS, 0)] == (h - len(odd_rows)) * w * c
    # its weights, 3*3*10*12 int8 elements: a run of k*tmo*cw a step (G Tn tiles of channels), the second
    # half of each through weights_b
    g = tiles_per_step(c3, _conv_geometry(c3), program.engine)
    steps = [(c0, min(g * 4, c - c0)) for c0 in range(0, c, g * 4)]
    assert len(steps) == 2  # 8 channels, then 4: two runs of different halves
    want = [(9 * 10 * c0 + first_half_bytes(9 * 10 * cw), 9 * 10 * cw - first_half_bytes(9 * 10 * cw))
            for c0, cw in steps]
    assert split[(0, WEIGHTS_B, 0)] == sum(n for _, n in want)
    # down: 7 x 5 x 10 in, stride 2: sampled rows iy = 0, 2, 4, 6 (yy = 0..3), odd yy through acts_b
    assert split[(1, ACTS_B, 0)] == 2 * 3 * 10 and split[(1, ACTS, 0)] == 2 * 3 * 10
    nb = 6 * 10
    assert split.get((1, WEIGHTS_B, 0), 0) == nb - first_half_bytes(nb) == 0  # a short run: all on the first
    # bytes per layer do not change: the two masters of an arena together move what the one did
    for lay in (0, 1):
        assert split[(lay, WEIGHTS, 0)] + split.get((lay, WEIGHTS_B, 0), 0) == unsplit[(lay, WEIGHTS, 0)]
        assert split[(lay, ACTS, 0)] + split[(lay, ACTS_B, 0)] == unsplit[(lay, ACTS, 0)]
        assert split[(lay, ACTS, 1)] == unsplit[(lay, ACTS, 1)]
        assert not any(k[1] in (WEIGHTS_B, ACTS_B) for k in unsplit)
    # each step's second half is one run from its element h on
    b_runs = tr.runs[tr.runs["port"] == WEIGHTS_B]
    assert [(int(o), int(n)) for o, n in zip(b_runs["offset"], b_runs["bytes"])] == [
        (c3["weights"]["offset"] + o, n) for o, n in want]


def test_second_activations_master_carries_a_window_pools_odd_halo_rows():
    """A max and an average pool of one spatial tile: halo row yy (padding rows among them) through
    acts_b when odd, the rest through acts; the same integers and the same bytes as the unsplit engine."""
    nodes = [helper.make_node("MaxPool", ["x"], ["m"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
             helper.make_node("AveragePool", ["m"], ["y"], kernel_shape=[3, 3], pads=[1, 1, 1, 1])]
    qm, q = random_case(make_model(nodes, {"x": [12, 9, 7]}, {}), seed=4)
    q = {k: v[:1] for k, v in q.items()}
    program = build_program(qm, tm=16, tn=4)
    outs, split, _ = traced_bytes(program, q, 1)
    base_outs, unsplit, _ = traced_bytes(program, q, 0)
    for k in outs:
        np.testing.assert_array_equal(outs[k], base_outs[k])
    checked = []
    for i, d in enumerate(program.layers):
        assert d["kind"] in ("maxpool", "avgpool") and (d["tile"]["rows"], d["tile"]["cols"]) == (
            d["output"]["h"], d["output"]["w"]) and d["tile"]["tm"] >= d["inputs"][0]["c"], d["name"]
        x, (sh, _), (kh, _), pt = d["inputs"][0], d["geometry"]["strides"], d["geometry"]["kernel"], d["geometry"]["pads"][0]
        hy = (d["output"]["h"] - 1) * sh + kh  # halo rows yy for input row yy - pt
        odd = [yy for yy in range(hy) if yy % 2 and 0 <= yy - pt < x["h"]]
        inside = [yy for yy in range(hy) if 0 <= yy - pt < x["h"]]
        row = x["w"] * x["c"]
        assert split[(i, ACTS_B, 0)] == len(odd) * row > 0, d["name"]
        assert unsplit[(i, ACTS, 0)] == len(inside) * row  # a pool reads its halo and nothing else
        assert split[(i, ACTS, 0)] == (len(inside) - len(odd)) * row, d["name"]
        assert split[(i, ACTS, 1)] == unsplit[(i, ACTS, 1)] and (i, ACTS_B, 0) not in unsplit
        checked.append(d["kind"])
    assert checked == ["maxpool", "avgpool"]


def test_second_activations_master_carries_the_odd_output_rows_residuals():
    """A 1x1 convolution with a residual add in its output path, one spatial tile: the residual elements
    of odd output rows through acts_b, the even ones' through acts (drain.h), beside its odd sampled
    input rows; the same integers and bytes as the unsplit engine."""
    r = np.random.default_rng(5)
    nodes = [conv("c1", "x", "w1", "a"), helper.make_node("Relu", ["a"], ["b"]), conv("c2", "b", "w2", "c"),
             helper.make_node("Add", ["c", "b"], ["y"])]
    qm, q = random_case(make_model(nodes, {"x": [6, 7, 5]}, {"w1": W(r, 8, 6, 1, 1), "w1_b": W(r, 8),
                                                             "w2": W(r, 8, 8, 1, 1), "w2_b": W(r, 8)}), seed=6)
    q = {k: v[:1] for k, v in q.items()}
    program = build_program(qm, tm=16, tn=4)
    i, d = next((i, d) for i, d in enumerate(program.layers) if any(p["op"] == "add" for p in d["post"]))
    assert (d["tile"]["rows"], d["tile"]["cols"]) == (d["output"]["h"], d["output"]["w"]) and d["output"]["h"] == 7
    outs, split, _ = traced_bytes(program, q, 1)
    base_outs, unsplit, _ = traced_bytes(program, q, 0)
    for k in outs:
        np.testing.assert_array_equal(outs[k], base_outs[k])
    x, res = d["inputs"][0], next(p["residual"] for p in d["post"] if p["op"] == "add")
    odd_rows = len(range(1, 7, 2))  # output rows 1, 3, 5; the sampled input rows alike (stride 1)
    row_in, row_res = x["w"] * x["c"] * itemsize(x["dtype"]), res["w"] * res["c"] * itemsize(res["dtype"])
    assert split[(i, ACTS_B, 0)] == odd_rows * (row_in + row_res)
    assert split[(i, ACTS, 0)] == (7 - odd_rows) * (row_in + row_res) == unsplit[(i, ACTS, 0)] - split[(i, ACTS_B, 0)]
    assert split[(i, ACTS, 1)] == unsplit[(i, ACTS, 1)]  # the writes stay on acts
