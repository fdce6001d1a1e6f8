"""Models as today's PyTorch exports them (tests/data/dynamo/, made by tests/data/make_dynamo_models.py
with torch 2.13; most with the default ``dynamo=True`` exporter at opset 18, a few with
``dynamo=False``): each imports, its float reference equals onnxruntime before and after the
compiler's passes, it compiles for pynq-z2 with its spatial means accelerated, and the emulated
bundle computes what the float model does, to within 8-bit quantisation."""
import shutil

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from conftest import ROOT
from test_corpus_float import assert_matches  # the float tolerance of the corpus models

import fpga_accel
from fpga_accel.errors import ModelError
from fpga_accel.frontend import import_onnx
from fpga_accel.ir import run_graph, verify
from fpga_accel.passes import run_flow

DATA = ROOT / "tests" / "data" / "dynamo"
MODELS = sorted(DATA.glob("*.onnx"))
IDS = [p.stem for p in MODELS]


def ort_outputs(path, x: np.ndarray) -> list[np.ndarray]:
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])  # reads external data too
    return sess.run(None, {sess.get_inputs()[0].name: x})


def inputs(g, batch: int, seed: int) -> np.ndarray:
    (t,) = g.inputs
    return np.random.default_rng(seed).uniform(0, 1, (batch, *t.shape[1:])).astype(t.dtype)


def test_the_committed_set_covers_the_forms():
    """Every form this file is about is in some committed model (and every model is small)."""
    ops = {}
    for p in MODELS:
        m = onnx.load(str(p), load_external_data=False)
        opset = next(o.version for o in m.opset_import if o.domain in ("", "ai.onnx"))
        for n in m.graph.node:
            ops.setdefault(n.op_type, set()).add(opset)
        assert p.stat().st_size < 100_000, p.name
    assert 18 in ops["ReduceMean"] and ops["ReduceMean"] - {18}  # axes as input, and as attribute
    assert {"Split", "Slice", "Reshape", "Conv", "Gemm"} <= set(ops)
    assert (DATA / "mnist_cnn_dynamo_op18.onnx.data").is_file()  # weights in an external file
    assert sum(p.stat().st_size for p in DATA.iterdir()) < 2_000_000


@pytest.mark.parametrize("path", MODELS, ids=IDS)
def test_float_reference_matches_onnxruntime_before_and_after_the_passes(path):
    g = import_onnx(path)
    verify(g)
    assert g.batch_symbol  # exported with a dynamic batch
    h = g.copy()
    run_flow(h, "hardware", check=True)
    for batch in (1, 4):
        x = inputs(g, batch, seed=batch)
        want = ort_outputs(path, x)
        for graph, when in ((g, "imported"), (h, "after the hardware flow")):
            got = run_graph(graph, {graph.inputs[0].name: x})
            for name, w in zip(graph.output_names, want, strict=True):
                assert_matches(got[name], w, what=f"{path.name} '{name}' {when}, batch {batch}")


@pytest.mark.parametrize("path", MODELS, ids=IDS)
def test_compiles_for_pynq_z2_and_the_emulator_agrees_with_the_float_model(path, tmp_path):
    g = import_onnx(path)
    calib = tmp_path / "calib.npy"
    np.save(calib, inputs(g, 32, seed=7))
    bundle = fpga_accel.compile(path, tmp_path / "m.fpga", board="pynq-z2", calib=calib, progress=False)
    part = bundle.manifest["partition"]
    hw_ops = [n["op"] for n in part["hardware"]]
    host_ops = [n["op"] for n in part["host_before"] + part["host_after"]]
    assert "ReduceMean" not in hw_ops + host_ops
    if any(n.op_type == "ReduceMean" for n in onnx.load(str(path), load_external_data=False).graph.node):
        assert "GlobalAveragePool" in hw_ops
    assert set(host_ops) <= {"Transpose", "Reshape", "Split", "Slice"}  # layout at the input, heads at the end
    x = inputs(g, 8, seed=3)
    want = ort_outputs(path, x)
    with fpga_accel.Session(bundle.path, backend="emulator") as s:
        got = s.run(x)
    assert list(got) == g.output_names
    for name, w in zip(g.output_names, want, strict=True):
        # 8-bit activations and weights through a few layers: within 2.5 % of the output range here
        err = float(np.max(np.abs(got[name] - w)))
        bound = 0.05 * float(np.max(np.abs(w)))
        assert got[name].shape == w.shape and err <= bound, f"{path.name} '{name}': {err:g} > {bound:g}"


def test_external_data_is_read_from_the_model_folder_only(tmp_path):
    """The dynamo exporter's .onnx + .onnx.data pair imports from wherever the pair is copied; the
    .onnx alone, next to a data file only in its parent folder, is refused."""
    src = DATA / "mnist_cnn_dynamo_op18.onnx"
    pair = tmp_path / "pair"
    pair.mkdir()
    shutil.copy(src, pair)
    shutil.copy(src.with_name(src.name + ".data"), pair)
    g = import_onnx(pair / src.name)
    assert sum(v.size for v in g.initializers.values()) > 9000  # the weights came from the data file
    lone = tmp_path / "lone"
    lone.mkdir()
    m = onnx.load(str(src), load_external_data=False)
    for t in m.graph.initializer:
        for e in t.external_data:
            if e.key == "location":
                e.value = "../pair/" + e.value
    (lone / src.name).write_bytes(m.SerializeToString())
    with pytest.raises(ModelError, match="external data must sit in the model's folder"):
        import_onnx(lone / src.name)
