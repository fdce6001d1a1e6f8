"""The `hardware` flow on every real model of the corpus: verified, same outputs, Keras nets NHWC."""
import pathlib

import onnx
import pytest
from onnx import numpy_helper
from onnx_util import assert_close
from pass_util import check_rewrite, op_types

from fpga_accel.errors import UnsupportedModelError
from fpga_accel.frontend import import_onnx
from fpga_accel.ir import run_graph

MODELS_DIR = pathlib.Path(__file__).resolve().parents[2] / "shared" / "corpus" / "models"
MODELS = sorted(p.relative_to(MODELS_DIR).as_posix() for p in MODELS_DIR.rglob("*.onnx")) if MODELS_DIR.is_dir() else []

#: tf2onnx/keras2onnx exports: NHWC inputs, so the flow must leave no Transpose at all
KERAS = [m for m in MODELS if ("hls4ml/" in m and "keras" in m) or m.startswith("onnx2c/simple_networks/")]
#: Keras models whose structure keeps a Transpose, with the reason (none so far)
KERAS_EXCEPTIONS: dict[str, str] = {}


def imported(corpus, rel: str, model=None):
    try:
        return import_onnx(model if model is not None else corpus / "models" / rel)
    except UnsupportedModelError as e:
        lines = str(e).splitlines()
        pytest.skip(f"{rel} does not import: {lines[0].rsplit(': ', 1)[-1]} {lines[1].strip()} ...")


def batch1_flatten_axis0_as_axis1(path) -> onnx.ModelProto:
    """The hls4ml Keras conv exports flatten with axis=0 on a batch fixed to 1; on that batch it
    is the same as axis=1, which the importer accepts. Lets the layout passes be checked on them."""
    m = onnx.load(str(path))
    consts = {t.name for t in m.graph.initializer}
    assert all(vi.type.tensor_type.shape.dim[0].dim_value == 1 for vi in m.graph.input if vi.name not in consts)
    for n in m.graph.node:
        for a in n.attribute:
            if n.op_type == "Flatten" and a.name == "axis" and a.i == 0:
                a.i = 1
    return m


@pytest.mark.parametrize("rel", MODELS)
def test_hardware_flow_keeps_outputs(corpus, rel):
    g = imported(corpus, rel)
    h = check_rewrite(g, "hardware")
    assert "BatchNormalization" not in op_types(h) and "Identity" not in op_types(h)
    if rel in KERAS and rel not in KERAS_EXCEPTIONS:
        assert "Transpose" not in op_types(h), f"{rel}: Transposes left:\n{h}"


@pytest.mark.parametrize("rel", [m for m in MODELS if m.endswith("/model.onnx")])
def test_hardware_flow_matches_shipped_reference_outputs(corpus, rel):
    """Models shipped with reference input/output pairs still reproduce them after the flow."""
    pairs = sorted((corpus / "models" / rel).parent.glob("test_data_set_*"))
    if not pairs or not list(pairs[0].glob("output_*.pb")):
        pytest.skip(f"{rel} has no reference outputs")
    h = imported(corpus, rel)
    from fpga_accel.passes import run_flow

    run_flow(h, "hardware", check=True)
    for d in pairs:
        x = numpy_helper.to_array(onnx.load_tensor(str(d / "input_0.pb")))
        want = numpy_helper.to_array(onnx.load_tensor(str(d / "output_0.pb")))
        got = run_graph(h, {h.input_names[0]: x.reshape((-1, *h.inputs[0].shape[1:]))})[h.output_names[0]]
        assert_close(got.reshape(want.shape), want, rtol=1e-4, what=f"{rel} {d.name}")


@pytest.mark.parametrize("rel", [m for m in KERAS if "hls4ml/conv" in m])
def test_hls4ml_keras_conv_nets_lose_every_transpose(corpus, rel):
    g = imported(corpus, rel, batch1_flatten_axis0_as_axis1(corpus / "models" / rel))
    h = check_rewrite(g, "hardware")
    assert "Transpose" not in op_types(h), f"{rel}: Transposes left:\n{h}"
    assert h.nodes[0].op_type == "Conv" and h.nodes[0].inputs[0] == h.input_names[0]


def test_keras_conv_nets_reach_the_first_conv_without_transpose(corpus):
    """The tf2onnx conv nets that import: their first spatial op reads the NHWC graph input."""
    checked = 0
    for rel in KERAS:
        try:
            g = import_onnx(corpus / "models" / rel)
        except UnsupportedModelError:
            continue
        if "Transpose" not in op_types(g):
            continue
        h = check_rewrite(g, "hardware")
        first = h.nodes[0]
        assert first.inputs[0] == h.input_names[0] and first.attrs.get("layout") == "NHWC", f"{rel}:\n{h}"
        checked += 1
    assert checked >= 1, "no Keras conv net of the corpus imports"
