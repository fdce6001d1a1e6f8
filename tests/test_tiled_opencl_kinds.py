"""The OpenCL twin on the tiled engine's layer forms for ShuffleNetV2 and squeeze-excitation: views
with a channel stride (slices and shuffles as addressing) and the ``mul`` kind. The twin == the
emulator and the reference executor bit for bit; corrupt ``mul`` records and channel-stride words are
refused with the C simulation's status, code and layer, and never make it write outside the arena."""
import numpy as np
import pytest
from test_tiled_engine import GRAPHS
from test_tiled_kinds import _identity_concat, _slices, se_block, shufflenet  # noqa: F401 (fixtures)
from test_tiled_opencl import Guarded, check_twin, device  # noqa: F401 (a fixture)
from tiled_util import random_case

from fpga_accel.tiled import TiledEngine, build_program, csim, descriptors
from fpga_accel.tiled.program import view_bytes

opencl = pytest.importorskip("fpga_accel.tiled.opencl")
L, V, P = descriptors.LAYER, descriptors.VIEW, descriptors.POST


def _csim_library(program):
    """The C simulation of the program's engine, or None without a C++ compiler."""
    from fpga_accel import toolchain

    try:
        toolchain.compiler()
        return csim.engine_library(csim.EngineConfig.of(program))
    except toolchain.ToolchainError:
        return None


def _corrupt(words, layer, field, value):
    w = words.reshape(-1, descriptors.RECORD_WORDS).copy()
    w[1 + layer, field] = value & 0xFFFFFFFF
    return w.reshape(-1)


def _layer(program, name):
    return next(i for i, d in enumerate(program.layers) if d["name"] == name)


# --- bit for bit ----------------------------------------------------------------------------------
@pytest.mark.parametrize("tiling", [{"tm": 8, "tn": 8}, {"tm": 3, "tn": 5, "tile": (2, 3)}], ids=str)
def test_shufflenet_unit_bit_exact(device, shufflenet, tiling):  # noqa: F811
    qm, q = shufflenet
    twin = check_twin(device, qm, q, **tiling)
    assert sum(t["view"].get("channel_stride", 1) > 1 for t in twin.program.data["tensors"]) >= 13


@pytest.mark.parametrize("tiling", [{}, {"tm": 5, "tn": 3, "tile": (2, 4)}, {"tm": 1, "tn": 2, "tile": (1, 1)}],
                         ids=str)
def test_squeeze_excitation_with_silu_bit_exact(device, se_block, tiling):  # noqa: F811
    qm, q = se_block
    twin = check_twin(device, qm, q, **tiling)
    muls = [d for d in twin.program.layers if d["kind"] == "mul"]
    assert len(muls) == 2 and (muls[1]["inputs"][1]["h"], muls[1]["inputs"][1]["w"]) == (1, 1)  # one gated


@pytest.mark.parametrize("order", ["pqt", "ptq"])
def test_overlapping_slices_bit_exact(device, order):
    qm, q = random_case(_slices(order), seed=4)
    _identity_concat(qm, "cat")  # slices in place where one writer per slot allows, copies elsewhere
    for tiling in ({}, {"tm": 3, "tn": 2, "tile": (2, 3)}):
        check_twin(device, qm, q, **tiling)


# --- refusals -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def se_twin(device, se_block):  # noqa: F811
    qm, q = se_block
    program = build_program(qm)
    return program, q, opencl.TiledOpenCL(program, device=device, timeout=60), _csim_library(program)


@pytest.mark.parametrize("field, value, code", [
    (L["zp"] + 1, 1 << 20, 11),  # a zero point outside the contract
    (L["zp"], -(1 << 16) - 1, 11),
    (L["m"], 1 << 17, 11),  # M wider than one DSP's port
    (L["m"], -1, 11),
    (L["shift"], 0, 11),
    (L["shift"], 63, 11),
    (L["n_inputs"], 3, 3),  # a product of exactly two
    (L["n_inputs"], 1, 3),
    (L["inputs"] + descriptors.VIEW_WORDS + V["h"], 2, 6),  # a 2x1 gate
    (L["inputs"] + descriptors.VIEW_WORDS + V["c"], 11, 6),  # a gate of other channels
    (L["inputs"] + V["w"], 4, 6),  # the map not of the output's shape
    (L["cstride"], 1 << 20, 4),  # an input view's channel stride past the arena
    (L["cstride"] + 1, 1 << 24 | 1, 4),  # past the largest stride
    (L["out_cstride"], 7, 4),  # channels overrunning the pixel stride
    (L["out_cstride"], 1 << 31, 4),  # negative as a signed word
])
def test_corrupt_mul_record_is_refused_as_the_csim_refuses_it(se_twin, field, value, code):
    program, q, twin, lib = se_twin
    k = _layer(program, "excite")
    words = _corrupt(descriptors.encode(program), k, field, value)
    twin.descriptors = words
    twin.acts.buf[:] = 0
    try:
        with pytest.raises(csim.EngineStatusError) as e:
            twin.run({n: v[:1] for n, v in q.items()})
    finally:
        twin.descriptors = descriptors.encode(program)
    assert (e.value.code, e.value.layer) == (code, k), str(e.value)
    inputs = np.zeros_like(twin.acts.buf, bool)  # refused before any layer ran: the inputs and nothing else
    for name in program.data["inputs"]:
        inputs[slice(*view_bytes(program.tensor(name)["view"]))] = True
    assert not twin.acts.buf[~inputs].any()
    if lib is not None:
        assert lib.run(words, program.weights, np.zeros_like(twin.acts.buf)) == code | k << 8


