"""Several dataflow segments in one bundle: a float host op between hardware nodes (a Softmax over
the channels) and a layer sent to the host (``host_layers``) split the dataflow design into segments,
each folded within its share of the board and generated as its own project under segments/<k>/; the
session chains them with host steps. Emulator == C simulation (== OpenCL on PoCL) == the whole
quantised model's integer reference bit for bit; cosine 0.99 against onnxruntime."""
import numpy as np
import onnxruntime as ort
import pytest
from codegen_util import image_model
from onnx import helper
from test_segments import _toolchain
from test_segments_float import images, softmax_inside

import fpga_accel
from fpga_accel.bundle import load_bundle
from fpga_accel.bundle_model import load_qmodel
from fpga_accel.emulator import run_layers
from fpga_accel.runtime.backends import availability, get_backend
from fpga_accel.runtime.errors import BackendUnavailable
from fpga_accel.runtime.session import Session

HW, CLASSES = 8, 4


def residual_lrn():
    """conv1 → LRN → conv2 → Add(conv2, conv1) → ...: the Add reads one tensor from each side of the LRN."""
    r = np.random.default_rng(60)
    w = lambda *s: (r.standard_normal(s) * 0.4).astype(np.float32)  # noqa: E731
    node = helper.make_node
    nodes = [node("Conv", ["x", "w0", "b0"], ["c0"], name="conv1", pads=[1, 1, 1, 1]),
             node("Relu", ["c0"], ["r0"], name="relu1"),
             node("LRN", ["r0"], ["n0"], name="norm", size=3, alpha=0.2, beta=0.75, bias=2.0),
             node("Conv", ["n0", "w1", "b1"], ["c1"], name="conv2", pads=[1, 1, 1, 1]),
             node("Add", ["c1", "r0"], ["a"], name="skip"),
             node("Relu", ["a"], ["ra"], name="relu2"),
             node("GlobalAveragePool", ["ra"], ["g"], name="gap"),
             node("Flatten", ["g"], ["f"], name="flatten"),
             node("Gemm", ["f", "wf", "bf"], ["y"], name="fc", transB=1)]
    inits = {"w0": w(8, 3, 3, 3), "b0": w(8), "w1": w(8, 8, 3, 3), "b1": w(8), "wf": w(CLASSES, 8), "bf": w(CLASSES)}
    return image_model(nodes, inits, "residual_lrn", HW, CLASSES)


@pytest.fixture(scope="module")
def softmax(tmp_path_factory):
    model = softmax_inside()
    b = fpga_accel.compile(model, tmp_path_factory.mktemp("dseg") / "s.fpga", board="kv260", calib=images(32, 51),
                           progress=False, engine="dataflow")
    return model, b


@pytest.fixture(scope="module")
def forced(tmp_path_factory):
    model = residual_lrn()
    b = fpga_accel.compile(model, tmp_path_factory.mktemp("dseg") / "r.fpga", board="zcu104", calib=images(32, 61),
                           progress=False, engine="dataflow", host_layers=["norm"])
    return model, b


def segments_of(b):
    return [load_bundle(b.path / s["path"]) for s in b.manifest["segments"]["list"]]


def test_a_softmax_between_convolutions_splits_the_design_in_two(softmax):
    m = softmax[1].manifest
    assert m["engine"] == {"kind": "dataflow", "reason": "--engine dataflow given"}
    steps = m["segments"]["steps"]
    assert steps[0] == {"segment": 0} and steps[-1] == {"segment": 1}
    assert {"host": "attend"} in steps  # with the layout moves around it, on the host too
    assert [s["layers"] for s in m["segments"]["list"]] == [["conv1"], ["conv2", "gap", "flatten", "fc"]]
    assert {"name": "attend", "op": "Softmax"} in m["partition"]["host_between"]
    subs = segments_of(softmax[1])
    assert [s.manifest["segment"]["name"] for s in subs] == ["softmax_inside_s0", "softmax_inside_s1"]
    for s in subs:  # each a dataflow design of its own, C simulation included
        assert (s.path / "hls" / "csim" / "build.json").is_file() and "fold" in s.manifest


