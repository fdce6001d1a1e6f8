"""The folder's exact choice at a bottleneck prices the width converters and stream FIFOs each folding
brings, on MobileNetV1-0.25 (VWW; benchmarks/mlperf_tiny.py, random weights) at zcu104's next
bottleneck, where PX-pixel words need wide converters and FIFOs."""
from __future__ import annotations

import sys

import numpy as np
import pytest

from models import data

sys.path.insert(0, str(data.HERE.parent / "benchmarks"))
mlperf_tiny = pytest.importorskip("mlperf_tiny")


@pytest.fixture(scope="module")
def mobilenet(tmp_path_factory):
    import fpga_accel
    from fpga_accel.bundle_model import load_qmodel

    tmp = tmp_path_factory.mktemp("mobilenet")
    model, calib = mlperf_tiny.write(tmp, ["mobilenet_v1_025_vww"])["mobilenet_v1_025_vww"]
    b = fpga_accel.compile(model, tmp / "m.fpga", board="zcu104", calib=np.load(calib), progress=False,
                           generators=[])
    return load_qmodel(b)


def test_prices_are_the_design_totals_and_beat_the_layers_own_figures(mobilenet):
    from fpga_accel.fold import fold_model, folder
    from fpga_accel.fold.design import budget, evaluate
    from fpga_accel.fold.knapsack import fewest_luts
    from fpga_accel.fold.lower import plan_layer

    result = fold_model(mobilenet, "zcu104")
    board, cache = result.board, {}
    plans = [plan_layer(lay, mobilenet, board.dsp_port_bits) for lay in mobilenet.layers]
    limits = budget(board, result.ceiling)
    t = max(c for p in plans for f in p.folds() if (c := max((s.cycles() for s in p.stages(f)), default=0)) < result.cycles)
    folds = {p.name: next(f for f, c in folder._ordered(p, mobilenet, cache, board) if c <= t) for p in plans}
    # a folding's price is the design's totals with that layer moved, nothing else
    plan = next(p for p in plans if p.kind == "mvau" and any(f.get("px", 1) > 1 for f in p.folds()))
    for dsp, lut, f in folder._brought(mobilenet, plans, folds, plan, t, board, cache)[:6]:
        u = evaluate(mobilenet, plans, {**folds, plan.name: f}, board, folder.UNLIMITED, cache).usage
        assert (dsp, lut) == (u.dsp, u.lut), f
    chosen, predicted = folder.priced_choice(mobilenet, plans, plans, folds, t, board, limits["dsp"], cache)
    got = evaluate(mobilenet, plans, chosen, board, folder.UNLIMITED, cache).usage
    assert got.dsp <= limits["dsp"]
    assert abs(predicted[1] - got.lut) <= 0.02 * got.lut  # changes add up, up to neighbours meeting
    # the choice by the layers' own stages alone, within the same DSPs, ends with more LUTs in the design
    base = evaluate(mobilenet, plans, folds, board, folder.UNLIMITED, cache).usage
    own = {p.name: folder._own(p, folds[p.name], board, cache) for p in plans}
    alone = fewest_luts([[(*folder._own(p, f, board, cache), f) for f in p.folds()
                          if max((s.cycles() for s in p.stages(f)), default=0) <= t] for p in plans],
                        limits["dsp"] - (base.dsp - sum(d for d, _ in own.values())))
    cheap = evaluate(mobilenet, plans, {p.name: f for p, f in zip(plans, alone, strict=True)}, board,
                     folder.UNLIMITED, cache).usage
    assert got.lut < cheap.lut, (got.lut, cheap.lut)
