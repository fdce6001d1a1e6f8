"""Mixed-precision search (fpga_accel/analysis/search.py): the chosen bits, compiled and measured again
here without the search's code, meet the budget; they are never worse in the objective than
uniform 8 bits; the trade-off front is monotone; the CLI records the search and the report shows
it; the C simulation of a searched model equals the emulator bit for bit."""
from __future__ import annotations

import itertools
import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import fpga_accel
from fpga_accel.cli import main
from fpga_accel.compiler import load_qmodel
from fpga_accel.emulator import emulate
from fpga_accel.errors import InputError
from models import data

CHOICES = (4, 6, 8)


def ort_top1(path, x) -> np.ndarray:
    import onnxruntime as ort

    s = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return s.run(None, {s.get_inputs()[0].name: x})[0].argmax(1)


def bundle_top1(bundle, x) -> np.ndarray:
    qm = load_qmodel(bundle)
    return next(iter(emulate(qm, {qm.model_inputs[0].name: x}).outputs.values())).argmax(1)


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    """A DSP search on digits_cnn with labels, its chosen bundle and the bundle of its last step."""
    x, y = data.load_test("digits_cnn")
    res = fpga_accel.search_bits(data.model_path("digits_cnn"), data.load_calib("digits_cnn"), labels=y, inputs=x,
                                 board="pynq-z2", budget=0.5, objective="dsp", bit_choices=CHOICES)
    tmp = tmp_path_factory.mktemp("search")
    last = [r for r in res.table if r["kind"] == "search"][-1]
    return res, res.compile(tmp / "chosen.fpga", generators=[]), res.compile(tmp / "last.fpga", last, generators=[]), x, y


def test_chosen_config_meets_the_budget_measured_again(digits):
    res, chosen, last, x, y = digits
    held = np.arange(len(y))[1::2]  # the held-out half: odd indices
    float_top1 = 100 * np.mean(ort_top1(data.model_path("digits_cnn"), x[held]) == y[held])
    assert float_top1 == pytest.approx(res.reference)
    for bundle in (chosen, last):
        label = bundle.manifest["quantization"]["search"]["compiled"]
        row = next(r for r in res.table if r["label"] == label)
        top1 = 100 * np.mean(bundle_top1(bundle, x[held]) == y[held])
        assert float_top1 - top1 <= res.budget
        assert top1 == pytest.approx(row["metric"])  # what the search measured is what compile wrote
        # within the budget on the other half too, and over all samples beyond one standard error
        per = 100.0 * ((ort_top1(data.model_path("digits_cnn"), x) == y).astype(float) - (bundle_top1(bundle, x) == y))
        assert [per[0::2].mean(), per[1::2].mean()] == pytest.approx(row["loss_halves"])
        bound = per.mean() + per.std(ddof=1) / np.sqrt(len(per))
        assert bound == pytest.approx(row["loss_bound"]) and bound <= res.budget and max(row["loss_halves"]) <= res.budget
        assert 0 <= row["breakage"] <= res.budget
        f = bundle.manifest["fold"]
        assert f["totals"]["dsp"] == row["dsp"] and f["frames_per_s"] >= res.target_fps * (1 - 1e-9)
        for r in bundle.manifest["layers"]:  # the bits the bundle's layers use are the row's
            bits = row["bits"].get(r["name"], {})
            assert r["weight_bits"] == bits.get("weight_bits") and r["act_bits"] == bits.get("act_bits", r["act_bits"])
    widths = {r["weight_bits"] for r in last.manifest["layers"]} | {r["act_bits"] for r in last.manifest["layers"]}
    assert len(widths - {None}) > 1  # mixed


def test_never_worse_than_uniform_8_bits(digits, tmp_path):
    res, bundle = digits[:2]
    wide = fpga_accel.compile(data.model_path("digits_cnn"), tmp_path / "w8.fpga", calib=data.load_calib("digits_cnn"),
                              bits=8, target_fps=res.target_fps, progress=False, generators=[])
    assert bundle.manifest["fold"]["totals"]["dsp"] <= wide.manifest["fold"]["totals"]["dsp"]
    assert bundle.manifest["fold"]["totals"]["dsp"] < wide.manifest["fold"]["totals"]["dsp"]  # it found savings
    u8 = next(r for r in res.table if r["label"] == "uniform 8")
    assert u8["dsp"] == wide.manifest["fold"]["totals"]["dsp"]
    # the chosen row is the best in the objective of every row within the budget
    ok = [r for r in res.table if r["within_budget"]]
    assert res.chosen["dsp"] == min(r["dsp"] for r in ok)
    assert {r["label"] for r in res.table if r["kind"] == "uniform"} == {"uniform 8", "uniform 6", "uniform 4"}


def test_the_trade_off_front_is_monotone(digits):
    res = digits[0]
    front = res.pareto()
    assert res.chosen in front
    for a, b in itertools.pairwise(front):
        assert b["metric"] <= a["metric"] and b["dsp"] <= a["dsp"]
    for r in res.table:  # every row off the front is dominated by one on it
        if not r["pareto"]:
            assert any(f["metric"] >= r["metric"] and f["dsp"] <= r["dsp"] for f in front)