def test_each_segment_folds_within_its_share_of_the_budget(softmax):
    m = softmax[1].manifest
    listed, subs = m["segments"]["list"], segments_of(softmax[1])
    assert sum(s["share"] for s in listed) == pytest.approx(1.0)
    macs = [sum(r["macs"] for r in sub.manifest["layers"]) for sub in subs]
    for s, mac in zip(listed, macs):  # half by MACs, half evenly
        assert s["share"] == pytest.approx((mac / sum(macs) + 0.5) / 2)
    for s, sub in zip(listed, subs):
        fold = sub.manifest["fold"]
        assert fold["ceiling"] == pytest.approx(0.8 * s["share"])
        for k, used in fold["totals"].items():
            assert used <= fold["budget"][k] + 1e-9, (s["name"], k)
    for k in ("dsp", "lut", "bram18"):  # together within the ceiling of the board
        assert sum(sub.manifest["fold"]["totals"][k] for sub in subs) <= 0.8 * subs[0].manifest["fold"]["available"][k]


def _check_backends(model, b, seed):
    _toolchain()
    x = images(2, seed)
    qm = load_qmodel(b)
    with Session(b, backend="emulator") as s:
        q = s.hardware_inputs(x)
        emu, got = s.run(q, raw=True), s.run({"x": x})["y"]
    with Session(b, backend="csim") as s:
        cs = s.run(q, raw=True)
    every = run_layers(qm, q, keep=True, threads=1, fuse=False)  # the whole model, layer by layer
    for t in qm.outputs:
        np.testing.assert_array_equal(emu[t.name], every[t.name])
        np.testing.assert_array_equal(cs[t.name], every[t.name])
    for sub in segments_of(b):  # each segment's C simulation on the reference's own tensors
        sq = load_qmodel(sub)
        with Session(sub, backend="csim") as s:
            part = s.run({t.name: every[t.name] for t in sq.inputs}, raw=True)
        for t in sq.outputs:
            np.testing.assert_array_equal(part[t.name], every[t.name])
    ref = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    cos = float(np.sum(got * ref) / np.linalg.norm(got) / np.linalg.norm(ref))
    assert cos >= 0.99, cos
    return q, every


def test_softmax_segments_emulator_equals_csim_and_the_reference(softmax):
    _check_backends(*softmax, seed=53)


def test_opencl_chains_each_segments_twin(softmax):
    cls = get_backend("opencl")
    why = availability(cls, softmax[1])
    if why:
        pytest.skip(why)
    q, every = _check_backends(*softmax, seed=54)
    with Session(softmax[1], backend="opencl") as s:
        got = s.run(q, raw=True)
    np.testing.assert_array_equal(got["y"], every["y"])


def test_backends_without_a_segmented_build_refuse_by_name(softmax):
    from fpga_accel.runtime.backends.base import Backend

    class OneKernel(Backend):  # a plug-in that knows nothing of segments
        name = "one_kernel"

    assert availability(OneKernel, softmax[1]) == (
        "the bundle holds 2 dataflow segments with host steps between them; backend 'one_kernel' runs one kernel per "
        "bundle: run it with backend 'emulator', 'csim', 'opencl', 'f2', 'native', 'pynq', or compile the model with "
        "--engine tiled")
    # PYNQ runs the one overlay of the model's bundle (tests/test_dataflow_segments_build_pynq.py): none is built here
    with pytest.raises(BackendUnavailable, match=r"backend 'pynq' cannot run .*: no bitstream in .*bitstream"):
        Session(softmax[1], backend="pynq")
    from fpga_accel.flow.step_runner import build

    lines = []
    build(softmax[1], dry_run=True, echo=lines.append, registry=False)
    assert [line.split(":")[0] for line in lines if line.startswith("[")] == ["[run ] hls_s0", "[run ] hls_s1",
                                                                              "[run ] vivado"]


def test_a_layer_sent_to_the_host_splits_the_design_and_a_skip_crosses_it(forced):
    m = forced[1].manifest
    listed = m["segments"]["list"]
    assert len(listed) == 2 and {"host": "norm"} in m["segments"]["steps"]
    assert "norm" not in [n["name"] for n in m["partition"]["hardware"]]
    norm = load_qmodel(forced[1]).layer("norm")
    # segment 0 gives the LRN its input and the skip its other operand (the same tensor); segment 1 reads both
    assert listed[0]["outputs"] == norm.inputs
    assert sorted(listed[1]["inputs"]) == sorted([norm.outputs[0], norm.inputs[0]])


def test_forced_segments_emulator_equals_csim_and_the_reference(forced):
    _check_backends(*forced, seed=63)


