"""The folder's exact choice of foldings within the DSPs on a network where moving layers to LUT
multipliers one by one overshoots the LUTs: MLPerf Tiny's DS-CNN (random weights) on pynq-z2."""
from __future__ import annotations

import sys

import numpy as np
import pytest

from models import data

sys.path.insert(0, str(data.HERE.parent / "benchmarks"))
mlperf_tiny = pytest.importorskip("mlperf_tiny")


@pytest.fixture(scope="module")
def ds_cnn(tmp_path_factory):
    import fpga_accel
    from fpga_accel.bundle_model import load_qmodel

    tmp = tmp_path_factory.mktemp("ds_cnn")
    model, calib = mlperf_tiny.write(tmp, ["ds_cnn"])["ds_cnn"]
    b = fpga_accel.compile(model, tmp / "ds_cnn.fpga", board="pynq-z2", calib=np.load(calib), progress=False,
                           generators=[])
    return load_qmodel(b)


def test_exact_choice_is_faster_than_the_greedy_moves_and_fits(ds_cnn, monkeypatch):
    from fpga_accel.fold import folder
    from fpga_accel.fold.design import budget

    exact = folder.fold_model(ds_cnn, "pynq-z2")
    monkeypatch.setattr(folder, "_fewest_luts", lambda *a: a[-1])  # the greedy moves alone
    greedy = folder.fold_model(ds_cnn, "pynq-z2")
    assert exact.design.fits() and greedy.design.fits()
    assert exact.cycles < greedy.cycles
    used, limits = exact.design.usage.as_dict(), budget(exact.board, 0.8)
    assert all(used[k] <= limits[k] for k in limits)
    # the exact choice spends DSPs the greedy one leaves, and LUT multipliers where they save them
    assert used["dsp"] > greedy.design.usage.dsp
    assert any(f.get("mul") == "lut" for f in exact.foldings.values())


def test_a_larger_budget_goes_at_least_as_far(ds_cnn):
    from fpga_accel.fold import folder

    cycles = [folder.fold_model(ds_cnn, "pynq-z2", ceiling=c).cycles for c in (0.7, 0.8, 0.9, 1.0)]
    assert cycles == sorted(cycles, reverse=True)