def test_fps_objective_without_labels(tmp_path):
    """Agreement with the float model as the measure; the folder's frames/s as the objective."""
    x, _ = data.load_test("mnist_cnn")
    res = fpga_accel.search_bits(data.model_path("mnist_cnn"), data.load_calib("mnist_cnn"), inputs=x[::5],
                                 board="pynq-z2", budget=1.0, objective="fps", ceiling=0.2, bit_choices=CHOICES)
    assert res.metric == "agreement" and res.target_fps is None
    u8 = next(r for r in res.table if r["label"] == "uniform 8")
    assert res.chosen["fps"] > u8["fps"]  # 8-bit products do not pack on this board: narrower ones do
    b = res.compile(tmp_path / "m.fpga", generators=[])
    held = x[::5][1::2]
    ref = ort_top1(data.model_path("mnist_cnn"), held)
    agreement = 100 * np.mean(bundle_top1(b, held) == ref)
    assert 100 - agreement <= 1.0 and agreement == pytest.approx(res.chosen["metric"])
    assert b.manifest["fold"]["frames_per_s"] == pytest.approx(res.chosen["fps"])


def test_cli_records_the_search_and_report_shows_it(tmp_path, capsys):
    x, y = data.load_test("digits_cnn")
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    out = tmp_path / "d.fpga"
    assert main(["compile", str(data.model_path("digits_cnn")), "--calib", str(tmp_path / "x.npy"), "--labels",
                 str(tmp_path / "y.npy"), "--search-bits", "--accuracy-budget", "0.5", "--bit-choices", "4,6,8",
                 "-o", str(out)]) == 0
    assert "mixed-precision search" in capsys.readouterr().out
    m = json.loads((out / "manifest.json").read_text())
    s = m["quantization"]["search"]
    assert s["metric"] == "top1" and s["budget"] == 0.5 and s["samples"] == {"sensitivity": 149, "held_out": 148}
    assert s["noise_z"] == 1.0 and s["tries"] == 4
    chosen = next(r for r in s["table"] if r["chosen"])
    for name, over in m["quantization"]["layers"].items():  # the config's overrides are the chosen bits
        assert all(chosen["bits"][name][k] == v for k, v in over.items() if k != "folding")
    page = tmp_path / "r.html"
    assert main(["report", str(out), "--html", str(page)]) == 0
    text = capsys.readouterr().out
    assert "mixed-precision search" in text and "uniform 8" in text and "chosen" in text
    assert s["stopped"] and all(f"stopped: {why}" in " ".join(text.split()) for why in s["stopped"])
    html = page.read_text()
    assert "Mixed-precision search" in html and html.count("<svg") == 3 and "<script" not in html
    assert html.count("<p>Stopped: ") == len(s["stopped"])
    for chunk in html.split("<svg")[1:]:
        ET.fromstring("<svg" + chunk.split("</svg>")[0] + "</svg>")  # well-formed inline SVG
    plot = html.split("<svg")[3]
    assert plot.count("<rect") == 1 + 3 and "chosen" in plot and "budget" in plot  # frame + uniform 8/6/4


def test_errors_name_the_fix():
    x, y = data.load_test("digits_cnn")
    calib = data.load_calib("digits_cnn")
    with pytest.raises(InputError, match="labels give 10 classes for 297 samples"):
        fpga_accel.search_bits(data.model_path("digits_cnn"), calib, labels=y[:10], inputs=x)
    with pytest.raises(InputError, match="the top1 metric needs labels"):
        fpga_accel.search_bits(data.model_path("digits_cnn"), calib, metric="top1")
    with pytest.raises(InputError, match="objective must be one of dsp, lut, fps"):
        fpga_accel.search_bits(data.model_path("digits_cnn"), calib, objective="speed")
    with pytest.raises(InputError, match="bit choices must be integers from 2 to 16"):
        fpga_accel.search_bits(data.model_path("digits_cnn"), calib, bit_choices=(1, 8))
    with pytest.raises(InputError, match="budget must be a number >= 0"):
        fpga_accel.search_bits(data.model_path("digits_cnn"), calib, budget=-1)
    assert main(["compile", str(data.model_path("digits_cnn")), "--search-bits", "--bits", "4"]) == 2


def test_csim_equals_emulator_on_a_searched_config(digits, tmp_path):
    from codegen_util import Csim, need_toolchain
    from test_csim_parity_models import hardware_inputs

    from fpga_accel.codegen.hls_project import generate_hls

    need_toolchain()
    res, _, _, x, _ = digits
    last = [r for r in res.table if r["kind"] == "search"][-1]
    b = res.compile(tmp_path / "d.fpga", last, generators=[generate_hls])
    qm = load_qmodel(b)
    widths = {t.qparams.qtype.bits for t in qm.tensors.values()} | {lay.config.get("weight_qtype") for lay in qm.layers}
    assert len(widths - {None}) > 2  # mixed widths
    cs = Csim(qm, tmp_path / "regen", b.manifest["layers"], b.manifest.get("board"))
    ins = hardware_inputs(qm, x[:50])
    cs.check(ins, what="digits_cnn with searched bits, fa_kernel")
    cs.check([a[:5] for a in ins], axis=True, what="digits_cnn with searched bits, fa_axis")
