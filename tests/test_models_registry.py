"""The example models in models/ are what registry.json says: hashes, shapes, accuracies.

Accuracies are recomputed with onnxruntime on the committed files, never read back from the
registry. Needs onnx and onnxruntime, not torch, and not ../shared/corpus (except the provenance
check, which skips without it).
"""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from models import data

MODELS = ROOT / "models"
REGISTRY = json.loads((MODELS / "registry.json").read_text(encoding="utf-8"))["models"]
NAMES = sorted(REGISTRY)
# What the example set promises, independent of what the registry happens to hold.
EXPECTED = {"mnist_cnn": 95.0, "digits_cnn": 95.0, "mlp": 93.0, "resnet_ds": 95.0, "mnist_cnn_qdq": 95.0}


def session(path: Path) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # as models/common.py does
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def test_registry_lists_every_example_model():
    assert NAMES == sorted(EXPECTED)
    assert data.names() == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_sha256_of_every_file_matches(name):
    entry = REGISTRY[name]
    for rec in (entry, entry["calib"], entry["test"]):
        path = MODELS / rec["path"]
        assert path.is_file(), path
        assert data.sha256(path) == rec["sha256"], f"{rec['path']} changed since the registry was written"
    assert (MODELS / entry["path"]).stat().st_size == entry["bytes"] < 1_000_000
    assert (ROOT / entry["source"]).is_file()
    for lic in entry["data_licence"]["files"]:
        assert (MODELS / lic).is_file(), lic


@pytest.mark.parametrize("name", NAMES)
def test_model_matches_its_declared_interface(name):
    entry = REGISTRY[name]
    model = onnx.load(str(data.model_path(name)))
    onnx.checker.check_model(model, full_check=True)
    assert [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")] == [13]
    assert sorted({n.op_type for n in model.graph.node}) == entry["ops"]
    (inp,) = model.graph.input
    dims = [d.dim_param or d.dim_value for d in inp.type.tensor_type.shape.dim]
    assert inp.name == entry["input"]["name"]
    assert dims == entry["input"]["shape"] and dims[0] == "N"
    (out,) = model.graph.output
    assert out.name == entry["output"]["name"]
    assert [d.dim_param or d.dim_value for d in out.type.tensor_type.shape.dim] == ["N", 10]


@pytest.mark.parametrize("name", NAMES)
def test_data_shapes_and_ranges(name):
    entry = REGISTRY[name]
    sample_shape = tuple(entry["input"]["shape"][1:])
    calib = data.load_calib(name)
    assert calib.dtype == np.float32
    assert calib.shape == tuple(entry["calib"]["shape"]) == (200, *sample_shape)
    assert 0.0 <= calib.min() and calib.max() <= 1.0 and calib.max() > 0.9
    x, y = data.load_test(name)
    assert x.dtype == np.float32 and y.dtype == np.int64
    assert x.shape == tuple(entry["test"]["x_shape"]) == (entry["test"]["count"], *sample_shape)
    assert 0.0 <= x.min() and x.max() <= 1.0
    assert np.array_equal(np.unique(y), np.arange(10))


@pytest.mark.parametrize("name", NAMES)
def test_accuracy_recomputed_with_onnxruntime(name):
    entry = REGISTRY[name]
    x, y = data.load_test(name)
    logits = session(data.model_path(name)).run(None, {entry["input"]["name"]: x})[0]
    assert logits.shape == (len(y), 10)
    correct = int((logits.argmax(axis=1) == y).sum())
    accuracy = 100.0 * correct / len(y)
    assert abs(accuracy - entry["test_accuracy"]) <= 0.05, (name, correct, entry["test_correct"])
    assert correct == entry["test_correct"]
    assert accuracy >= EXPECTED[name]


@pytest.mark.parametrize("name", NAMES)
def test_batch_dimension_is_dynamic(name):
    entry = REGISTRY[name]
    x, _ = data.load_test(name)
    sess = session(data.model_path(name))
    feed = entry["input"]["name"]
    batched = sess.run(None, {feed: x[:7]})[0]
    single = np.concatenate([sess.run(None, {feed: x[i:i + 1]})[0] for i in range(7)])
    np.testing.assert_allclose(single, batched, rtol=1e-5, atol=1e-5)


def test_qdq_model_is_int8_per_channel_and_agrees_with_float():
    model = onnx.load(str(data.model_path("mnist_cnn_qdq")))
    inits = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
    dq_weights = [n for n in model.graph.node if n.op_type == "DequantizeLinear" and inits.get(n.input[0]) is not None
                  and inits[n.input[0]].dtype == np.int8]
    # Conv, Conv, Gemm weights: int8 with one scale per output channel.
    assert len(dq_weights) == 3
    for node in dq_weights:
        w, scale = inits[node.input[0]], inits[node.input[1]]
        assert scale.shape == (w.shape[0],)
    quantize_zps = [inits[n.input[2]] for n in model.graph.node if n.op_type == "QuantizeLinear"]
    assert quantize_zps and all(zp.dtype == np.int8 for zp in quantize_zps)

    x, _ = data.load_test("mnist_cnn_qdq")
    feed = REGISTRY["mnist_cnn_qdq"]["input"]["name"]
    q = session(data.model_path("mnist_cnn_qdq")).run(None, {feed: x})[0].argmax(1)
    f = session(data.model_path("mnist_cnn")).run(None, {feed: x})[0].argmax(1)
    agreement = 100.0 * float((q == f).mean())
    assert abs(agreement - REGISTRY["mnist_cnn_qdq"]["float_agreement"]) <= 0.05
    assert agreement >= 98.0
    assert REGISTRY["mnist_cnn_qdq"]["derived_from"]["sha256"] == REGISTRY["mnist_cnn"]["sha256"]


def test_changed_file_is_refused(tmp_path, monkeypatch):
    shutil.copytree(MODELS / "digits_cnn", tmp_path / "digits_cnn")
    raw = bytearray((tmp_path / "digits_cnn" / "model.onnx").read_bytes())
    raw[-1] ^= 1
    (tmp_path / "digits_cnn" / "model.onnx").write_bytes(bytes(raw))
    monkeypatch.setattr(data, "HERE", tmp_path)
    with pytest.raises(data.ModelDataError, match=r"digits_cnn/model.onnx has sha256 .* regenerate it with models/train.py"):
        data.model_path("digits_cnn")
    assert data.load_test("digits_cnn")[0].shape == (297, 1, 8, 8)  # the untouched files still load


def test_unknown_model_names_the_known_ones():
    with pytest.raises(data.ModelDataError, match="unknown example model 'lenet'; known: digits_cnn, mlp"):
        data.info("lenet")


@pytest.mark.parametrize("name,corpus_file", [("mnist_cnn", "mnist_5k.npz"), ("mlp", "mnist_5k.npz"),
                                              ("digits_cnn", "digits.npz")])
def test_test_split_is_the_documented_corpus_rows(corpus, name, corpus_file):
    with np.load(corpus / "data" / corpus_file) as z:
        images, labels = z["X"], z["y"]
    with np.load(MODELS / REGISTRY[name]["test"]["path"]) as t:
        index, x, y = t["index"], t["x"], t["y"]
    np.testing.assert_array_equal(y, labels[index])
    np.testing.assert_array_equal(x.reshape(len(index), -1), images[index].reshape(len(index), -1))
    if corpus_file == "mnist_5k.npz":  # stratified: the last 100 of each class
        expected = np.concatenate([np.flatnonzero(labels == c)[400:] for c in range(10)])
    else:
        expected = np.random.default_rng(0).permutation(len(labels))[1500:]
    np.testing.assert_array_equal(index, expected)
