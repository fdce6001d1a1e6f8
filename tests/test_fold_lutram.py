"""Memories that leave the LUTs: while a design's LUTs are over budget and block RAM has room, the
fold places the packed weight banks sized for LUTRAM in BRAM18 (fold/design.py ``_place``), prices
them there, and the generated top binds exactly those to BRAM18.

DS-CNN (MLPerf Tiny, random weights) on pynq-z2 is the case: its 8,000-cycle design needs a few
hundred LUTs more than the ceiling leaves while nearly all of its BRAM18 is free.
"""
from __future__ import annotations

import re
from itertools import pairwise

import numpy as np
import pytest
from mlperf_util import mlperf_bundle

BOARD = "pynq-z2"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return mlperf_bundle(tmp_path_factory, "ds_cnn", BOARD)


@pytest.fixture(scope="module")
def qm(bundle):
    from fpga_accel.bundle_model import load_qmodel

    return load_qmodel(bundle)


def placed(design):
    """(layer, stage kind, memory, where) for every memory, where as the design placed it."""
    out = []
    for lay in design.layers:
        for s in lay.stages:
            for m in s.cost(design.board).memories:
                key = f"{s.kind}/{m.role}"
                where = "bram" if key in lay.bram_arrays else "uram" if key in lay.uram_arrays else "auto"
                out.append((lay, s.kind, m, where))
    return out


def test_the_lut_bound_design_moves_weights_to_bram18_and_pays_for_them(qm):
    from fpga_accel.fold import fold_model
    from fpga_accel.fold.resources import BINDABLE, Usage, lut_saved_per_bram18, memory_cost, small

    d = fold_model(qm, BOARD).design
    assert d.fits() and d.cycles == 8000
    rows = placed(d)
    moved = [r for r in rows if r[3] == "bram"]
    assert moved and all(m.role in BINDABLE and small(m) for _, _, m, _ in moved)
    # each layer's figures are its logic plus its memories priced where they were placed
    for lay in d.layers:
        logic = sum((Usage(dsp=c.dsp, lut=c.lut, ff=c.ff) for c in (s.cost(d.board) for s in lay.stages)), Usage())
        mems = sum((memory_cost(m, w) for la, _, m, w in rows if la is lay), Usage())
        assert lay.usage == logic + mems, lay.name
    # a moved bank costs its BRAM18 and frees its LUTRAM: without the move the LUTs were over budget
    freed = sum(memory_cost(m).lut for _, _, m, _ in moved)
    blocks = sum(memory_cost(m, "bram").bram18 for _, _, m, _ in moved)
    assert freed > 0 and blocks > 0
    assert d.usage.lut <= d.budget["lut"] < d.usage.lut + freed
    # cheapest first: no bank left in LUTRAM frees more LUTs per BRAM18 than a moved one
    left = [m for _, _, m, w in rows if w == "auto" and m.role in BINDABLE and memory_cost(m).lut]
    assert max(map(lut_saved_per_bram18, left)) <= min(lut_saved_per_bram18(m) for _, _, m, _ in moved)


def test_no_move_without_room_in_block_ram_and_a_larger_budget_moves_no_more(qm):
    from fpga_accel.fold import fold_model
    from fpga_accel.fold.boards import get_board
    from fpga_accel.fold.design import evaluate
    from fpga_accel.fold.lower import plan_layer

    board = get_board(BOARD)
    r = fold_model(qm, board)
    plans = [plan_layer(lay, qm, board.dsp_port_bits) for lay in qm.layers]
    limits = dict(r.design.budget)
    roomy = evaluate(qm, plans, r.foldings, board, dict(limits, lut=10**9))
    assert not any(lay.bram_arrays for lay in roomy.layers)  # LUTs within budget: nothing moves
    # too little BRAM18 for the move: every memory stays where it was, the LUTs over budget
    full = evaluate(qm, plans, r.foldings, board, dict(limits, bram18=roomy.usage.bram18))
    assert not any(lay.bram_arrays for lay in full.layers)
    assert full.usage == roomy.usage and full.over() == {"lut": roomy.usage.lut}
    # the moves are a prefix of one order: a tighter LUT budget moves a superset
    def moves(lut):
        d = evaluate(qm, plans, r.foldings, board, dict(limits, lut=lut))
        return d, {(lay.name, a) for lay in d.layers for a in lay.bram_arrays}
    steps = [moves(roomy.usage.lut - k) for k in (0, 1, 600, 1200, 2400)]
    for (_, fewer), (d, more) in pairwise(steps):
        assert fewer <= more and d.fits()
    assert len(steps[-1][1]) > len(steps[1][1]) > 0


def test_the_generated_top_binds_what_the_model_counts(bundle, qm):
    from fpga_accel.codegen.network import build_network
    from fpga_accel.fold import get_board
    from fpga_accel.fold.resources import memory_cost

    m = bundle.manifest
    top = (bundle.path / "hls" / "src" / "fa_top.cpp").read_text()
    bound = dict(re.findall(r"BIND_STORAGE variable = (\w+) type = rom_1p impl = (\w+)", top))
    listed = {e["name"]: set(e["estimate"].get("bram_arrays", [])) for e in m["layers"]}
    estimate = {e["name"]: e["estimate"] for e in m["layers"]}
    assert any(listed.values())
    seen = 0
    for c in build_network(qm, m).calls:
        for a in c.stage.arrays:
            if not a.storage:
                continue
            var, layer = f"{c.prefix}_{a.name}", c.stage.layer
            to_bram = f"{c.stage.kind}/{a.name}" in listed.get(layer, ())
            assert bound.pop(var) == ("bram" if to_bram else a.storage), var
            if to_bram:  # sized for LUTRAM, bound to BRAM18 because the fold moved it, and charged there
                assert a.storage == "lutram"
                banks = next(x for x in c.stage.cost(get_board(BOARD)).memories if x.role == a.name)
                assert estimate[layer]["bram18"] >= memory_cost(banks, "bram").bram18 > 0
                seen += 1
    assert not bound  # every pragma belongs to an array of the network
    assert seen == sum(map(len, listed.values())) > 0


@pytest.mark.slow
def test_csim_of_the_moved_design_equals_the_emulator_and_the_model(bundle, qm):
    """Placement changes no integer and no loop: the C simulation of the design with BRAM18-bound banks
    equals the emulator bit for bit, and each stage counts the model's cycles."""
    from codegen_util import need_toolchain

    from fpga_accel.emulator import run_layers
    from fpga_accel.emulator.csim_library import CsimLibrary, build_csim
    from fpga_accel.fold import fold_model

    need_toolchain()
    lib = CsimLibrary(build_csim(bundle, progress=False))
    n, r = 2, np.random.default_rng(0)
    ins = {t.name: r.integers(t.qparams.qtype.min, t.qparams.qtype.max + 1, (n, *t.shape[1:]))
           .astype(t.qparams.qtype.dtype) for t in qm.inputs}
    outs = [np.empty((n, *t.shape[1:]), t.qparams.qtype.dtype) for t in qm.outputs]
    lib.run([np.ascontiguousarray(ins[t.name]) for t in qm.inputs], outs, n)
    want = run_layers(qm, ins)
    for t, got in zip(qm.outputs, outs):
        np.testing.assert_array_equal(got, want[t.name])
    counted = lib.stage_cycles()
    design = fold_model(qm, BOARD).design
    assert any(lay.bram_arrays for lay in design.layers)
    modelled = {s.name: s.batch_cycles(n) for s in design.stages}
    assert set(modelled) == set(counted)
    for stage, cycles in counted.items():
        assert modelled[stage] == cycles, stage
