"""The tiled engine's layer forms for ShuffleNetV2 and squeeze-excitation: channel slices and shuffles
as addressing (views with a channel offset and stride, no descriptor, no copy), and the ``mul`` kind
(a product with a 1x1xC channel gate or of two tensors of one shape). Executor and C simulation ==
the emulator bit for bit; corrupt ``mul`` records and channel strides are refused by the engine."""
import re
import subprocess

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from shufflenet_util import shufflenet_v2
from test_tiled_cost import assert_bytes_match, counted
from test_tiled_hls import _corrupt, check_csim, sanitized_fuzzer  # noqa: F401 (a fixture)
from tiled_util import check_exact, make_model, random_case

from fpga_accel.tiled import build_program, csim, descriptors


@pytest.fixture(scope="module")
def shufflenet():
    return random_case(shufflenet_v2(0.5, 32, classes=10), seed=3)


def _se_block():
    r = np.random.default_rng(5)
    w = lambda *s: (r.standard_normal(s) * 0.4).astype(np.float32)
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


def _ints(name, *v):
    return helper.make_node("Constant", [], [name], value=helper.make_tensor(name, TensorProto.INT64, [len(v)], v))


def _slices(order="pqt"):
    """Slices of one tensor concatenated overlapping: placing them all in place would give channel
    slots two writers, so one becomes a copy."""
    r = np.random.default_rng(7)
    w = lambda *s: (r.standard_normal(s) * 0.4).astype(np.float32)
    sl = lambda x, y, a, b, step=1: helper.make_node("Slice", [x, a, b, "ax", step], [y], name=y)
    nodes = [_ints("ax", 1), _ints("one", 1), _ints("s0", 0), _ints("s1", 1), _ints("s3", 3),
             _ints("s4", 4), _ints("s5", 5), _ints("s8", 8),
             helper.make_node("Conv", ["x", "w0"], ["a"], pads=[1, 1, 1, 1], name="c1"),
             sl("a", "p", "s0", "s4", "one"), sl("a", "q", "s0", "s3", "one"), sl("a", "t", "s4", "s8", "one"),
             helper.make_node("Concat", list(order), ["cat"], axis=1, name="cat"),
             helper.make_node("Conv", ["cat", "w1"], ["d"], pads=[1, 1, 1, 1], name="c2"),
             sl("a", "odd", "s1", "s5", "one"),  # channels 1..4, read by a convolution in place
             helper.make_node("Conv", ["odd", "w2"], ["e"], name="c3"),
             helper.make_node("Concat", ["d", "e"], ["f"], axis=1, name="f"),
             helper.make_node("Conv", ["f", "w3"], ["y"], name="c4")]
    inits = [numpy_helper.from_array(v, k) for k, v in
             {"w0": w(8, 3, 3, 3), "w1": w(5, 11, 3, 3), "w2": w(5, 4, 1, 1), "w3": w(4, 10, 1, 1)}.items()]
    m = helper.make_model(helper.make_graph(nodes, "slices", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                                            ["N", 3, 5, 4])],
                                            [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits),
                          opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    return onnx.shape_inference.infer_shapes(m)


def assert_one_writer_per_byte(program):
    """No two descriptors (and no descriptor and a program input) write one byte of the arena."""
    owner = np.full(program.data["activations_bytes"], -1)
    views = [program.tensor(n)["view"] for n in program.data["inputs"]] + [d["output"] for d in program.layers]
    for k, v in enumerate(views):
        isz = np.dtype(v["dtype"]).itemsize
        px = np.arange(v["h"] * v["w"])[:, None] * v["pixel_stride"]
        ch = np.arange(v["c"])[None, :] * v.get("channel_stride", 1)
        at = (v["offset"] + (px + ch).reshape(-1)[:, None] * isz + np.arange(isz)).reshape(-1)
        assert (owner[at] == -1).all(), f"view {k} writes bytes another one writes"
        owner[at] = k


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
    assert_one_writer_per_byte(program)
    check_exact(qm, q, tm=8, tn=8)
    check_exact(qm, q, tm=3, tn=5, tile=(2, 3))
    assert_bytes_match(*counted(qm, q, tm=8, tn=8))  # the cost model's DDR bytes, strided views included


@pytest.mark.parametrize("form", [False, True], ids=["csim", "synthesis_form"])
def test_shufflenet_csim_bit_exact(shufflenet, form):
    qm, q = shufflenet
    check_csim(qm, q, synthesis_form=form, tm=4, tn=8)


