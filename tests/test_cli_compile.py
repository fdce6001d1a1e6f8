"""`fpga-accel compile`, `run` and `check` through `main([...])`: exit codes and the key lines."""
import re
import shutil

import numpy as np
import pytest

import fpga_accel
from fpga_accel.cli import main
from fpga_accel.quant import quantize
from models import data

MNIST = str(data.model_path("mnist_cnn"))
CALIB = str(data.HERE / "mnist_cnn" / "calib.npz")


def cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """A compiled mnist_cnn bundle and the test split saved as files."""
    d = tmp_path_factory.mktemp("cli")
    x, y = data.load_test("mnist_cnn")
    np.save(d / "x.npy", x)
    np.save(d / "y.npy", y)
    assert main(["compile", MNIST, "-o", str(d / "mnist.fpga"), "--calib", CALIB]) == 0
    return d


def test_compile_prints_the_layers_and_where_the_bundle_is(tmp_path, capsys):
    code, out, err = cli(capsys, "compile", MNIST, "-o", tmp_path / "m.fpga", "--calib", CALIB,
                         "--observer", "percentile", "--bits", "7")
    assert code == 0 and err == ""
    lines = out.splitlines()
    conv = next(ln for ln in lines if ln.split()[:2] == ["/0/Conv", "Conv"])
    m = fpga_accel.load_bundle(tmp_path / "m.fpga").manifest
    assert conv.split()[-3:] == ["7", "7", str(m["layers"][0]["acc_bits"])]  # weight, activation, accumulator bits
    assert any(ln.split()[:3] == ["6", "layers", "290,080"] for ln in lines)
    assert re.search(r"^hardware input +input_nhwc +\[N, 28, 28, 1\] NHWC +uint7", out, re.MULTILINE)
    assert re.search(r"^host before +/0/Conv_to_nhwc \(Reshape\)$", out, re.MULTILINE)
    assert "7-bit weights, 7-bit activations, percentile observer over 200 calibration samples" in out
    assert "pynq-z2 at 100 MHz (default clock)" in out
    n_files = sum(1 for p in (tmp_path / "m.fpga").rglob("*") if p.is_file())
    assert re.search(rf"^bundle +{re.escape(str(tmp_path / 'm.fpga'))} \({n_files} files", out, re.MULTILINE)
    assert (tmp_path / "m.fpga" / "hls" / "run_hls.tcl").is_file()
    assert (tmp_path / "m.fpga" / "opencl" / "fa_kernel.cl").is_file()
    assert (tmp_path / "m.fpga" / "scripts" / "vivado_bd.tcl").is_file()
    assert (m["quantization"]["bits"], m["quantization"]["observer"]) == (7, "percentile")


def test_compile_config_and_input_shape_options(tmp_path, capsys):
    cfg = tmp_path / "q.json"
    cfg.write_text('{"layers": {"/9/Gemm": {"weight_bits": 4}}}')
    code, out, _ = cli(capsys, "compile", MNIST, "-o", tmp_path / "m.fpga", "--calib", CALIB, "--config", cfg,
                       "--input-shape", "input=1,1,28,28", "--board", "zcu104")
    assert code == 0
    gemm = next(ln for ln in out.splitlines() if ln.startswith("/9/Gemm"))
    assert gemm.split()[-3] == "4" and "1 layer override(s)" in out and "zcu104" in out


@pytest.mark.parametrize("args,words", [
    ([], ["calibration data is required", "--calib FILE", "'input' shaped (N, 1, 28, 28)"]),
    (["--calib", "nowhere.npy"], ["nowhere.npy: calibration file not found"]),
    (["--calib", "bad.npy"], ["bad.npy: input 'input' contains 1 NaN/Inf"]),
    (["--calib", CALIB, "--bits", "1"], ["bit width must be an integer from 2 to 16, got 1"]),
    (["--calib", CALIB, "--config", "nowhere.json"], ["nowhere.json: cannot read config"]),
])
def test_compile_errors_exit_2_and_write_nothing(tmp_path, capsys, monkeypatch, args, words):
    monkeypatch.chdir(tmp_path)
    x = data.load_calib("mnist_cnn")[:3]
    x[1, 0, 0, 0] = np.nan
    np.save("bad.npy", x)
    code, out, err = cli(capsys, "compile", MNIST, "-o", "m.fpga", *args)
    assert code == 2 and out == ""
    for w in words:
        assert w in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.npy"]


def test_run_saves_what_the_session_computes(work, tmp_path, capsys):
    code, out, err = cli(capsys, "run", work / "mnist.fpga", "--input", work / "x.npy", "-o", tmp_path / "y.npy",
                         "--batch-size", "128")
    assert code == 0 and err == ""
    y = np.load(tmp_path / "y.npy")
    x = np.load(work / "x.npy")
    ref = fpga_accel.Session(work / "mnist.fpga").run(x)["logits"]
    np.testing.assert_array_equal(y, ref)
    assert "output logits  float32 [1000, 10]  top-1 of the first 10: " + " ".join(map(str, ref.argmax(1)[:10])) in out
    assert "backend emulator: 1 run(s), 1000 image(s)" in out and f"saved to {tmp_path / 'y.npy'}" in out
    # .npz in and out, keyed by name
    np.savez(tmp_path / "x.npz", input=x[:5])
    assert cli(capsys, "run", work / "mnist.fpga", "--input", tmp_path / "x.npz", "-o", tmp_path / "y.npz")[0] == 0
    with np.load(tmp_path / "y.npz") as z:
        assert z.files == ["logits"]
        np.testing.assert_array_equal(z["logits"], ref[:5])


