"""Every example model on every board: a folded design that fits, with its report, or a clear
"does not fit" error. The figures checked are the fold model's own, recomputed here."""
from __future__ import annotations

import copy
from functools import cache
from pathlib import Path

import pytest

from fpga_accel.cli.report import print_report
from fpga_accel.fold import FoldError, apply_to_manifest, board_names, fold_model, fold_summary, get_board
from fpga_accel.fold.boards import RESOURCES
from fpga_accel.fold.report_html import render_html
from models import data


@cache
def compiled(name: str, tmp: str):
    import fpga_accel
    from fpga_accel.compiler import load_qmodel

    calib = None if name.endswith("_qdq") else data.load_calib(name)
    b = fpga_accel.compile(data.model_path(name), Path(tmp) / f"{name}.fpga", calib=calib, progress=False,
                           generators=[])
    return b.manifest, load_qmodel(b)


@pytest.fixture(scope="module")
def tmp_models(tmp_path_factory):
    return str(tmp_path_factory.mktemp("fold_models"))


@pytest.mark.parametrize("board", board_names())
@pytest.mark.parametrize("name", data.names())
def test_model_fits_or_says_why(name, board, tmp_models, capsys):
    manifest, qm = compiled(name, tmp_models)
    b = get_board(board)
    try:
        r = fold_model(qm, board)
    except FoldError as e:
        msg = str(e)
        assert f"does not fit board '{board}'" in msg and "needs" in msg and "options:" in msg
        return
    s = fold_summary(r, {lay["name"]: lay["macs"] for lay in manifest["layers"]})
    assert s["macs_per_image"] == manifest["hardware"]["macs"]
    for k in RESOURCES:
        assert s["totals"][k] <= 0.8 * b.available(k) + 1e-9
    assert s["cycles_per_image"] == max(st["cycles"] for st in s["stages"]) > 0
    assert s["frames_per_s"] == pytest.approx(b.clock_mhz * 1e6 / s["cycles_per_image"])
    assert 0 < s["dsp_roofline_efficiency"] <= 1.0
    assert s["latency_cycles"] >= s["cycles_per_image"]
    for lay in r.design.layers:  # PE divides its dimension; SIMD too, or is whole pixels x kernel positions
        assert lay.plan.check(lay.fold) is None, (lay.name, lay.fold)
    m = copy.deepcopy(manifest)
    apply_to_manifest(m, r)
    print_report(m)
    out = capsys.readouterr().out
    assert f"{s['frames_per_s']:,.1f} frames/s" in out and all(lay["name"] in out for lay in m["layers"])
    assert render_html(m).count("<svg") == 2
