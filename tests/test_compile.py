"""`fpga_accel.compile`: the bundle it writes rebuilds the exact quantised model, is reproducible
byte for byte, records the settings used, and bad calibration data leaves nothing behind."""
import json
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

import fpga_accel
from fpga_accel.fold.boards import get_board
from fpga_accel.bundle import BundleError, load_bundle
from fpga_accel.emulator import emulate
from fpga_accel.errors import InputError
from fpga_accel.frontend import import_onnx
from fpga_accel.passes import run_flow
from fpga_accel.quant import QuantWarning, quantize
from fpga_accel.quant.calibrate import load_calibration, observe_ranges
from fpga_accel.quant.config import QuantConfig
from fpga_accel.quant.quantizer import quantize_model, split_edges, tensors_to_observe
from models import data

MODELS = ["mnist_cnn", "digits_cnn"]


def calib_file(name):
    return data.HERE / data.info(name)["calib"]["path"]


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    """Each model compiled once with its calibration file: {name: Bundle}."""
    root = tmp_path_factory.mktemp("bundles")
    return {m: fpga_accel.compile(data.model_path(m), root / f"{m}.fpga", calib=calib_file(m), progress=False)
            for m in MODELS}


def reference_qmodel(name, config=None):
    """The quantised model built step by step, without the compiler."""
    config = config or QuantConfig()
    g = import_onnx(data.model_path(name))
    run_flow(g, "hardware")
    _, hw, _ = split_edges(g)
    feeds = load_calibration(data.load_calib(name), g.inputs)
    ranges = observe_ranges(g, feeds, tensors_to_observe(g, hw, config), kind=config.observer)
    return quantize_model(g, ranges, config, calib=feeds)  # with the calibration feeds, as compile refines


@pytest.mark.parametrize("name", MODELS)
def test_session_equals_the_emulated_quantised_model_bit_for_bit(bundles, name):
    x, y = data.load_test(name)
    ref = emulate(reference_qmodel(name), {"input": x})
    with fpga_accel.Session(bundles[name].path) as s:
        out = s.run(x)
        hw_in = s.qmodel.inputs[0]  # one-channel NCHW images are NHWC after a reshape
        raw = s.run(quantize(x.reshape((len(x),) + hw_in.shape[1:]), hw_in.qparams), raw=True)
    assert set(raw) == set(ref.raw) == {"logits"}
    np.testing.assert_array_equal(raw["logits"], ref.raw["logits"])
    np.testing.assert_array_equal(out["logits"], ref.outputs["logits"])
    acc = 100 * np.mean(out["logits"].argmax(1) == y)
    assert acc >= data.info(name)["test_accuracy"] - 1.0, f"int8 accuracy {acc:.2f}% of {name}"


def test_load_qmodel_rebuilds_every_layer(bundles):
    ref = reference_qmodel("mnist_cnn")
    qm = fpga_accel.load_qmodel(bundles["mnist_cnn"].path)
    assert [(lay.name, lay.op_type, lay.inputs, lay.outputs) for lay in qm.layers] == \
        [(lay.name, lay.op_type, lay.inputs, lay.outputs) for lay in ref.layers]
    for a, b in zip(qm.layers, ref.layers):
        assert json.loads(json.dumps(a.config)) == json.loads(json.dumps(b.config, default=int))
        assert set(a.consts) == set(b.consts)
        for k in a.consts:
            assert a.consts[k].dtype == b.consts[k].dtype
            np.testing.assert_array_equal(a.consts[k], b.consts[k])
    assert {t: (v.shape, v.qparams) for t, v in qm.tensors.items()} == \
        {t: (v.shape, v.qparams) for t, v in ref.tensors.items()}
    assert [n.op_type for n in qm.host_before.nodes] == ["Reshape"] and not qm.host_after.nodes


