"""The `fpga-accel` command: output of `ops` and `inspect`, exit codes, and no traceback unless --debug."""
import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest
from onnx import TensorProto as TP
from onnx import helper, numpy_helper, save

import fpga_accel.cli._output as output
from fpga_accel.cli import main
from fpga_accel.cli.inspect import parse_input_shapes
from fpga_accel.cli.ops import markdown, op_rows
from fpga_accel.errors import InputError
from fpga_accel.ops import all_ops

ROOT = pathlib.Path(__file__).resolve().parents[1]
vi = helper.make_tensor_value_info


@pytest.fixture(params=["rich", "plain"])
def table_style(request, monkeypatch):
    """Run a test with rich tables and with the plain-text fallback used when rich is absent."""
    if request.param == "plain":
        monkeypatch.setattr(output, "rich_available", lambda: False)
    elif not output.rich_available():
        pytest.skip("rich is not installed")
    return request.param


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def save_model(path, nodes, inputs, outputs, weights=(), domains=()):
    g = helper.make_graph(nodes, "cli", inputs, outputs, [numpy_helper.from_array(w, n) for n, w in weights])
    opsets = [helper.make_opsetid("", 13)] + [helper.make_opsetid(d, 1) for d in domains]
    m = helper.make_model(g, opset_imports=opsets)
    m.ir_version = 8
    save(m, str(path))
    return str(path)


# --- ops ------------------------------------------------------------------------------------
def test_ops_lists_every_registered_op(capsys, table_style):
    code, out, err = run(capsys, "ops")
    assert code == 0 and err == ""
    lines = out.splitlines()
    for op in all_ops():
        row = next((ln for ln in lines if ln.split()[:1] == [op.op_type]), None)
        assert row is not None, f"{op.op_type} missing from `fpga-accel ops`"
        assert {"hardware": "hardware", "host": "host", "removed": "removed by passes"}[op.placement] in row
    n = len(all_ops())
    assert f"{n} ops: " in lines[-1]


def test_ops_rows_hide_compiler_attributes():
    rows = {r[0]: r for r in op_rows()}
    assert rows["Conv"][1:4] == ["ai.onnx", "hardware", "auto_pad, dilations, group, kernel_shape, pads, strides"]
    assert "clip" not in rows["Gemm"][3] and "layout" not in rows["Conv"][3]


def test_docs_ops_md_is_generated_from_the_registry(capsys):
    code, out, _ = run(capsys, "ops", "--markdown")
    assert code == 0
    assert out == markdown(op_rows())
    doc = (ROOT / "docs" / "ops.md").read_text(encoding="utf-8")
    assert doc == out, "docs/ops.md is out of date: regenerate it with `fpga-accel ops --markdown > docs/ops.md`"
    table = [ln for ln in out.splitlines() if ln.startswith("| ") and not ln.startswith("| op ")]
    assert len(table) == len(all_ops())


# --- inspect ------------------------------------------------------------------------------------
def test_inspect_corpus_model(capsys, corpus, table_style):
    """atmega_mnist: Conv(1→20, 5×5, stride 2) → Relu → Conv(20→12, 3×3) → Reshape → Gemm(108→10)."""
    path = corpus / "models/onnx2c/atmega_mnist/mnist.simplified.onnx"
    code, out, err = run(capsys, "inspect", str(path))
    assert code == 0 and err == ""
    assert f"model     {path}" in out
    assert "producer  pytorch 1.7" in out and "opset     9" in out
    assert "input     network_input  float32  [1, 1, 14, 14]" in out
    assert "output    network_output  float32  [1, 10]" in out
    rows = {ln.split()[1]: ln.split() for ln in out.splitlines()
            if ln.split()[:1] and ln.split()[0].isdigit() and ln.split()[1] != "nodes"}
    assert list(rows) == ["Conv_3", "Relu_4", "Conv_5", "Reshape_8", "Gemm_9"]
    # MACs: 20·5·5 outputs × 1·5·5 taps; 12·3·3 × 20·3·3; 10 × 108
    assert rows["Conv_3"][2:6] == ["Conv", "[1,", "20,", "5,"] and "12,500" in rows["Conv_3"]
    assert "19,440" in rows["Conv_5"] and "2,160" in rows["Conv_5"]
    assert "1,080" in rows["Gemm_9"] and "1,090" in rows["Gemm_9"]
    assert all(r[-1] == "hardware" for r in rows.values())
    assert "33,020" in out and "5 hardware, 0 host" in out


