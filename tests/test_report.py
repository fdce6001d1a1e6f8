"""`fpga-accel report`: per-layer table, totals, frames/s, the HTML page; compile's fold options."""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from fpga_accel.bundle import write_manifest
from fpga_accel.cli import main
from fpga_accel.fold import get_board
from models import data


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "mnist.fpga"
    code = main(["compile", str(data.model_path("mnist_cnn")), "--calib", str(data.model_path("mnist_cnn").parent /
                 "calib.npz"), "-o", str(out), "--board", "aws-f1", "--ceiling", "0.6"])
    assert code == 0
    return out


def manifest(path: Path) -> dict:
    return json.loads((path / "manifest.json").read_text())


def test_compile_prints_the_estimate(bundle, capsys):
    m = manifest(bundle)
    assert m["fold"]["ceiling"] == 0.6 and m["board"]["name"] == "aws-f1"


def test_report_table(bundle, capsys):
    assert main(["report", str(bundle)]) == 0
    out = capsys.readouterr().out
    m = manifest(bundle)
    f = m["fold"]
    for r in m["layers"]:
        assert r["name"] in out
    first = m["layers"][0]["folding"]
    assert f"{first['pe']} x {first['simd']}" in out  # /0/Conv's PE x SIMD
    assert f"{f['frames_per_s']:,.1f} frames/s" in out
    assert f"{f['totals']['dsp']:,}/{get_board('aws-f1').dsp:,}" in out
    assert f"{f['dsp_roofline_efficiency']:.2%}" in out
    assert out.count("[estimate]") >= 4 and "total (estimate)" in out
    assert "2025-12-20" in out  # the F1 retirement note


def test_report_other_board(bundle, capsys):
    assert main(["report", str(bundle), "--board", "pynq-z2"]) == 0
    out = capsys.readouterr().out
    assert "on pynq-z2 (xc7z020clg400-1) at 100 MHz" in out
    assert manifest(bundle)["board"]["name"] == "aws-f1"  # the bundle is unchanged


def test_report_html(bundle, tmp_path, capsys):
    page = tmp_path / "r.html"
    assert main(["report", str(bundle), "--html", str(page)]) == 0
    html = page.read_text()
    assert html.startswith("<!DOCTYPE html>") and "<script" not in html and "http" not in html.split("<svg")[0]
    assert "estimate" in html and html.count("<svg") == 2
    for chunk in html.split("<svg")[1:]:
        ET.fromstring("<svg" + chunk.split("</svg>")[0] + "</svg>")  # well-formed inline SVG
    m = manifest(bundle)
    for r in m["layers"]:
        assert r["name"] in html


def test_report_needs_a_fold_section(tmp_path, bundle, capsys):
    import shutil

    old = tmp_path / "old.fpga"
    shutil.copytree(bundle, old)
    m = manifest(old)
    del m["fold"]
    write_manifest(old, m)  # sealed, as an older compile without the fold section wrote it
    assert main(["report", str(old)]) == 2
    assert "the manifest has no folding estimates" in capsys.readouterr().err
    assert main(["report", str(old), "--board", "kv260"]) == 0
    assert "on kv260" in capsys.readouterr().out


def test_compile_target_fps_option(tmp_path, capsys):
    out = tmp_path / "t.fpga"
    assert main(["compile", str(data.model_path("digits_cnn")), "--calib", str(data.model_path("digits_cnn").parent /
                 "calib.npz"), "-o", str(out), "--board", "zcu104", "--target-fps", "1000"]) == 0
    f = manifest(out)["fold"]
    assert f["target_fps"] == 1000 and f["target_met"] and f["frames_per_s"] >= 1000
    assert "frames/s" in capsys.readouterr().out