def test_manifest_describes_model_partition_layers_and_settings(bundles):
    m = bundles["mnist_cnn"].manifest
    assert m["format_version"] == 2 and m["fpga_accel_version"] == fpga_accel.__version__
    assert m["model"]["sha256"] == import_onnx(data.model_path("mnist_cnn")).meta["sha256"]
    assert m["model"]["file_sha256"] == data.info("mnist_cnn")["sha256"]
    assert m["model"]["source"] == str(data.model_path("mnist_cnn"))
    assert m["board"] == {**get_board("pynq-z2").to_dict(), "clock_mhz": 100.0, "clock_is_default": True}
    assert m["inputs"] == [{"name": "input", "shape": ["N", 1, 28, 28], "dtype": "float32"}]
    assert m["outputs"] == [{"name": "logits", "shape": ["N", 10], "dtype": "float32"}]
    hw_in, hw_out = m["hardware"]["inputs"], m["hardware"]["outputs"]
    assert [(t["shape"], t["layout"], t["qtype"], t["zero_point"]) for t in hw_in] == \
        [(["N", 28, 28, 1], "NHWC", "uint8", 0)]
    assert hw_in[0]["scale"] == pytest.approx(1 / 255)  # calibration images span [0, 1]
    assert [(t["name"], t["qtype"]) for t in hw_out] == [("logits", "int8")]
    part = m["partition"]
    assert [n["op"] for n in part["host_before"]] == ["Reshape"] and part["host_after"] == []
    assert [n["op"] for n in part["hardware"]] == ["Conv", "MaxPool", "Conv", "MaxPool", "Flatten", "Gemm"]
    conv, gemm = m["layers"][0], m["layers"][-1]
    # 28·28 outputs × 8 channels × 3·3 taps; 784 → 10
    assert (conv["op"], conv["output_shape"], conv["macs"]) == ("Conv", ["N", 28, 28, 8], 28 * 28 * 8 * 9)
    assert (gemm["macs"], gemm["weight_bits"], gemm["act_bits"]) == (7840, 8, 8)
    assert m["layers"][1]["weight_bits"] is None and m["layers"][1]["acc_bits"] is None
    assert 16 <= conv["acc_bits"] <= 32 and m["hardware"]["macs"] == sum(r["macs"] for r in m["layers"])
    q = m["quantization"]
    assert (q["bits"], q["weight_bits"], q["act_bits"], q["observer"], q["layers"]) == (8, 8, 8, "minmax", {})
    assert q["calibration"]["samples"] == 200 and q["calibration"]["source"] == str(calib_file("mnist_cnn"))
    assert set(m["tools"]) == {"fpga-accel", "python", "numpy", "onnx", "onnxruntime"}
    assert m["tools"]["numpy"] == np.__version__
    listed = set(m["files"])
    assert {"weights.npz", "hls/run_hls.tcl", "hls/src/fa_top.cpp", "hls/csim/build.json",
            "opencl/fa_kernel.cl", "scripts/vivado_bd.tcl"} <= listed
    assert listed == {p.relative_to(bundles["mnist_cnn"].path).as_posix()
                      for p in bundles["mnist_cnn"].path.rglob("*") if p.is_file() and p.name != "manifest.json"}


def test_compiling_twice_gives_identical_bytes(tmp_path, monkeypatch):
    a = fpga_accel.compile(data.model_path("digits_cnn"), tmp_path / "a.fpga", calib=calib_file("digits_cnn"))
    b = fpga_accel.compile(data.model_path("digits_cnn"), tmp_path / "b.fpga",
                           calib={"input": data.load_calib("digits_cnn")})
    assert (a.path / "weights.npz").read_bytes() == (b.path / "weights.npz").read_bytes()
    ma, mb = json.loads((a.path / "manifest.json").read_text()), json.loads((b.path / "manifest.json").read_text())
    assert ma["quantization"]["calibration"]["sha256"] == mb["quantization"]["calibration"]["sha256"]
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now + 86400)  # a day later: zip entries carry no time stamp
    c = fpga_accel.compile(data.model_path("digits_cnn"), tmp_path / "c.fpga", calib=calib_file("digits_cnn"))
    assert (a.path / "manifest.json").read_bytes() == (c.path / "manifest.json").read_bytes()
    assert (a.path / "weights.npz").read_bytes() == (c.path / "weights.npz").read_bytes()