def test_inspect_symbolic_batch_and_host_tail(capsys, tmp_path, table_style):
    path = save_model(tmp_path / "mlp.onnx",
                      [helper.make_node("Gemm", ["x", "w"], ["z"], name="fc", transB=1),
                       helper.make_node("Softmax", ["z"], ["y"], name="probs")],
                      [vi("x", TP.FLOAT, ["batch", 6])], [vi("y", TP.FLOAT, ["batch", 3])],
                      [("w", np.ones((3, 6), np.float32))])
    code, out, _ = run(capsys, "inspect", path)
    assert code == 0
    assert "batch     batch (symbolic)" in out
    assert "input     x  float32  [batch, 6]" in out
    probs = next(ln for ln in out.splitlines() if " probs " in ln)
    assert probs.split()[-1] == "host"
    assert "host after the accelerator: probs (Softmax)" in out
    assert "problem" not in out


def test_inspect_reports_a_host_op_that_splits(capsys, tmp_path):
    path = save_model(tmp_path / "split.onnx",
                      [helper.make_node("Gemm", ["x", "w1"], ["h"], name="fc1"),
                       helper.make_node("Softmax", ["h"], ["s"], name="middle"),
                       helper.make_node("Gemm", ["s", "w2"], ["y"], name="fc2")],
                      [vi("x", TP.FLOAT, ["N", 4])], [vi("y", TP.FLOAT, ["N", 2])],
                      [("w1", np.ones((4, 3), np.float32)), ("w2", np.ones((3, 2), np.float32))])
    code, out, _ = run(capsys, "inspect", path)
    assert code == 0  # no problem: compile runs it on the host between segments
    assert "host: between segments" in next(ln for ln in out.splitlines() if " middle " in ln)
    assert "host between hardware nodes: middle (Softmax); they split the accelerated part into segments" in out
    assert "problem" not in out


def test_inspect_input_shape_resolves_dynamic_dims(capsys, tmp_path):
    path = save_model(tmp_path / "dyn.onnx", [helper.make_node("Relu", ["img"], ["y"], name="act")],
                      [vi("img", TP.FLOAT, ["N", 3, "H", "W"])], [vi("y", TP.FLOAT, ["N", 3, "H", "W"])])
    code, _, err = run(capsys, "inspect", path)
    assert code == 2
    assert "--input-shape img=1,..." in err
    code, out, _ = run(capsys, "inspect", path, "--input-shape", "img=1,3,32,24")
    assert code == 0 and "input     img  float32  [N, 3, 32, 24]" in out


def test_parse_input_shapes():
    assert parse_input_shapes(["a=1,3,32,32", "b=1x8"]) == {"a": (1, 3, 32, 32), "b": (1, 8)}
    for bad in ["a", "a=", "=1,2", "a=1,two", "a=1,0"]:
        with pytest.raises(InputError, match="is not NAME=D0,D1,..."):
            parse_input_shapes([bad])
    with pytest.raises(InputError, match="gives input 'a' twice"):
        parse_input_shapes(["a=1", "a=2"])


# --- errors and exit codes ------------------------------------------------------------------------
def test_unsupported_model_exits_2_with_the_list(capsys, tmp_path):
    path = save_model(tmp_path / "bad.onnx",
                      [helper.make_node("LSTM", ["seq", "W", "R"], ["l"], name="lstm", hidden_size=2),
                       helper.make_node("Frobnicate", ["x"], ["y"], name="frob", domain="com.example")],
                      [vi("seq", TP.FLOAT, [2, 1, 3]), vi("x", TP.FLOAT, [1, 3])],
                      [vi("l", TP.FLOAT, None), vi("y", TP.FLOAT, None)],
                      [("W", np.ones((1, 8, 3), np.float32)), ("R", np.ones((1, 8, 2), np.float32))],
                      domains=["com.example"])
    code, out, err = run(capsys, "inspect", path)
    assert code == 2 and out == ""
    assert err.splitlines() == [
        f"error: {path}: 2 unsupported node(s):",
        "  - node 'lstm' (LSTM): op is not supported",
        "  - node 'frob' (Frobnicate): op is not supported in domain 'com.example'",
        "Run `fpga-accel ops` for the supported ops and attributes.",
    ]


