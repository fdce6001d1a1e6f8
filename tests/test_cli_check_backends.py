"""`fpga-accel check` compares every backend with the emulator; `run --backend` and `--timeout`."""
import re

import numpy as np
import pytest

import fpga_accel
from fpga_accel import runtime
from fpga_accel.cli import main
from fpga_accel.runtime import session as session_mod
from fpga_accel.runtime.backends.base import Backend
from fpga_accel.runtime.backends.emulator import EmulatorBackend
from models import data


def cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    d = tmp_path_factory.mktemp("check")
    x, y = data.load_test("mnist_cnn")
    np.save(d / "x.npy", x[:200])
    np.save(d / "y.npy", y[:200])
    fpga_accel.compile(data.model_path("mnist_cnn"), d / "m.fpga", calib=data.load_calib("mnist_cnn"),
                       progress=False)
    return d


class OffByOne(EmulatorBackend):
    """A faulty accelerator: the emulator's integers, the first output nudged by one."""
    name = "offbyone"

    def run_raw(self, q_inputs):
        out = super().run_raw(q_inputs)
        t = self.qmodel.outputs[0]
        y = out[t.name].astype(np.int32)
        y[:, 0] = np.where(y[:, 0] < t.qparams.qtype.max, y[:, 0] + 1, y[:, 0] - 1)
        out[t.name] = y.astype(out[t.name].dtype)
        return out


class Absent(Backend):
    name = "absent"

    @classmethod
    def unavailable(cls, bundle):
        return "its vendor package is not installed"


class Crashes(Backend):
    name = "crashes"

    def run_raw(self, q_inputs):
        from fpga_accel.runtime import SessionError

        raise SessionError("DMA transfer failed\nsecond line")


@pytest.fixture
def fakes(monkeypatch):
    table = {"emulator": EmulatorBackend, "offbyone": OffByOne, "absent": Absent, "crashes": Crashes}
    monkeypatch.setattr(runtime, "backend_names", lambda: sorted(table))
    monkeypatch.setattr(runtime, "get_backend", lambda name: table[name])
    monkeypatch.setattr(session_mod, "get_backend", lambda name: table[name])
    from fpga_accel.runtime import backends

    monkeypatch.setattr(backends, "backend_names", lambda: sorted(table))
    return table


def _row(out: str, name: str) -> list[str]:
    return next(ln for ln in out.splitlines() if ln.startswith(name + " ")).split()


def test_check_compares_every_backend_with_the_emulator(work, capsys, fakes):
    code, out, err = cli(capsys, "check", work / "m.fpga", "--input", work / "x.npy", "--labels", work / "y.npy")
    assert code == 1 and err == ""
    assert _row(out, "emulator")[1:5] == ["bit-exact", "0", "of", "2,000"]
    # off by one in the first logit of every image: 200 of 2,000 integers differ
    assert _row(out, "offbyone")[1:5] == ["DIFFERS", "200", "of", "2,000"]
    assert _row(out, "absent")[1:4] == ["skipped", "(cannot", "run"]
    assert "skipped absent: its vendor package is not installed" in out
    assert _row(out, "crashes")[1] == "ERROR"
    assert "FAIL: backend crashes failed: DMA transfer failed" in out and "second line" not in out
    assert "FAIL: backend offbyone differs from the emulator in 200 of 2,000 hardware output integers" in out
    # the float table: one row per output and backend that ran
    rows = [ln.split() for ln in out.splitlines() if ln.startswith("logits ")]
    assert [r[1] for r in rows] == ["emulator", "offbyone"]
    assert float(rows[0][-1]) > 20 and float(rows[1][-1]) != float(rows[0][-1])
    assert re.search(r"^agreement logits: [\d.]+% of top-1 predictions match \(\d+/200\)$", out, re.MULTILINE)
    assert re.search(r"^agreement logits \[offbyone\]: ", out, re.MULTILINE)
    assert re.search(r"^accuracy  logits: float \(onnxruntime\) [\d.]+%, accelerator \(offbyone\) [\d.]+% on 200 "
                     r"labelled samples$", out, re.MULTILINE)


def test_check_backend_selection(work, capsys, fakes):
    code, out, _ = cli(capsys, "check", work / "m.fpga", "--input", work / "x.npy", "--backend", "absent")
    assert code == 0
    names = [ln.split()[0] for ln in out.splitlines() if ln.split() and ln.split()[0] in fakes]
    assert names == ["emulator", "absent"]
    code, _, err = cli(capsys, "check", work / "m.fpga", "--input", work / "x.npy", "--backend", "fpga")
    assert code == 2 and "invalid choice: 'fpga'" in err


def test_run_timeout_option(work, capsys):
    code, out, _ = cli(capsys, "run", work / "m.fpga", "--input", work / "x.npy", "--timeout", "600",
                       "--batch-size", "64")
    assert code == 0 and "backend emulator: 1 run(s), 200 image(s)" in out
    code, _, err = cli(capsys, "run", work / "m.fpga", "--input", work / "x.npy", "--timeout", "0")
    assert code == 2 and "timeout must be a positive number of seconds" in err


@pytest.mark.corpus
def test_check_a_qonnx_model_onnxruntime_cannot_load_uses_the_float_reference(tmp_path, capsys):
    from conftest import CORPUS

    model = CORPUS / "models" / "qonnx" / "TFC_2W2A.onnx"
    if not model.is_file():
        pytest.skip(f"{model} is absent")
    mnist = np.load(CORPUS / "data" / "mnist_5k.npz")
    np.save(tmp_path / "x.npy", (mnist["X"][:100, None] / 255.0).astype(np.float32))
    np.save(tmp_path / "y.npy", mnist["y"][:100])
    fpga_accel.compile(model, tmp_path / "tfc.fpga", progress=False)
    code, out, _ = cli(capsys, "check", tmp_path / "tfc.fpga", "--input", tmp_path / "x.npy",
                       "--labels", tmp_path / "y.npy", "--backend", "emulator")
    assert code == 0, out
    assert "against the float model (fpga-accel's float reference)" in out
    assert "onnxruntime cannot run this model" in out and "onnx.brevitas" in out
    acc = re.search(r"float \(fpga-accel's float reference\) ([\d.]+)%, accelerator \(emulator\) ([\d.]+)%", out)
    assert acc and abs(float(acc.group(1)) - float(acc.group(2))) <= 3.0
    assert re.search(r"^saturated outputs \(emulator\): ", out, re.MULTILINE)