def test_default_output_name_and_generators_hook(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    seen = []

    def gen(stage, qm, manifest):
        (stage / "hls").mkdir()
        (stage / "hls" / "layers.txt").write_text("\n".join(lay.name for lay in qm.layers) + "\n")
        manifest["kernel"] = {"layers": len(qm.layers)}
        seen.append(stage)

    b = fpga_accel.compile(data.model_path("digits_cnn"), calib=calib_file("digits_cnn"), generators=[gen])
    assert b.path == Path("model.fpga") and (tmp_path / "model.fpga" / "manifest.json").is_file() and len(seen) == 1
    assert b.manifest["kernel"] == {"layers": 5} and set(b.manifest["files"]) == {"weights.npz", "hls/layers.txt"}
    assert (b.path / "hls" / "layers.txt").read_text().splitlines()[0] == "/0/Conv"


def test_tampered_bundle_is_refused_at_session_load(bundles, tmp_path):
    import shutil

    p = tmp_path / "t.fpga"
    shutil.copytree(bundles["digits_cnn"].path, p)
    fpga_accel.Session(p).close()
    z = dict(np.load(p / "weights.npz"))
    k = next(k for k in z if k.endswith(".weights"))
    z[k] = z[k].copy()
    z[k].flat[0] ^= 1
    np.savez(p / "weights.npz", **z)
    with pytest.raises(BundleError, match=r"modified \['weights.npz'\]"):
        fpga_accel.Session(p)
    (p / "weights.npz").unlink()
    with pytest.raises(BundleError, match=r"missing \['weights.npz'\]"):
        fpga_accel.Session(p)


def _bad(tmp_path, kind):
    x = data.load_calib("mnist_cnn")
    f = tmp_path / "calib.npy"
    if kind == "shape":
        np.save(f, x[:, 0])
    elif kind == "strings":
        np.save(f, np.array([["a", "b"]] * 3))
    elif kind == "nan":
        x[3, 0, 5, 5] = np.nan
        np.save(f, x)
    elif kind == "inf":
        x[0, 0, 0, 0] = np.inf
        np.save(f, x)
    elif kind == "empty":
        np.save(f, x[:0])
    elif kind == "missing_key":
        f = tmp_path / "calib.npz"
        np.savez(f, image=x)
    elif kind == "nonexistent":
        f = tmp_path / "nowhere.npy"
    return f


@pytest.mark.parametrize("kind,words", [
    ("shape", ["input 'input'", "(200, 28, 28)", "'N', 1, 28, 28"]),
    ("strings", ["input 'input'", "dtype <U1"]),
    ("nan", ["input 'input'", "NaN/Inf", "sample 3"]),
    ("inf", ["input 'input'", "NaN/Inf", "sample 0"]),
    ("empty", ["input 'input'", "no samples"]),
    ("missing_key", ["['input']", "found keys ['image']"]),
    ("nonexistent", ["calibration file not found"]),
])
def test_bad_calibration_data_is_named_and_leaves_no_bundle(tmp_path, kind, words):
    f = _bad(tmp_path, kind)
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(InputError) as e:
        fpga_accel.compile(data.model_path("mnist_cnn"), tmp_path / "m.fpga", calib=f)
    msg = str(e.value)
    assert str(f) in msg
    for w in words:
        assert w in msg, msg
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no bundle, no staging directory


def test_calibration_is_required_and_a_failed_compile_keeps_the_old_bundle(bundles, tmp_path):
    import shutil

    p = tmp_path / "m.fpga"
    shutil.copytree(bundles["digits_cnn"].path, p)
    with pytest.raises(InputError, match="calibration data is required") as e:
        fpga_accel.compile(data.model_path("digits_cnn"), p)
    assert "'input' shaped (N, 1, 8, 8)" in str(e.value)
    with pytest.raises(InputError, match="input 'input' has shape"):
        fpga_accel.compile(data.model_path("digits_cnn"), p, calib=data.load_calib("mnist_cnn"))
    assert load_bundle(p).manifest == bundles["digits_cnn"].manifest
    assert sorted(x.name for x in tmp_path.iterdir()) == ["m.fpga"]


def test_bad_options_are_input_errors(tmp_path):
    cal = calib_file("digits_cnn")
    with pytest.raises(InputError, match="unknown board 'pynq-z3'.*pynq-z2"):
        fpga_accel.compile(data.model_path("digits_cnn"), tmp_path / "m.fpga", board="pynq-z3", calib=cal)
    with pytest.raises(InputError, match="bit width must be an integer from 2 to 16, got 1"):
        fpga_accel.compile(data.model_path("digits_cnn"), tmp_path / "m.fpga", calib=cal, bits=1)
    with pytest.raises(InputError, match="unknown observer 'median'"):
        fpga_accel.compile(data.model_path("digits_cnn"), tmp_path / "m.fpga", calib=cal, observer="median")
    with pytest.raises(InputError, match=r"layer\(s\) \['/9/Conv'\] that are not in the accelerated part"):
        fpga_accel.compile(data.model_path("digits_cnn"), tmp_path / "m.fpga", calib=cal,
                           config={"layers": {"/9/Conv": {"weight_bits": 4}}})
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="cannot write the bundle there"):
        fpga_accel.compile(data.model_path("digits_cnn"), tmp_path / "file" / "m.fpga", calib=cal)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_all_zero_weight_channel_warns_naming_the_layer_and_compiles(tmp_path):
    m = onnx.load(str(data.model_path("digits_cnn")))
    w = next(t for t in m.graph.initializer if list(t.dims) == [8, 1, 3, 3])
    a = numpy_helper.to_array(w).copy()
    a[2] = 0
    w.CopyFrom(numpy_helper.from_array(a, w.name))
    onnx.save(m, str(tmp_path / "zero.onnx"))
    with pytest.warns(QuantWarning, match=r"layer '/0/Conv': output channel\(s\) \[2\] are all zero"):
        b = fpga_accel.compile(tmp_path / "zero.onnx", tmp_path / "zero.fpga", calib=calib_file("digits_cnn"))
    x, _ = data.load_test("digits_cnn")
    import onnxruntime as ort

    sess = ort.InferenceSession(str(tmp_path / "zero.onnx"), providers=["CPUExecutionProvider"])
    ref = sess.run(None, {"input": x})[0]
    got = fpga_accel.Session(b).run(x)["logits"]
    assert np.mean(ref.argmax(1) == got.argmax(1)) >= 0.98