def test_missing_file_exits_2(capsys, tmp_path):
    code, out, err = run(capsys, "inspect", str(tmp_path / "none.onnx"))
    assert code == 2 and out == ""
    assert err == f"error: {tmp_path / 'none.onnx'}: no such model file\n"


def test_usage_errors_exit_2(capsys):
    assert run(capsys, "inspect")[0] == 2  # argparse: model missing
    assert run(capsys, "no-such-command")[0] == 2
    code, _, err = run(capsys)
    assert code == 2 and "usage: fpga-accel" in err
    assert run(capsys, "inspect", "m.onnx", "--flow", "nonsense")[0] == 2


def test_help_and_version_exit_0(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0 and "inspect" in out and "ops" in out
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.startswith("fpga-accel ")


def test_internal_error_exits_70_without_traceback(capsys, monkeypatch):
    def boom():
        raise ValueError("registry exploded")

    monkeypatch.setattr("fpga_accel.cli.ops.op_rows", boom)
    code, _, err = run(capsys, "ops")
    assert code == 70
    assert err.startswith("internal error: ValueError: registry exploded.")
    assert "--debug" in err and err.count("\n") == 1  # one paragraph


def test_debug_shows_the_traceback(capsys, monkeypatch):
    def boom():
        raise ValueError("registry exploded")

    monkeypatch.setattr("fpga_accel.cli.ops.op_rows", boom)
    for argv in (["--debug", "ops"], ["ops", "--debug"]):
        assert main(argv) == 70
        err = capsys.readouterr().err
        assert "Traceback (most recent call last)" in err and "registry exploded" in err


def test_keyboard_interrupt_exits_130(capsys, monkeypatch):
    def interrupted():
        raise KeyboardInterrupt

    monkeypatch.setattr("fpga_accel.cli.ops.op_rows", interrupted)
    code, _, err = run(capsys, "ops")
    assert code == 130 and err == "interrupted\n"


def test_missing_optional_package_names_the_extra(capsys, monkeypatch):
    def no_onnx(*a, **k):
        raise ModuleNotFoundError("No module named 'onnx'", name="onnx")

    monkeypatch.setattr("fpga_accel.frontend.import_onnx", no_onnx)
    code, _, err = run(capsys, "inspect", "m.onnx")
    assert code == 2
    assert "needs the Python package 'onnx'" in err and "pip install 'fpga-accel[compile]'" in err


# --- the installed console script ---------------------------------------------------------------
def test_console_script(tmp_path):
    exe = shutil.which("fpga-accel")
    if exe is None:
        pytest.skip("the fpga-accel console script is not installed (pip install -e .)")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    ok = subprocess.run([exe, "ops"], capture_output=True, text=True, env=env, timeout=120, check=False)
    assert ok.returncode == 0 and "Conv" in ok.stdout and "Traceback" not in ok.stderr
    missing = subprocess.run([exe, "inspect", str(tmp_path / "x.onnx")], capture_output=True, text=True,
                             env=env, timeout=120, check=False)
    assert missing.returncode == 2
    assert missing.stderr == f"error: {tmp_path / 'x.onnx'}: no such model file\n"


def test_python_dash_m(tmp_path):
    res = subprocess.run([sys.executable, "-m", "fpga_accel.cli", "inspect", str(tmp_path / "x.onnx")],
                         capture_output=True, text=True, cwd=ROOT, timeout=120, check=False)
    assert res.returncode == 2 and "no such model file" in res.stderr and "Traceback" not in res.stderr
