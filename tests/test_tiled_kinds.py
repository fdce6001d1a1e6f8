"""The tiled engine's layer forms for ShuffleNetV2 and squeeze-excitation: channel slices and shuffles
as addressing (views with a channel offset and stride, no descriptor, no copy), and the ``mul`` kind
(a product with a 1x1xC channel gate or of two tensors of one shape). Executor and C simulation ==
the emulator bit for bit; corrupt ``mul`` records and channel strides are refused by the engine."""
import numpy as np
import pytest
from onnx import helper
from shufflenet_util import shufflenet_v2
from test_tiled_hls import _corrupt, check_csim
from tiled_util import check_exact, make_model, random_case

from fpga_accel.tiled import build_program, csim, descriptors


@pytest.fixture(scope="module")
def shufflenet():
    return random_case(shufflenet_v2(0.5, 32, classes=10), seed=3)


def _se_block():
    r = np.random.default_rng(5)
    w = lambda *s: (r.standard_normal(s) * 0.4).astype(np.float32)  # noqa: E731
    nodes = [helper.make_node("Conv", ["x", "w0"], ["c"], pads=[1, 1, 1, 1], name="conv"),
             helper.make_node("Sigmoid", ["c"], ["sc"], name="sig"),
             helper.make_node("Mul", ["c", "sc"], ["silu"], name="silu"),  # x * sigmoid(x): one shape
             helper.make_node("GlobalAveragePool", ["silu"], ["p"], name="squeeze"),
             helper.make_node("Conv", ["p", "w1"], ["e1"], name="fc1"), helper.make_node("Relu", ["e1"], ["e2"]),
             helper.make_node("Conv", ["e2", "w2"], ["e3"], name="fc2"), helper.make_node("Sigmoid", ["e3"], ["g"]),
             helper.make_node("Mul", ["g", "silu"], ["se"], name="excite"),  # gate first: the order is free
             helper.make_node("Conv", ["se", "w3"], ["y"], name="project")]  # keeps the block channels-last
    return make_model(nodes, {"x": [3, 6, 5]}, {"w0": w(12, 3, 3, 3), "w1": w(4, 12, 1, 1), "w2": w(12, 4, 1, 1),
                                                "w3": w(5, 12, 1, 1)})


@pytest.fixture(scope="module")
def se_block():
    return random_case(_se_block(), seed=2)


def test_shufflenet_slices_and_shuffles_are_views_without_copies(shufflenet):
    qm, q = shufflenet
    program = build_program(qm, tm=8, tn=8)
    ops = {lay.name: lay.op_type for lay in qm.layers}
    assert "steps" not in program.data  # no host step
    copies = [d for d in program.layers if d["name"].endswith("#copy")]
    assert {ops[d["name"]] for d in program.layers if d not in copies} <= {"Conv", "MaxPool", "GlobalAveragePool", "Gemm"}
    # a copy only where the quantiser gave a concatenation input other parameters than its output
    # (a requantisation the emulator does too); never one for the addressing
    regions = program.data["regions"]
    for d in copies:
        src, dst = qm.tensors[d["sources"][0]].qparams, qm.tensors[regions[d["output"]["region"]]["name"]].qparams
        assert (src.scale, src.zero_point) != (dst.scale, dst.zero_point), d["name"]
    strided = [t for t in program.data["tensors"] if t["view"].get("channel_stride", 1) > 1]
    assert len(strided) >= 13  # the kept halves and the branch outputs at interleaved channels
    check_exact(qm, q, tm=8, tn=8)
    check_exact(qm, q, tm=3, tn=5, tile=(2, 3))


def test_shufflenet_csim_bit_exact(shufflenet):
    qm, q = shufflenet
    check_csim(qm, q, tm=4, tn=8)


def test_squeeze_excitation_and_silu_are_mul_layers(se_block):
    qm, q = se_block
    program = build_program(qm)
    muls = [d for d in program.layers if d["kind"] == "mul"]
    assert [d["name"] for d in muls] == ["silu", "excite"] and "steps" not in program.data
    gate = muls[1]["inputs"][1]
    assert (gate["h"], gate["w"]) == (1, 1) and muls[1]["inputs"][0]["h"] == 6  # the map first, the gate second
    for tiling in ({}, {"tm": 5, "tn": 3, "tile": (2, 4)}, {"tm": 1, "tn": 2, "tile": (1, 1)}):
        check_exact(qm, q, **tiling)


def test_squeeze_excitation_csim_bit_exact(se_block):
    qm, q = se_block
    check_csim(qm, q, tm=5, tn=3, tile=(2, 4))


L, V = descriptors.LAYER, descriptors.VIEW


@pytest.mark.parametrize("field, value, code", [
    (L["zp"] + 1, 1 << 20, 11),  # a zero point outside the contract
    (L["m"], 1 << 17, 11),  # M wider than one DSP's port
    (L["shift"], 0, 11),
    (L["n_inputs"], 3, 3),
    (L["inputs"] + descriptors.VIEW_WORDS + V["h"], 2, 6),  # a 2x1 gate
    (L["inputs"] + descriptors.VIEW_WORDS + V["c"], 11, 6),  # a gate of other channels
    (L["cstride"], 1 << 20, 4),  # an input view's channel stride past the arena
    (L["out_cstride"], 7, 4),  # channels overrunning the pixel stride
])
def test_corrupt_mul_record_is_refused(se_block, field, value, code):
    qm, q = se_block
    program = build_program(qm)
    k = next(i for i, d in enumerate(program.layers) if d["name"] == "excite")
    sim = csim.TiledCsim(program)
    sim.descriptors = _corrupt(program, k, field, value)
    with pytest.raises(csim.EngineStatusError) as e:
        sim.run({n: v[:1] for n, v in q.items()})
    assert (e.value.code, e.value.layer) == (code, k), str(e.value)
