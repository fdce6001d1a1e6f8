"""Memories out of the LUTs when block RAM is nearly full: besides the weight banks, the LUTRAM stream
FIFOs move to BRAM18, and bindable banks go to URAM (filled from DDR at start) where BRAM18 is spent
(fold/design.py ``_out_of_luts``). The FIFOs are placed by shape (``fold.fifo_bram``); the top binds
and the generated streams are re-priced by one rule (``fold.fifos.bram_streams``).

The FC autoencoder (MLPerf Tiny, random weights) on zcu104 is the case: its 64-cycle design needs a
few thousand LUTs more than the ceiling leaves with 40 BRAM18 free, and no URAM in use.
"""
from __future__ import annotations

import re
from collections import Counter
from itertools import pairwise

import numpy as np
import pytest
from mlperf_util import mlperf_bundle

BOARD = "zcu104"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return mlperf_bundle(tmp_path_factory, "fc_autoencoder", BOARD)


@pytest.fixture(scope="module")
def qm(bundle):
    from fpga_accel.bundle_model import load_qmodel

    return load_qmodel(bundle)


@pytest.fixture(scope="module")
def folded(qm):
    from fpga_accel.fold import fold_model
    from fpga_accel.fold.lower import plan_layer

    r = fold_model(qm, BOARD)
    return r, [plan_layer(lay, qm, r.board.dsp_port_bits) for lay in qm.layers]


def placed(design):
    """(layer, memory, where) for every memory, where as the design placed it."""
    out = []
    for lay in design.layers:
        for s in lay.stages:
            for m in s.cost(design.board).memories:
                key = f"{s.kind}/{m.role}"
                out.append((lay, m, "bram" if key in lay.bram_arrays else "uram" if key in lay.uram_arrays else "auto"))
    return out


def test_the_64_cycle_design_fits_with_fifos_in_bram18_and_banks_in_uram(folded):
    from fpga_accel.fold.fifos import fifo_usage
    from fpga_accel.fold.resources import BINDABLE, Usage, fifo_cost, fifo_movable, memory_cost, small

    r, _ = folded
    d = r.design
    assert d.fits() and d.cycles == 64
    rows = placed(d)
    to_uram = [m for _, m, w in rows if w == "uram"]
    to_bram = [m for _, m, w in rows if w == "bram"]
    fifos = [f for f in d.fifos if f.where == "bram"]
    assert to_uram and fifos and all(m.role in BINDABLE and small(m) for m in to_uram + to_bram)
    assert all(fifo_movable(f.depth, f.width) for f in fifos)
    # every figure priced where it was placed: each layer's logic plus its memories, the FIFOs as placed
    for lay in d.layers:
        logic = sum((Usage(dsp=c.dsp, lut=c.lut, ff=c.ff) for c in (s.cost(d.board) for s in lay.stages)), Usage())
        assert lay.usage == logic + sum((memory_cost(m, w) for la, m, w in rows if la is lay), Usage()), lay.name
    assert fifo_usage(d.fifos) == sum((fifo_cost(f.depth, f.width, f.where) for f in d.fifos), Usage())
    # what the moves freed and took: without them the LUTs were over, and block RAM holds them
    freed = sum(memory_cost(m).lut for m in to_uram + to_bram) + sum(fifo_cost(f.depth, f.width).lut for f in fifos)
    took_bram = sum(memory_cost(m, "bram").bram18 for m in to_bram) + sum(f.usage.bram18 for f in fifos)
    took_uram = sum(memory_cost(m, "uram").uram for m in to_uram)
    assert d.usage.lut <= d.budget["lut"] < d.usage.lut + freed
    assert 0 < took_bram and d.usage.bram18 <= d.budget["bram18"]
    assert d.usage.uram == took_uram <= d.budget["uram"]


