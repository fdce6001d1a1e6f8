"""Host steps between tiled-engine segments: an AlexNet-style network with LRN (no engine form)
compiles --engine tiled for four boards into one bundle whose program runs in segments with the
LRN layers on the host; the reference executor, the C simulation of the HLS engine and the
emulator agree bit for bit, and the outputs stay within cosine 0.99 of onnxruntime's float ones."""
import numpy as np
import onnxruntime as ort
import pytest
from codegen_util import image_model
from onnx import helper

import fpga_accel
from fpga_accel.bundle_model import load_qmodel
from fpga_accel.bundle_tiled import load_program
from fpga_accel.emulator import run_layers
from fpga_accel.runtime.session import Session
from fpga_accel.tiled import TiledEngine
from fpga_accel.tiled.segments import HostStep, Segment, plan_steps, segment_words

HW, CLASSES = 16, 5
BOARDS = ["pynq-z2", "kv260", "zcu104", "alveo-u250"]


def alexnet_style():
    """conv–relu–LRN–maxpool–conv–relu–LRN–maxpool–gemm."""
    r = np.random.default_rng(31)
    w = lambda *s: (r.standard_normal(s) * (2.0 / np.prod(s[1:])) ** 0.5).astype(np.float32)  # noqa: E731
    b = lambda n: (r.standard_normal(n) * 0.1).astype(np.float32)  # noqa: E731
    node = helper.make_node
    nodes = [node("Conv", ["x", "w0", "b0"], ["c0"], name="conv1", pads=[1, 1, 1, 1]),
             node("Relu", ["c0"], ["r0"], name="relu1"),
             node("LRN", ["r0"], ["n0"], name="norm1", size=5, alpha=0.2, beta=0.75, bias=2.0),
             node("MaxPool", ["n0"], ["m0"], name="pool1", kernel_shape=[2, 2], strides=[2, 2]),
             node("Conv", ["m0", "w1", "b1"], ["c1"], name="conv2", pads=[1, 1, 1, 1]),
             node("Relu", ["c1"], ["r1"], name="relu2"),
             node("LRN", ["r1"], ["n1"], name="norm2", size=3, alpha=0.5, beta=0.75, bias=1.0),
             node("MaxPool", ["n1"], ["m1"], name="pool2", kernel_shape=[2, 2], strides=[2, 2]),
             node("Flatten", ["m1"], ["f"], name="flatten"),
             node("Gemm", ["f", "wf", "bf"], ["y"], name="fc", transB=1)]
    flat = 24 * (HW // 4) ** 2
    inits = {"w0": w(16, 3, 3, 3), "b0": b(16), "w1": w(24, 16, 3, 3), "b1": b(24), "wf": w(CLASSES, flat),
             "bf": b(CLASSES)}
    return image_model(nodes, inits, "alexnet_style", HW, CLASSES)


def images(n, seed):
    return (2 * np.random.default_rng(seed).standard_normal((n, 3, HW, HW))).astype(np.float32)


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    model = alexnet_style()
    root = tmp_path_factory.mktemp("segments")
    bundles = {board: fpga_accel.compile(model, root / f"{board}.fpga", board=board, calib=images(48, 32),
                                         progress=False, engine="tiled") for board in BOARDS}
    return model, bundles


def _toolchain():
    from fpga_accel import toolchain

    try:
        toolchain.compiler()
        toolchain.ap_types_dir()
    except toolchain.ToolchainError as e:
        pytest.skip(str(e))


@pytest.mark.parametrize("board", BOARDS)
def test_the_lrn_layers_are_host_steps_between_segments(net, board):
    bundle = net[1][board]
    program, _ = load_program(bundle)
    steps = plan_steps(program)
    kinds = ["host" if isinstance(s, HostStep) else "engine" for s in steps]
    assert kinds == ["engine", "host", "engine", "host", "engine"]
    assert [s.name for s in steps if isinstance(s, HostStep)] == ["norm1", "norm2"]
    assert all("no tiled-engine form" in s.why for s in steps if isinstance(s, HostStep))
    # the engine's layers are the rest, each exactly once
    names = [n for d in program.layers for n in d["sources"]]
    assert "norm1" not in names and {"conv1", "pool1", "conv2", "pool2", "fc"} <= set(names)
    summary = bundle.manifest["tiled"]["steps"]
    assert summary["segments"] == 3 and summary["host_steps"] == 2
    assert bundle.manifest["engine"]["kind"] == "tiled"


@pytest.mark.parametrize("board", BOARDS)
def test_emulator_equals_csim_bit_for_bit(net, board):
    _toolchain()
    bundle = net[1][board]
    x = images(2, 33)
    with Session(bundle, backend="emulator") as s:
        q = s.hardware_inputs(x)
        emu = s.run(q, raw=True)
        s.backend.use_program = True  # segments and host steps in the program's reference executor
        executor = s.run(q, raw=True)
    with Session(bundle, backend="csim") as s:
        cs = s.run(q, raw=True)
        cycles = s.backend.stage_cycles()
    # the quantised model's own emulator (LRN in integers, the same as the host steps)
    want = run_layers(load_qmodel(bundle), q, threads=1)
    for name, w in want.items():
        np.testing.assert_array_equal(emu[name], w)
        np.testing.assert_array_equal(executor[name], w)
        np.testing.assert_array_equal(cs[name], w)
    assert len(cycles) == len(load_program(bundle)[0].layers) and all(c > 0 for c in cycles.values())


def test_emulator_within_cosine_of_onnxruntime(net):
    model, bundles = net
    x = images(8, 34)
    want = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    for board in ("pynq-z2", "zcu104"):
        with Session(bundles[board], backend="emulator") as s:
            got = s.run({"x": x})["y"]
        cos = float(np.sum(got * want) / np.linalg.norm(got) / np.linalg.norm(want))
        assert cos >= 0.99, (board, cos)


def test_segment_words_are_the_program_encoding_cut_at_host_steps(net):
    from fpga_accel.tiled.descriptors import HEADER, RECORD_WORDS

    program, words = load_program(net[1]["zcu104"])
    segs = [s for s in plan_steps(program) if isinstance(s, Segment)]
    parts = [segment_words(words, s.first, s.end).reshape(-1, RECORD_WORDS) for s in segs]
    assert [p[0, HEADER["layers"]] for p in parts] == [s.end - s.first for s in segs]
    whole = words.reshape(-1, RECORD_WORDS)
    np.testing.assert_array_equal(np.concatenate([p[1:] for p in parts]), whole[1:])
    for p in parts:  # the rest of the header is the whole program's
        np.testing.assert_array_equal(np.delete(p[0], HEADER["layers"]), np.delete(whole[0], HEADER["layers"]))


def test_one_engine_call_per_segment(net):
    """A device overriding _run_layers() sees one call per segment, with that segment's descriptors."""
    program, _ = load_program(net[1]["kv260"])
    calls = []

    class Counting(TiledEngine):
        def _run_layers(self):
            calls.append((self.active, int(np.asarray(getattr(self, "descriptors", [0] * 4))[3])))
            super()._run_layers()

    qm = load_qmodel(net[1]["kv260"])
    with Session(net[1]["kv260"], backend="emulator") as s:
        q = s.hardware_inputs(images(1, 35))
    got = Counting(program).run(q)
    segs = [s for s in plan_steps(program) if isinstance(s, Segment)]
    assert calls == [((s.first, s.end), s.end - s.first) for s in segs]
    np.testing.assert_array_equal(got["y"], run_layers(qm, q, threads=1)["y"])