def test_squeeze_excitation_and_silu_are_mul_layers(se_block):
    qm, q = se_block
    program = build_program(qm)
    muls = [d for d in program.layers if d["kind"] == "mul"]
    assert [d["name"] for d in muls] == ["silu", "excite"] and "steps" not in program.data
    gate = muls[1]["inputs"][1]
    assert (gate["h"], gate["w"]) == (1, 1) and muls[1]["inputs"][0]["h"] == 6  # the map first, the gate second
    for tiling in ({}, {"tm": 5, "tn": 3, "tile": (2, 4)}, {"tm": 1, "tn": 2, "tile": (1, 1)}):
        check_exact(qm, q, **tiling)
        assert_bytes_match(*counted(qm, q, **tiling))


def _identity_concat(qm, name):
    """Give concatenation ``name`` its first input's parameters, so that it is one in-place candidate
    (the emulator then computes the identity rescale too)."""
    lay = next(lay for lay in qm.layers if lay.name == name)
    p = qm.tensors[lay.inputs[0]].qparams
    qm.tensors[lay.outputs[0]].qparams = p
    for r in lay.config["rescales"]:
        r.update(multipliers=[1 << r["shift"]], zero_points=[p.zero_point], zp_out=p.zero_point, lo=p.qtype.min,
                 hi=p.qtype.max)
    consumer = next(c for c in qm.layers if lay.outputs[0] in c.inputs)
    consumer.config["zp_in"] = p.zero_point


@pytest.mark.parametrize("order, copies", [("pqt", 3), ("ptq", 1), (None, 3)])
def test_slices_placed_in_place_where_one_writer_per_slot_allows(order, copies):
    qm, q = random_case(_slices(order or "pqt"), seed=4)
    if order:  # a[0:4], a[0:3], a[4:8]: any in-place placement gives a slot two writers, so all are copied;
        _identity_concat(qm, "cat")  # a[0:4], a[4:8], a[0:3]: a sits in place under the first two
    program = build_program(qm)
    assert len([d for d in program.layers if d["name"] in ("p#copy", "q#copy", "t#copy")]) == copies
    assert "steps" not in program.data and all(d["kind"] in ("conv", "requant") for d in program.layers)
    assert_one_writer_per_byte(program)
    odd = program.tensor(next(lay.outputs[0] for lay in qm.layers if lay.name == "odd"))["view"]
    a = program.tensor(next(lay.outputs[0] for lay in qm.layers if lay.name == "c1"))["view"]
    cs = a.get("channel_stride", 1)
    assert (odd["region"], odd["offset"], odd.get("channel_stride", 1)) == (a["region"], a["offset"] + cs, cs)
    for tiling in ({}, {"tm": 3, "tn": 2, "tile": (2, 3)}):
        check_exact(qm, q, **tiling)
        assert_bytes_match(*counted(qm, q, **tiling))
    check_csim(qm, q, tm=3, tn=2, tile=(2, 3))


@pytest.mark.parametrize("form", [False, True], ids=["csim", "synthesis_form"])
def test_squeeze_excitation_csim_bit_exact(se_block, form):
    qm, q = se_block
    check_csim(qm, q, synthesis_form=form, tm=5, tn=3, tile=(2, 4))


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


@pytest.mark.parametrize("case", ["se_block", "shufflenet"])
def test_corrupt_records_never_leave_the_arenas_under_sanitizers(sanitized_fuzzer, tmp_path, case, request):  # noqa: F811
    """Random corruptions of mul records and of views with channel strides (hls/tests/fuzz_tiled_engine.cpp
    under AddressSanitizer and UBSan, Tm × Tn = 3 × 5): no access outside the descriptors or either arena."""
    qm, _ = request.getfixturevalue(case)
    p = build_program(qm, tm=3, tn=5, tile=(2, 3))
    descriptors.encode(p).tofile(tmp_path / "desc.bin")
    p.weights.tofile(tmp_path / "weights.bin")
    runs = "200" if case == "shufflenet" else "400"
    res = subprocess.run([str(sanitized_fuzzer), str(tmp_path / "desc.bin"), str(tmp_path / "weights.bin"),
                          str(p.data["activations_bytes"]), "11", runs], capture_output=True, text=True, check=False,
                         timeout=900)
    out = res.stdout + res.stderr
    assert res.returncode == 0 and "runtime error" not in out and "Sanitizer" not in out, out[-3000:]
    m = re.search(rf"fuzz_tiled_engine: {runs} runs, (\d+) ran, statuses(( \d+:\d+)+)", res.stdout)
    assert m is not None and int(m.group(1)) > 0 and len(m.group(2).split()) > 3, out[-2000:]