def test_run_raw(work, tmp_path, capsys):
    s = fpga_accel.Session(work / "mnist.fpga")
    t = s.qmodel.inputs[0]
    x = np.load(work / "x.npy")[:20]
    q = quantize(x.reshape(20, 28, 28, 1), t.qparams)
    np.savez(tmp_path / "q.npz", **{t.name: q})
    code, out, _ = cli(capsys, "run", work / "mnist.fpga", "--input", tmp_path / "q.npz", "--raw",
                       "-o", tmp_path / "r.npy")
    assert code == 0 and "output logits  int8 [20, 10]" in out
    np.testing.assert_array_equal(np.load(tmp_path / "r.npy"), s.run(q, raw=True)["logits"])


@pytest.mark.parametrize("make,args,words", [
    (lambda d: d / "x.npy", ["-o", "y.txt"], ["y.txt: the output file must end in .npy"]),
    (lambda d: d / "x.npy", ["-o", "nodir/y.npy"], ["y.npy: cannot write the outputs (No such file"]),
    (lambda d: d / "nowhere.npy", [], ["nowhere.npy: input file not found"]),
    (lambda d: d / "x.npz", [], ["x.npz: no array for input(s) ['input']; found keys ['image']"]),
    (lambda d: d / "x5.npy", [], ["x5.npy: input 'input' has shape (2, 5)"]),
    (lambda d: d / "x.npy", ["--backend", "fpga"], ["invalid choice: 'fpga'"]),
])
def test_run_errors_exit_2(work, tmp_path, capsys, make, args, words):
    np.save(tmp_path / "x.npy", np.load(work / "x.npy")[:2])
    np.savez(tmp_path / "x.npz", image=np.zeros((2, 1, 28, 28), np.float32))
    np.save(tmp_path / "x5.npy", np.zeros((2, 5), np.float32))
    code, _, err = cli(capsys, "run", work / "mnist.fpga", "--input", make(tmp_path),
                         *[str(tmp_path / a) if a.endswith((".txt", ".npy")) else a for a in args])
    assert code == 2
    for w in words:
        assert w in err


def test_run_refuses_a_tampered_bundle(work, tmp_path, capsys):
    p = tmp_path / "t.fpga"
    shutil.copytree(work / "mnist.fpga", p)
    with open(p / "weights.npz", "r+b") as f:
        f.seek(200)
        b = f.read(1)
        f.seek(200)
        f.write(bytes([b[0] ^ 0xFF]))
    code, _, err = cli(capsys, "run", p, "--input", work / "x.npy")
    assert code == 2 and "modified ['weights.npz']" in err and "recompile" in err


def test_check_agreement_and_accuracy_on_mnist(work, capsys):
    code, out, err = cli(capsys, "check", work / "mnist.fpga", "--input", work / "x.npy", "--labels", work / "y.npy",
                         "--min-agreement", "99")
    assert code == 0 and err == ""
    assert f"model     {MNIST} (sha256 " in out and "verified" in out
    m = re.search(r"^agreement logits: ([\d.]+)% of top-1 predictions match \((\d+)/1000\)$", out, re.MULTILINE)
    assert m and float(m.group(1)) >= 99.0 and int(m.group(2)) >= 990
    row = next(ln for ln in out.splitlines() if ln.startswith("logits "))
    sqnr = float(row.split()[-1])
    assert sqnr > 20  # int8 logits: ~33 dB on this model
    acc = re.search(r"^accuracy  logits: float \(onnxruntime\) ([\d.]+)%, accelerator \(emulator\) ([\d.]+)% "
                    r"on 1000 labelled samples$", out, re.MULTILINE)
    assert acc and float(acc.group(1)) == pytest.approx(data.info("mnist_cnn")["test_accuracy"])
    assert float(acc.group(2)) >= float(acc.group(1)) - 1.0


def test_check_refuses_a_different_model_and_reports_low_agreement(work, tmp_path, capsys):
    code, _, err = cli(capsys, "check", work / "mnist.fpga", "--input", work / "x.npy",
                       "--model", data.model_path("resnet_ds"))
    assert code == 2 and "is not that of the model this bundle was compiled from" in err
    code, out, _ = cli(capsys, "check", work / "mnist.fpga", "--input", work / "x.npy", "--min-agreement", "100.5")
    assert code == 1 and "FAIL: top-1 agreement of ['logits'] below 100.5%" in out
    code, _, err = cli(capsys, "check", work / "mnist.fpga", "--input", work / "x.npy", "--labels", work / "x.npy")
    assert code == 2 and "labels must be integers of shape (1000,)" in err


def test_check_finds_a_moved_source_only_through_model(tmp_path, capsys):
    src = tmp_path / "net.onnx"
    shutil.copy(MNIST, src)
    x = data.load_test("mnist_cnn")[0][:50]
    np.save(tmp_path / "x.npy", x)
    assert cli(capsys, "compile", src, "-o", tmp_path / "n.fpga", "--calib", CALIB)[0] == 0
    moved = tmp_path / "moved.onnx"
    src.rename(moved)
    code, _, err = cli(capsys, "check", tmp_path / "n.fpga", "--input", tmp_path / "x.npy")
    assert code == 2 and f"{src}: float model not found" in err and "pass --model" in err
    code, out, _ = cli(capsys, "check", tmp_path / "n.fpga", "--input", tmp_path / "x.npy", "--model", moved)
    assert code == 0 and re.search(r"^agreement logits: [\d.]+% .*\(\d+/50\)$", out, re.MULTILINE)


def test_commands_are_listed_in_help(capsys):
    code, out, _ = cli(capsys, "--help")
    assert code == 0
    for name in ("compile", "run", "check"):
        assert re.search(rf"^\s+{name}\s+\S", out, re.MULTILINE), name