def test_auto_keeps_the_dataflow_engine_when_the_segments_fit(tmp_path):
    b = fpga_accel.compile(softmax_inside(), tmp_path / "a.fpga", board="kv260", calib=images(16, 55),
                           progress=False, engine="auto")
    assert b.manifest["engine"] == {"kind": "dataflow", "reason": "auto: the dataflow segments fit the board"}
    assert len(b.manifest["segments"]["list"]) == 2


# --- the segment list is untrusted input -----------------------------------------------------------
def _tampered(b, tmp_path, change):
    import json
    import shutil

    from fpga_accel.bundle import write_manifest

    dest = tmp_path / "t.fpga"
    shutil.copytree(b.path, dest)
    m = json.loads((dest / "manifest.json").read_text())
    for k in ("manifest_sha256", "manifest_hmac"):
        m.pop(k)
    change(m["segments"])
    write_manifest(dest, m)  # sealed again: only the checks stand between the edit and a run
    return dest


@pytest.mark.parametrize("change, match", [
    (lambda s: s["list"][0].update(path="../s.fpga"), r"segments.list\[0\].path' is '../s.fpga'; segment 0 lives at"),
    (lambda s: s["list"][1].update(path="segments/0"), r"segments.list\[1\].path' is 'segments/0'; segment 1 lives"),
    (lambda s: s["list"].reverse(), r"segments.list\[0\].path' is 'segments/1'"),
    (lambda s: s["list"][0].update(name=s["list"][1]["name"]), r"segments.list' names \['softmax_inside_s1'\] more"),
    (lambda s: s["list"][1]["layers"].append("conv1"), r"names layer 'conv1', which segment 0 runs too"),
    (lambda s: s["list"][1]["layers"].append("../../etc"), r"layers\[4\]' names '../../etc', which is not defined"),
    (lambda s: s["list"][1]["layers"].remove("fc"), r"runs neither in a segment nor as a host step the layers \['fc'\]"),
    (lambda s: s["steps"].reverse(), r"segments.steps\[0\].segment' is 1, outside \[0, 0\]"),
    (lambda s: s["steps"].insert(0, s["steps"].pop(2)), r"steps\[0\]' reads \['\S+'\] before any earlier step"),
    (lambda s: s["steps"].append({"segment": 1}), r"segments.steps\[\d\].segment' is 1, outside \[2, 2\]"),
    (lambda s: s["steps"].append({"host": "conv1"}), r"names layer 'conv1', which segment 0 runs too"),
    (lambda s: s["steps"].append({"segment": True}), r"steps\[5\].segment' must be an integer, got a boolean"),
    (lambda s: s["steps"].append({"shell": "rm -rf /"}), r'must be \{"segment": index\} or \{"host": layer name\}'),
    (lambda s: s["list"].extend([dict(s["list"][0], name=str(i)) for i in range(40)]), r"segments, not 1..32"),
])
def test_a_tampered_segment_list_is_refused(softmax, tmp_path, change, match):
    from fpga_accel.bundle import BundleError

    with pytest.raises(BundleError, match=match):
        Session(_tampered(softmax[1], tmp_path, change), backend="emulator")


def test_a_segment_whose_bundle_disagrees_with_the_model_is_refused(softmax, tmp_path):
    """Two segments' folders swapped, with every listing and seal redone to match: the segment's own
    layers and tensors give it away."""
    import shutil

    from fpga_accel.bundle import BundleError, _listing, write_manifest

    dest = tmp_path / "w.fpga"
    shutil.copytree(softmax[1].path, dest)
    (dest / "segments" / "0").rename(dest / "segments" / "x")
    (dest / "segments" / "1").rename(dest / "segments" / "0")
    (dest / "segments" / "x").rename(dest / "segments" / "1")
    m = dict(softmax[1].manifest)
    for k in ("manifest_sha256", "manifest_hmac"):
        m.pop(k)
    m["files"] = _listing(dest)
    write_manifest(dest, m)
    with pytest.raises(BundleError, match=r"segment 0 \('softmax_inside_s0'\): its bundle holds other layers"):
        Session(dest, backend="emulator")


