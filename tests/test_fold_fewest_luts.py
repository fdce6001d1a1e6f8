"""The folder's exact choice of foldings within the DSPs, and the stream FIFO estimate it checks, on
MLPerf Tiny reference architectures (benchmarks/mlperf_tiny.py, random weights) on pynq-z2."""
from __future__ import annotations

import sys
from collections import Counter

import numpy as np
import pytest

from models import data

sys.path.insert(0, str(data.HERE.parent / "benchmarks"))
mlperf_tiny = pytest.importorskip("mlperf_tiny")


def _bundle(tmp_path_factory, name, generators=()):
    import fpga_accel

    tmp = tmp_path_factory.mktemp(name)
    model, calib = mlperf_tiny.write(tmp, [name])[name]
    return fpga_accel.compile(model, tmp / f"{name}.fpga", board="pynq-z2", calib=np.load(calib), progress=False,
                              generators=list(generators))


@pytest.fixture(scope="module")
def resnet8(tmp_path_factory):
    from fpga_accel.bundle_model import load_qmodel

    return load_qmodel(_bundle(tmp_path_factory, "resnet8"))


def test_exact_choice_is_never_slower_than_the_greedy_moves_and_fits(resnet8, monkeypatch):
    """At every ceiling the exact choice fits and is at least as fast as the one-by-one moves; at some
    it is strictly faster (the case the moves overshoot)."""
    from fpga_accel.fold import folder
    from fpga_accel.fold.design import budget

    one_by_one = folder._fewest_luts
    faster = 0
    for ceiling in (0.6, 0.8, 1.0):
        monkeypatch.setattr(folder, "_fewest_luts", one_by_one)
        exact = folder.fold_model(resnet8, "pynq-z2", ceiling=ceiling)
        monkeypatch.setattr(folder, "_fewest_luts", lambda *a: a[-1])  # the one-by-one moves alone
        greedy = folder.fold_model(resnet8, "pynq-z2", ceiling=ceiling)
        assert exact.design.fits() and greedy.design.fits()
        assert exact.cycles <= greedy.cycles, ceiling
        faster += exact.cycles < greedy.cycles
        used, limits = exact.design.usage.as_dict(), budget(exact.board, ceiling)
        assert all(used[k] <= limits[k] for k in limits)
    assert faster >= 1


def test_a_larger_budget_goes_at_least_as_far(resnet8):
    from fpga_accel.fold import folder

    cycles = [folder.fold_model(resnet8, "pynq-z2", ceiling=c).cycles for c in (0.6, 0.7, 0.8, 0.9, 1.0)]
    assert cycles == sorted(cycles, reverse=True)


def test_fifo_estimate_has_the_generated_streams_widths(tmp_path_factory):
    """DS-CNN's stem reads 40 kernel positions per word (SIMD = C·KP): the stream from its window to
    its MVAU carries SIMD lanes, not the layer's input lanes."""
    from fpga_accel.bundle_model import load_qmodel
    from fpga_accel.codegen.hls_project import generate_hls
    from fpga_accel.fold import fold_model
    from fpga_accel.fold.fifos import generated_fifos

    b = _bundle(tmp_path_factory, "ds_cnn", [generate_hls])
    gen = generated_fifos(b.manifest["hls"]["streams"])
    assert gen[0].width > 8 * 8  # the stem's window words are wide
    design = fold_model(load_qmodel(b), "pynq-z2").design
    # the generated streams, the top's input and output streams included, are the estimate's
    assert Counter((f.depth, f.width) for f in design.fifos) == Counter((f.depth, f.width) for f in gen)