def test_a_larger_budget_never_places_worse_and_no_room_moves_nothing(qm, folded):
    from fpga_accel.fold.design import evaluate

    r, plans = folded
    limits = dict(r.design.budget)

    def at(**kw):
        d = evaluate(qm, plans, r.foldings, r.board, dict(limits, **kw))
        return d, {(lay.name, a) for lay in d.layers for a in lay.bram_arrays + lay.uram_arrays}, \
            Counter((f.depth, f.width) for f in d.fifos if f.where == "bram")

    roomy, moved, fifos = at(lut=10**9)
    assert not moved and not fifos  # LUTs within budget: nothing moves
    # every larger budget of any one resource still fits the design
    for k, v in limits.items():
        for extra in (1, 37, v // 3 + 1):
            assert at(**{k: v + extra})[0].fits(), (k, extra)
    # a larger LUT budget moves a prefix of the same moves
    steps = [at(lut=roomy.usage.lut - k) for k in (0, 1, 300, 1500, 4000, roomy.usage.lut - limits["lut"])]
    for (_, fewer, ff), (d, more, mf) in pairwise(steps):
        assert fewer <= more and not ff - mf and d.fits()
    # neither block RAM nor URAM to spare: every memory stays where it was, the LUTs over budget
    full, moved, fifos = at(bram18=roomy.usage.bram18, uram=0)
    assert not moved and not fifos and full.usage == roomy.usage and full.over() == {"lut": roomy.usage.lut}


def test_the_top_binds_the_fifos_the_model_prices(bundle):
    from fpga_accel.fold.fifos import bram_streams, fifo_summary, generated_fifos
    from fpga_accel.fold.resources import fifo_cost

    m = bundle.manifest
    fold, streams = m["fold"], m["hls"]["streams"]
    top = (bundle.path / "hls" / "src" / "fa_top.cpp").read_text()
    bound = re.findall(r"BIND_STORAGE variable = (\w+) type = fifo impl = bram", top)
    assert bound and len(bound) == len(set(bound)) == sum(e["count"] for e in fold["fifo_bram"])
    shape = {s["name"]: (s["depth"], s["bits"]) for s in streams}
    assert Counter(shape[v] for v in bound) == Counter({(e["depth"], e["bits"]): e["count"] for e in fold["fifo_bram"]})
    # re-priced once generated by the same rule: the generated FIFOs equal the estimate, none over budget
    assert set(bound) == bram_streams([(s["name"], s["depth"], s["bits"]) for s in streams], fold["fifo_bram"])
    assert {k: v for k, v in fold["fifos"].items() if k not in ("source", "estimate")} == fold["fifos"]["estimate"]
    assert fold["fifos"]["bram_bound"] == len(bound) and not fold["over_budget"]
    plain = fifo_summary(generated_fifos(streams), "")
    assert plain["lut"] - fold["fifos"]["lut"] == sum(int(shape[v][1]) for v in bound)  # depth <= 32: a LUT a bit
    # each bound FIFO in as many 512 x 36 blocks as its width needs (UG573: 36 bits a BRAM18 at depth 512)
    assert fold["fifos"]["bram18"] - plain["bram18"] == sum(-(-int(shape[v][1]) // 36) for v in bound)
    assert sum(fifo_cost(*shape[v], "bram").bram18 for v in bound) == fold["fifos"]["bram18"] - plain["bram18"]


def test_the_fifo_rule_follows_the_generated_shapes_and_ignores_what_is_not_well_formed():
    from fpga_accel.fold.fifos import bram_streams

    streams = [("in0", 4, 512), ("s1_a", 4, 512), ("s2_b", 4, 512), ("s3_c", 2, 512), ("s4_d", 5, 512),
               ("s5_e", 4, 512)]
    assert bram_streams(streams, [{"depth": 4, "bits": 512, "count": 2}]) == {"s1_a", "s2_b"}
    # a depth the sizing changed is another shape; a shift-register FIFO or a port is never bound
    assert bram_streams(streams, [{"depth": 5, "bits": 512, "count": 9}, {"depth": 2, "bits": 512, "count": 1}]) \
        == {"s4_d"}
    assert bram_streams(streams, [{"depth": "4", "bits": 512, "count": 1}, {"depth": 4, "bits": 512, "count": True},
                                  {"depth": 4, "bits": 512, "count": -1}, "x", None]) == set()
    assert bram_streams(streams, {"depth": 4}) == bram_streams(streams, None) == set()


@pytest.mark.slow
def test_csim_with_the_uram_load_equals_the_emulator_and_the_model(bundle, qm, folded):
    """Placement changes no integer and no loop: the C simulation of the 64-cycle design, its URAM banks
    loaded from the bundle's blob, equals the emulator bit for bit, and each stage counts the model's
    cycles; without the load (URAM holds zeros) the outputs differ."""
    from codegen_util import need_toolchain

    from fpga_accel.emulator import run_layers
    from fpga_accel.emulator.csim_library import CsimLibrary, build_csim

    need_toolchain()
    assert bundle.manifest["uram_load"]["arrays"]
    lib = CsimLibrary(build_csim(bundle, progress=False))
    n, r = 2, np.random.default_rng(0)
    ins = {t.name: r.integers(t.qparams.qtype.min, t.qparams.qtype.max + 1, (n, *t.shape[1:]))
           .astype(t.qparams.qtype.dtype) for t in qm.inputs}
    want = run_layers(qm, ins)

    def run():
        outs = [np.empty((n, *t.shape[1:]), t.qparams.qtype.dtype) for t in qm.outputs]
        lib.run([np.ascontiguousarray(ins[t.name]) for t in qm.inputs], outs, n)
        return outs

    zeros = run()
    assert any(not np.array_equal(got, want[t.name]) for t, got in zip(qm.outputs, zeros))
    lib.load(bundle.read("weights/uram.bin"))
    for t, got in zip(qm.outputs, run()):
        np.testing.assert_array_equal(got, want[t.name])
    counted = lib.stage_cycles()
    modelled = {s.name: s.batch_cycles(n) for s in folded[0].design.stages}
    assert set(modelled) == set(counted)
    for stage, cycles in counted.items():
        assert modelled[stage] == cycles, stage


@pytest.mark.slow
def test_timed_simulation_loads_the_uram_weights_and_keeps_the_interval(bundle):
    """The timed simulation fills the URAM banks from the bundle's blob before its images (as a host
    does): outputs == emulator, at the modelled 64 cycles per image with the generated FIFO depths."""
    from codegen_util import need_toolchain

    from fpga_accel.sim import simulate

    need_toolchain()
    res = simulate(bundle, images=4, check=True, raise_on_deadlock=False)
    assert not res.deadlock and res.outputs_match is True
    assert res.cycles_per_image == bundle.manifest["fold"]["cycles_per_image"] == 64