def wide_softmax():
    """Convolutions whose weights (about 4.7 M) exceed a pynq-z2's BRAM, a Softmax over the channels between them."""
    r = np.random.default_rng(70)
    w = lambda *s: (r.standard_normal(s) * 0.05).astype(np.float32)  # noqa: E731
    node = helper.make_node
    nodes = [node("Conv", ["x", "w0"], ["c0"], name="conv1", pads=[1, 1, 1, 1]),
             node("Conv", ["c0", "w1"], ["c1"], name="conv2", pads=[1, 1, 1, 1]),
             node("Softmax", ["c1"], ["s1"], name="attend", axis=1),
             node("Conv", ["s1", "w2"], ["c2"], name="conv3", pads=[1, 1, 1, 1]),
             node("GlobalAveragePool", ["c2"], ["g"], name="gap"),
             node("Flatten", ["g"], ["f"], name="flatten"),
             node("Gemm", ["f", "wf"], ["y"], name="fc", transB=1)]
    inits = {"w0": w(256, 3, 3, 3), "w1": w(512, 256, 3, 3), "w2": w(512, 512, 3, 3), "wf": w(CLASSES, 512)}
    return image_model(nodes, inits, "wide_softmax", HW, CLASSES)


def test_auto_takes_the_tiled_engine_when_a_segment_does_not_fit(tmp_path):
    from fpga_accel.fold.folder import FoldError

    model, calib = wide_softmax(), images(4, 71)
    with pytest.raises(FoldError, match=r"dataflow segment 'wide_softmax_s0' \(2 layers, the whole 80% budget, alone\) "
                                        r"does not fit: model 'wide_softmax_s0' does not fit board 'pynq-z2'"):
        fpga_accel.compile(model, tmp_path / "d.fpga", board="pynq-z2", calib=calib, progress=False)
    b = fpga_accel.compile(model, tmp_path / "a.fpga", board="pynq-z2", calib=calib, progress=False, engine="auto")
    assert b.manifest["engine"]["kind"] == "tiled" and "segments" not in b.manifest
    assert b.manifest["engine"]["reason"].startswith("auto: the dataflow segments do not fit the board (dataflow "
                                                     "segment 'wide_softmax_s")