def test_config_file_with_4_bit_weights_on_one_layer(tmp_path):
    cfg = tmp_path / "q.json"
    cfg.write_text(json.dumps({"observer": "percentile", "percentile": 99.99,
                               "layers": {"/3/Conv": {"weight_bits": 4}}}))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing to warn about here
        b = fpga_accel.compile(data.model_path("digits_cnn"), tmp_path / "d.fpga", calib=calib_file("digits_cnn"),
                               config=cfg)
    m = b.manifest
    assert {r["name"]: r["weight_bits"] for r in m["layers"] if r["weight_bits"]} == \
        {"/0/Conv": 8, "/3/Conv": 4, "/8/Gemm": 8}
    q = m["quantization"]
    assert (q["observer"], q["observer_args"], q["layers"]) == \
        ("percentile", {"percentile": 99.99}, {"/3/Conv": {"weight_bits": 4}})
    qm = fpga_accel.load_qmodel(b)
    top = {lay.name: int(np.abs(lay.consts["weights"]).max()) for lay in qm.layers if "weights" in lay.consts}
    assert top == {"/0/Conv": 127, "/3/Conv": 7, "/8/Gemm": 127}  # narrow symmetric range, max channel hits it
    assert qm.layer("/3/Conv").config["weight_qtype"] == "int4"
    x, y = data.load_test("digits_cnn")
    assert np.mean(fpga_accel.Session(b).run(x)["logits"].argmax(1) == y) >= 0.95
    # the keyword arguments override the file
    b8 = fpga_accel.compile(data.model_path("digits_cnn"), tmp_path / "d8.fpga", calib=calib_file("digits_cnn"),
                            config=cfg, observer="minmax", bits=6)
    assert (b8.manifest["quantization"]["observer"], b8.manifest["quantization"]["bits"]) == ("minmax", 6)
    assert {r["name"]: r["weight_bits"] for r in b8.manifest["layers"] if r["weight_bits"]}["/0/Conv"] == 6


def test_import_fpga_accel_needs_no_onnx():
    code = ("import sys, fpga_accel; fpga_accel.Session; fpga_accel.load_qmodel; import fpga_accel.runtime; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('onnx', 'onnxruntime')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("graph_name,stem", [("net", "net"), ("../../x", "_.._x"), (".hidden", "hidden"),
                                             ("a\nb", "a_b"), ("", "model")])
def test_default_output_name_of_an_in_memory_model_is_a_plain_file_stem(tmp_path, monkeypatch, graph_name, stem):
    import onnx

    monkeypatch.chdir(tmp_path)
    proto = onnx.load(data.model_path("digits_cnn"))
    proto.graph.name = graph_name
    b = fpga_accel.compile(proto, calib=calib_file("digits_cnn"), generators=[])
    assert b.path == Path(f"{stem}.fpga") and list(tmp_path.iterdir()) == [tmp_path / f"{stem}.fpga"]