def test_corrupt_residual_channel_stride_is_refused(device):
    """The post stage's residual view has its own channel-stride word (96 + 24k + 21)."""
    qm, q = random_case(GRAPHS["residual"], seed=len("residual"))
    program = build_program(qm, tm=3, tn=5, tile=(2, 3))
    k, j = next((i, j) for i, d in enumerate(program.layers) for j, p in enumerate(d["post"]) if p["op"] == "add")
    twin = opencl.TiledOpenCL(program, device=device, timeout=60)
    lib = _csim_library(program)
    g = Guarded(twin)
    n = program.data["activations_bytes"]
    for value, code in ((1 << 20, 4), (1 << 24 | 1, 4), (0, 0), (1, 0)):
        words = _corrupt(descriptors.encode(program), k, L["post"] + j * descriptors.POST_WORDS + P["cstride"], value)
        status, _ = g.run(words, program.weights, n)
        assert status == (code | k << 8 if code else 0), (value, status)
        if lib is not None:
            assert lib.run(words, program.weights, np.zeros(n, np.uint8)) == status


def test_a_view_ends_at_its_last_pixels_last_channel(se_twin):
    """A one-pixel output view whose channels, cs apart, would end past the arena is refused (4), though
    its first c bytes fit; moved back by the difference it passes the view checks (then 6: one pixel
    is not the output's shape), as in the C simulation."""
    program, _, twin, lib = se_twin
    k, n = _layer(program, "excite"), program.data["activations_bytes"]
    c, cs = program.layers[k]["output"]["c"], 3
    end = (c - 1) * cs + 1  # elements from the view's offset to the end of its last channel
    g = Guarded(twin)
    for offset, code in ((n - c, 4), (n - end, 6)):
        w = descriptors.encode(program)
        for field, value in ((V["h"], 1), (V["w"], 1), (V["pixel_stride"], end), (V["offset"], offset)):
            w = _corrupt(w, k, L["output"] + field, value)
        w = _corrupt(w, k, L["out_cstride"], cs)
        status, whole = g.run(w, program.weights, n)
        assert status == code | k << 8, (offset, status)
        assert (whole[:g.guard] == 0xA5).all() and (whole[g.guard + n:] == 0xA5).all()
        if lib is not None:
            assert lib.run(w, program.weights, np.zeros(n, np.uint8)) == status


# --- fuzzed against the C simulation --------------------------------------------------------------
def _fields(program):
    """(layer, word) of every mul record's scalars, and every word of the views the records use:
    their channel strides and, for a view with a channel stride > 1 or of a mul, its own words."""
    vw, out = descriptors.VIEW_WORDS, []
    for i, d in enumerate(program.layers):
        views = [(L["cstride"] + j, L["inputs"] + j * vw, v) for j, v in enumerate(d["inputs"])]
        views.append((L["out_cstride"], L["output"], d["output"]))
        for j, p in enumerate(d["post"]):
            if p["op"] == "add":
                at = L["post"] + j * descriptors.POST_WORDS
                views.append((at + P["cstride"], at + P["residual"], p["residual"]))
        for cstride, at, v in views:
            out.append((i, cstride))
            if v.get("channel_stride", 1) > 1 or d["kind"] == "mul":
                out += [(i, at + f) for f in range(vw)]
        if d["kind"] == "mul":
            out += [(i, L[f]) for f in ("kind", "n_inputs", "m", "shift", "zp_out", "lo", "hi", "n_post")]
            out += [(i, L["zp"] + j) for j in range(2)]
    return out


@pytest.mark.parametrize("case, tiling", [("se_block", {"tm": 5, "tn": 3, "tile": (2, 4)}),
                                          ("shufflenet", {"tm": 3, "tn": 5, "tile": (2, 3)})])
def test_fuzzed_mul_and_stride_words_match_the_csim(device, request, case, tiling):
    """Random values in mul records and channel-stride words: the twin never writes outside the
    activation arena (guard bytes around it stay intact) and gives the C simulation's status (and,
    when both ran, its arena)."""
    qm, q = request.getfixturevalue(case)
    program = build_program(qm, **tiling)
    lib = _csim_library(program)
    if lib is None:
        pytest.skip("no C++ compiler for the C simulation")
    g = Guarded(opencl.TiledOpenCL(program, device=device, timeout=60))
    good, n = descriptors.encode(program), program.data["activations_bytes"]
    start = TiledEngine(program)
    start.run({k: v[:1] for k, v in q.items()})
    fields = _fields(program)
    r = np.random.default_rng(11)
    codes = []
    for _ in range(60):
        w = good.reshape(-1, descriptors.RECORD_WORDS).copy()
        for _ in range(int(r.integers(1, 3))):
            layer, field = fields[int(r.integers(len(fields)))]
            w[1 + layer, field] = int(r.choice([r.integers(0, 1 << 32), r.integers(0, 8), r.integers(0, 1 << 17),
                                                r.integers(n - 64, n + 64)])) & 0xFFFFFFFF
        w = w.reshape(-1)
        status, whole = g.run(w, program.weights, n, start.acts.buf)
        assert (whole[:g.guard] == 0xA5).all() and (whole[g.guard + n:] == 0xA5).all()
        codes.append(status & 0xFF)
        acts = start.acts.buf.copy()
        want = lib.run(w, program.weights, acts)
        if want & 0xFF in (8, 9, 10, 11) and status & 0xFF in (8, 9, 10, 11) and want >> 8 == status >> 8:
            continue  # failed while running: which value fails first depends on the order
        assert status == want, (status, want)
        if not want:
            np.testing.assert_array_equal(whole[g.guard:g.guard + n], acts)
    assert len(set(codes)) >= 3, codes  # refusals of several kinds