def fc_heavy():
    """Convolutions with most of the MACs, then a Softmax, then a classifier with most of the weights."""
    r = np.random.default_rng(80)
    w = lambda *s: (r.standard_normal(s) * 0.05).astype(np.float32)  # noqa: E731
    node = helper.make_node
    nodes = [node("Conv", ["x", "w0", "b0"], ["c0"], name="conv1", pads=[1, 1, 1, 1]),
             node("Conv", ["c0", "w1", "b1"], ["c1"], name="conv2", pads=[1, 1, 1, 1]),
             node("Softmax", ["c1"], ["s1"], name="attend", axis=1),
             node("MaxPool", ["s1"], ["p"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
             node("Flatten", ["p"], ["f"], name="flatten"),
             node("Gemm", ["f", "wf", "bf"], ["y"], name="fc", transB=1)]
    inits = {"w0": w(32, 3, 3, 3), "b0": w(32), "w1": w(32, 32, 3, 3), "b1": w(32), "wf": w(128, 32 * 64),
             "bf": w(128)}
    return image_model(nodes, inits, "fc_heavy", 16, 128)


def test_the_split_is_searched_when_a_segment_does_not_fit_its_mac_share(tmp_path):
    from fpga_accel.fold import get_board
    from fpga_accel.fold.design import budget
    from fpga_accel.segments import split_segments
    from fpga_accel.segments.build import fold_segments, shares

    x = np.random.default_rng(81).standard_normal((8, 3, 16, 16)).astype(np.float32)
    b = fpga_accel.compile(fc_heavy(), tmp_path / "f.fpga", board="pynq-z2", calib=x, progress=False, generators=[])
    qm = load_qmodel(b)
    plan = split_segments(qm)
    macs = {r["name"]: r["macs"] for r in b.manifest["layers"]}
    base = shares(plan, macs)
    board = get_board("pynq-z2")
    from fpga_accel.fold.folder import FoldError, fold_model

    with pytest.raises(FoldError):  # the classifier's weights do not fit the share its MACs give it
        fold_model(plan.segments[1], board, ceiling=0.8 * base[1])
    got = [s["share"] for s in b.manifest["segments"]["list"]]
    assert got[1] > base[1] and sum(got) == pytest.approx(1.0)
    folds = fold_segments(plan, macs, board, 0.8)
    assert [f.ceiling for f in folds] == pytest.approx([0.8 * s for s in got])
    whole = budget(board, 0.8)
    for k in whole:  # each within its share, all together within the ceiling
        assert all(f.design.usage.as_dict()[k] <= f.design.budget[k] for f in folds)
        assert sum(f.design.usage.as_dict()[k] for f in folds) <= whole[k] + len(folds)  # integer budgets round down
    with Session(b, backend="emulator") as s:
        q = s.hardware_inputs(x[:2])
        got = s.run(q, raw=True)
    np.testing.assert_array_equal(got["y"], run_layers(qm, q, threads=1)["y"])


def test_the_chain_batches_validates_and_closes_like_any_backend(softmax):
    from fpga_accel.errors import InputError
    from fpga_accel.runtime.errors import SessionError

    x = images(5, 90)
    with Session(softmax[1], backend="emulator") as s:
        whole = s.run({"x": x})["y"]
    with Session(softmax[1], backend="emulator", batch_size=2) as s:
        assert s.backend.name == "emulator" and len(s.backend.segments) == 2
        np.testing.assert_array_equal(s.run({"x": x})["y"], whole)
        assert s.stats.backend_calls == 3
        with pytest.raises(InputError):
            s.run({"x": x[:, :2]})
    with pytest.raises(SessionError, match="closed"):
        s.run({"x": x})
    assert s.backend.segments == []  # every segment's backend released


def test_a_segment_whose_weights_differ_from_the_models_is_refused(softmax, tmp_path):
    """A segment recompiled with other weights, every hash and seal redone: the chain would not compute
    the model's integers, so it does not run."""
    import json
    import shutil

    from fpga_accel.bundle import BundleError, _listing, write_manifest

    dest = tmp_path / "x.fpga"
    shutil.copytree(softmax[1].path, dest)
    seg = dest / "segments" / "1"
    arrays = dict(np.load(seg / "weights.npz"))
    key = next(k for k in sorted(arrays) if k.startswith("layer0."))
    arrays[key] = arrays[key].copy()
    arrays[key].reshape(-1)[0] ^= 1
    np.savez(seg / "weights.npz", **arrays)
    for root in (seg, dest):
        m = json.loads((root / "manifest.json").read_text())
        for k in ("manifest_sha256", "manifest_hmac"):
            m.pop(k)
        m["files"] = _listing(root)
        write_manifest(root, m)
    with pytest.raises(BundleError, match=r"segment 1 \('softmax_inside_s1'\): its layers \['conv2'\] differ from the "
                                          r"model's layers"):
        Session(dest, backend="emulator")


def test_the_command_line_compiles_reports_and_runs_segments(capsys, tmp_path, softmax):
    import onnx

    from fpga_accel.cli import main

    def cli(*argv):
        code = main([str(a) for a in argv])
        out, err = capsys.readouterr()
        assert "Traceback" not in out + err
        return code, out, err

    onnx.save(softmax[0], tmp_path / "m.onnx")
    np.save(tmp_path / "c.npy", images(32, 51))
    code, out, _ = cli("compile", tmp_path / "m.onnx", "--calib", tmp_path / "c.npy", "--board", "kv260",
                       "--fifo-sizing", "model", "-o", tmp_path / "m.fpga")
    assert code == 0
    assert "steps           softmax_inside_s0 -> conv1_to_nchw -> attend -> conv2_to_nhwc -> softmax_inside_s1" in out
    for s in load_bundle(tmp_path / "m.fpga").manifest["segments"]["list"]:  # the figures the manifest holds
        assert f"segment         {s['name']}: {', '.join(s['layers'])} ({s['share']:.0%} of the budget" in out
    code, out, _ = cli("report", tmp_path / "m.fpga")
    assert code == 0 and out.count("total (estimate)") == 2 and "== segment 1: softmax_inside_s1" in out
    code, _, err = cli("simulate", tmp_path / "m.fpga")
    assert code != 0 and f"simulate {tmp_path / 'm.fpga'}/segments/K (K = 0..1)" in err
    np.save(tmp_path / "x.npy", images(3, 92))
    code, out, _ = cli("run", tmp_path / "m.fpga", "--input", tmp_path / "x.npy", "--output", tmp_path / "y.npy")
    assert code == 0
    with Session(softmax[1], backend="emulator") as s:  # the same model and calibration: the same integers
        np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), s.run({"x": images(3, 92)})["y"])
