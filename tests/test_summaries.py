"""What compile, report and the HTML page say about a bundle agrees with itself and with the model:
one MAC count, the real bit widths, where the scales came from, shapes written one way."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import fpga_accel
from fpga_accel.cli import main
from fpga_accel.quant.summary import bits_text
from models import data

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"


def cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    return out


def gap_model() -> onnx.ModelProto:
    """Conv 3->8 (3x3, pad 1) -> Relu -> Conv 8->8 -> Add (residual) -> GlobalAveragePool -> Flatten -> Gemm 8->4."""
    r = np.random.default_rng(0)
    init = lambda name, *shape: numpy_helper.from_array((r.standard_normal(shape) * 0.3).astype(np.float32), name)
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
             helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], name="conv2", pads=[1, 1, 1, 1]),
             helper.make_node("Add", ["c2", "r1"], ["s"], name="add"),
             helper.make_node("GlobalAveragePool", ["s"], ["p"], name="gap"),
             helper.make_node("Flatten", ["p"], ["f"], name="flatten"),
             helper.make_node("Gemm", ["f", "w3", "b3"], ["y"], name="fc", transB=1)]
    g = helper.make_graph(nodes, "gap_net", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 8, 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])],
                          [init("w1", 8, 3, 3, 3), init("b1", 8), init("w2", 8, 8, 3, 3), init("b2", 8),
                           init("w3", 4, 8), init("b3", 4)])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


@pytest.fixture(scope="module")
def gap(tmp_path_factory):
    d = tmp_path_factory.mktemp("gap")
    onnx.save(gap_model(), d / "gap.onnx")
    np.save(d / "calib.npy", np.random.default_rng(1).standard_normal((32, 3, 8, 8)).astype(np.float32))
    return d


def table_total(out: str, first: str) -> int:
    line = next(ln for ln in out.splitlines() if ln.startswith(first))
    return int(next(w for w in line.split()[1:] if re.fullmatch(r"[\d,]+", w) and "," in w).replace(",", ""))


def test_one_mac_count_in_compile_report_and_html_with_a_global_average_pool(gap, capsys):
    out = cli(capsys, "compile", gap / "gap.onnx", "--calib", gap / "calib.npy", "-o", gap / "gap.fpga")
    m = fpga_accel.load_bundle(gap / "gap.fpga").manifest
    rows = {r["name"]: r["macs"] for r in m["layers"]}
    # the layers' own counts, from the shapes: conv 8*8*8*27 and 8*8*8*72, the pool one per input, fc 8*4
    assert (rows["conv1"], rows["conv2"], rows["gap"], rows["fc"]) == (8 * 8 * 8 * 27, 8 * 8 * 8 * 72, 8 * 8 * 8, 32)
    want = sum(rows.values())
    assert table_total(out, f"{len(rows)} layers") == want
    report = cli(capsys, "report", gap / "gap.fpga", "--html", gap / "r.html")
    assert table_total(report, "total (estimate)") == want == m["fold"]["macs_per_image"]
    html = (gap / "r.html").read_text()
    assert re.search(rf"<tr class=total><td>total</td><td></td><td></td><td class=n>{want:,}</td>", html)
    refold = cli(capsys, "report", gap / "gap.fpga", "--board", "zcu104")
    assert table_total(refold, "total (estimate)") == want


def test_html_shapes_are_written_as_in_the_terminal(gap, capsys):
    if not (gap / "gap.fpga").exists():
        cli(capsys, "compile", gap / "gap.onnx", "--calib", gap / "calib.npy", "-o", gap / "gap.fpga")
    report = cli(capsys, "report", gap / "gap.fpga", "--html", gap / "s.html")
    html = (gap / "s.html").read_text()
    m = fpga_accel.load_bundle(gap / "gap.fpga").manifest
    for r in m["layers"]:
        text = "[" + ", ".join(str(d) for d in r["output_shape"]) + "]"  # as the terminal table shows it
        row = next(ln for ln in report.splitlines() if ln.split()[:1] == [r["name"]])
        assert text in row and f"<td>{text}</td>" in html
    assert "'N'" not in html and "[N, 1, 1, 8]" in html


def test_bits_text():
    assert bits_text([8, 8]) == "8-bit" and bits_text([2, 8, 4]) == "mixed 2–8-bit" and bits_text([]) == "no"


def test_per_layer_bits_are_summarised_as_mixed(tmp_path, capsys):
    layers = {"/0/Conv": {"weight_bits": 6}, "/4/Conv": {"weight_bits": 4}}
    cfg = tmp_path / "q.json"
    cfg.write_text('{"layers": {"/0/Conv": {"weight_bits": 6}, "/4/Conv": {"weight_bits": 4}}}')
    out = cli(capsys, "compile", data.model_path("mnist_cnn"), "--calib", data.HERE / "mnist_cnn" / "calib.npz",
              "--config", cfg, "-o", tmp_path / "m.fpga")
    lo, hi = min(v["weight_bits"] for v in layers.values()), 8  # the Gemm keeps the default 8
    line = next(ln for ln in out.splitlines() if ln.startswith("quantisation"))
    assert f"mixed {lo}–{hi}-bit weights, 8-bit activations, minmax observer over 200 calibration samples" in line


def qonnx_weight_bits(model: onnx.ModelProto) -> set[int]:
    consts = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    return {int(consts[n.input[3]]) for n in model.graph.node if n.op_type == "Quant" and n.input[0] in consts}


def test_qonnx_summary_states_the_model_bits_and_its_own_quantisation(tmp_path, capsys):
    path = CORPUS / "models" / "qonnx" / "TFC_2W2A.onnx"
    if not path.exists():
        pytest.skip(f"test corpus not found at {path}")
    wbits = qonnx_weight_bits(onnx.load(path))
    assert len(wbits) == 1
    out = cli(capsys, "compile", path, "-o", tmp_path / "tfc.fpga")
    m = fpga_accel.load_bundle(tmp_path / "tfc.fpga").manifest
    acts = [r["act_bits"] for r in m["layers"]]
    assert min(acts) == 2 < max(acts)  # the last MatMul's output has no Quant: the default width
    line = next(ln for ln in out.splitlines() if ln.startswith("quantisation"))
    assert line.split(None, 1)[1] == (f"{wbits.pop()}-bit weights, mixed 2–{max(acts)}-bit activations, "
                                      "the model's own quantisation (QDQ / QONNX), no calibration")


def test_qdq_summary_says_the_model_quantisation_is_used(tmp_path, capsys):
    out = cli(capsys, "compile", data.model_path("mnist_cnn_qdq"), "-o", tmp_path / "q.fpga")
    line = next(ln for ln in out.splitlines() if ln.startswith("quantisation"))
    assert "the model's own quantisation (QDQ / QONNX), no calibration" in line
    assert "observer" not in line and "0 calibration samples" not in line


def gap_bundle(gap, capsys) -> Path:
    if not (gap / "gap.fpga").exists():
        cli(capsys, "compile", gap / "gap.onnx", "--calib", gap / "calib.npy", "-o", gap / "gap.fpga")
    return gap / "gap.fpga"


def test_run_shows_the_backend_calls_a_batch_size_makes(gap, capsys):
    b = gap_bundle(gap, capsys)
    np.save(gap / "x8.npy", np.random.default_rng(2).standard_normal((8, 3, 8, 8)).astype(np.float32))
    for size, calls, largest in ((4, 2, 4), (3, 3, 3), (None, 1, 8)):
        out = cli(capsys, "run", b, "--input", gap / "x8.npy", *(["--batch-size", size] if size else []))
        assert f"backend emulator: 1 run(s), 8 image(s) in {calls} backend call(s) of ≤{largest} image(s), " in out


def test_run_refuses_integers_for_a_float_input(gap, capsys):
    b = gap_bundle(gap, capsys)
    np.save(gap / "u8.npy", np.random.default_rng(3).integers(0, 255, (2, 3, 8, 8)).astype(np.uint8))
    assert main(["run", str(b), "--input", str(gap / "u8.npy")]) == 2
    err = capsys.readouterr().err
    assert "input 'x' has dtype uint8, but the model takes float32" in err and "--raw" in err


def test_bundle_repr_is_short_and_names_the_bundle(gap, capsys):
    b = fpga_accel.load_bundle(gap_bundle(gap, capsys))
    m = b.manifest
    assert repr(b) == (f"Bundle({str(b.path)!r}, model={m['model']['name']!r}, board={m['board']['name']!r}, "
                       f"format_version={m['format_version']!r}, files={len(m['files'])})")
    assert len(repr(b)) < 200 < len(repr(m))
