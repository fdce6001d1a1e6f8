"""Every corpus model (../shared/corpus/models/**/*.onnx) whose ops are supported: the IR's float
reference equals onnxruntime on random inputs (batch 1, and batch 4 when the batch is symbolic) and
on the stored reference pairs. Models the importer refuses are skipped with its message as reason
(`pytest -rs` lists them)."""
import numpy as np
import onnx
import pytest

from fpga_accel.errors import UnsupportedModelError
from fpga_accel.frontend import import_onnx, load_onnx
from fpga_accel.frontend.onnx_import import MIN_OPSET
from fpga_accel.ir import run_graph, verify

from conftest import CORPUS
from model_util import free_batch_dim, random_input, reference_pairs
from onnx_util import run_ort
from qonnx_util import has_qonnx_nodes

MODELS = sorted(CORPUS.glob("models/**/*.onnx")) if CORPUS.is_dir() else []
RTOL = 1e-5  # max abs error <= RTOL x max|reference| + ATOL
# onnxruntime's Sigmoid is an approximation: for x < -8 its relative error reaches 1e-4..5e-3 (absolute
# error < 4e-8). A model whose only output is such a saturated sigmoid (hls4ml/two_layer_keras on some
# inputs: every value ~1e-4) would fail a purely relative bound; ATOL allows exactly that, and no more.
ATOL = 1e-7

pytestmark = pytest.mark.corpus


def _ort_model(path, g) -> onnx.ModelProto:
    """The model as onnxruntime should run it: upgraded like the importer does, batch left free
    when the file fixes it (the IR runs any batch)."""
    proto = load_onnx(path)
    if g.meta["source_opset"] < MIN_OPSET:
        proto = onnx.version_converter.convert_version(proto, g.opset)
    return free_batch_dim(proto) if g.batch_symbol is None else proto


def assert_matches(got, want, what: str) -> None:
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    bound = RTOL * float(np.max(np.abs(want))) + ATOL
    err = float(np.max(np.abs(got - want)))
    assert err <= bound, f"{what}: max abs error {err:g} > {RTOL:g} x max|ref| + {ATOL:g} = {bound:g}"


def _import_or_skip(path):
    if has_qonnx_nodes(load_onnx(path)):
        # one float ulp moves a value across a quantiser's step, so no float tolerance holds;
        # tests/test_qonnx.py compares these models with their QCDQ form in onnxruntime instead
        pytest.skip("QONNX model: compared with onnxruntime on its QCDQ form in tests/test_qonnx.py")
    try:
        return import_onnx(path)
    except UnsupportedModelError as e:
        pytest.skip(str(e))


@pytest.mark.parametrize("path", MODELS, ids=[str(p.relative_to(CORPUS / "models")) for p in MODELS])
def test_float_reference_matches_onnxruntime(path):
    g = _import_or_skip(path)
    verify(g)
    model = _ort_model(path, g)
    batches = (1, 4) if g.batch_symbol else (1,)
    for b in batches:
        feeds = {t.name: random_input((b, *t.shape[1:]), t.dtype, seed=b) for t in g.inputs}
        want = run_ort(model, feeds)
        got = run_graph(g, feeds)
        for name, w in zip(g.output_names, want, strict=True):
            assert_matches(got[name], w, what=f"{path.name} '{name}' at batch {b}")


PAIRED = [p for p in MODELS if reference_pairs(p)]


@pytest.mark.parametrize("path", PAIRED, ids=[str(p.relative_to(CORPUS / "models")) for p in PAIRED])
def test_stored_reference_pairs(path):
    g = _import_or_skip(path)
    model = _ort_model(path, g)
    for folder, inputs, outputs in reference_pairs(path):
        feeds = {t.name: np.asarray(x, t.dtype) for t, x in zip(g.inputs, inputs, strict=True)}
        got = run_graph(g, feeds)
        ort_out = run_ort(model, feeds)
        for name, stored, w in zip(g.output_names, outputs, ort_out, strict=True):
            assert_matches(got[name], w, what=f"{path.name} {folder} '{name}' vs onnxruntime")
            assert_matches(got[name].reshape(stored.shape), stored,
                           what=f"{path.name} {folder} '{name}' vs the stored output")


def test_corpus_is_present():
    """Guard: the parametrised tests above silently vanish without the corpus."""
    if not CORPUS.is_dir():
        pytest.skip(f"test corpus not found at {CORPUS}")
    assert len(MODELS) >= 20 and len(PAIRED) >= 3
