"""compile's FIFO sizing (``--fifo-sizing sim|model``) and the FIFO memories in the fold totals:
the sized depths land in the depth pragmas and the manifest, the totals count the generated
streams, a sizing past its time limit or trace bound keeps the model's depths with a note, a
design whose FIFOs do not fit is not chosen."""
from __future__ import annotations

import re

import pytest
from codegen_util import need_toolchain
from sim_util import compile_net

PRAGMA = re.compile(r"#pragma HLS STREAM variable = (\w+) depth = (\d+)")


def pragmas(bundle) -> dict[str, int]:
    return {v: int(d) for v, d in PRAGMA.findall((bundle.path / "hls" / "src" / "fa_top.cpp").read_text())}


def test_fifo_cost_follows_the_vitis_thresholds():
    from fpga_accel.fold.resources import SRL_MAX_BITS, SRL_MAX_DEPTH, SRL_WORDS, bram18_count, fifo_cost, lutram_luts

    assert fifo_cost(SRL_MAX_DEPTH, 512).as_dict() == {"dsp": 0, "bram18": 0, "uram": 0, "lut": 512, "ff": 0}
    w = 8
    srl = SRL_MAX_BITS // w  # the deepest 8-bit FIFO still in shift registers
    assert fifo_cost(srl, w).lut == w * -(-srl // SRL_WORDS) and fifo_cost(srl, w).bram18 == 0
    assert fifo_cost(srl + 1, w).lut == lutram_luts(srl + 1, w)  # a RAM, small enough for LUTRAM
    assert fifo_cost(1024, 36).bram18 == bram18_count(1024, 36) > 0 and fifo_cost(1024, 36).lut == 0


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    need_toolchain()
    d = tmp_path_factory.mktemp("sizing")
    return compile_net("residual", d / "model.fpga"), compile_net("residual", d / "sim.fpga", fifo_sizing="sim")


def test_sized_depths_in_pragmas_manifest_and_totals(bundles):
    from fpga_accel.fold.fifos import fifo_summary, generated_fifos

    model, sim = bundles
    rec = sim.manifest["fifo_sizing"]
    assert rec["method"] == "sim" and model.manifest["fifo_sizing"]["method"] == "model"
    got = pragmas(sim)
    assert all(got[s] == d for s, d in rec["depths"].items()) and rec["model_depths"] == {
        s: d for s, d in pragmas(model).items() if s in rec["model_depths"]}
    assert rec["cycles"] == rec["unbounded_cycles"] <= rec["model_cycles"]
    # the FIFOs in the totals are the generated streams' own, at the final depths
    for b in bundles:
        f = b.manifest["fold"]
        assert {k: v for k, v in f["fifos"].items() if k not in ("source", "estimate")} == \
            {k: v for k, v in fifo_summary(generated_fifos(b.manifest["hls"]["streams"]), "").items() if k != "source"}
    fm, fs = model.manifest["fold"], sim.manifest["fold"]
    for k in ("bram18", "lut"):
        assert fs["totals"][k] - fm["totals"][k] == fs["fifos"][k] - fm["fifos"][k]
    assert rec["fifos_at_model_depths"] == {k: fm["fifos"][k] for k in ("bram18", "lut")}
    assert sum(rec["depths"].values()) <= sum(rec["model_depths"].values())  # sizing only shrinks here


def test_sizing_past_its_limits_keeps_the_model_depths(tmp_path, monkeypatch):
    need_toolchain()
    from fpga_accel.sim import autosize

    b = compile_net("residual", tmp_path / "slow.fpga", fifo_sizing="sim")  # warms the timed build's cache
    monkeypatch.setattr(autosize, "MAX_EVENTS", 10)
    big = compile_net("residual", tmp_path / "big.fpga", fifo_sizing="sim")
    rec = big.manifest["fifo_sizing"]
    assert rec["method"] == "model" and rec["requested"] == "sim" and "stream accesses" in rec["note"]
    monkeypatch.setattr(autosize, "MAX_EVENTS", 10**9)
    import numpy as np
    from sim_util import NETS

    import fpga_accel
    from fpga_accel.codegen.hls_project import generate_hls

    calib = np.random.default_rng(0).uniform(-1, 1, (16, 1, 12, 12)).astype(np.float32)
    late = fpga_accel.compile(NETS["residual"](), tmp_path / "late.fpga", calib=calib, progress=False,
                              generators=[generate_hls], fifo_sizing="sim", fifo_sizing_seconds=1e-6)
    rec = late.manifest["fifo_sizing"]
    assert rec["method"] == "model" and "time limit" in rec["note"]
    assert pragmas(late) == pragmas(compile_net("residual", tmp_path / "m.fpga")) != pragmas(b)


def test_sizing_option_checked():
    import fpga_accel
    from fpga_accel.errors import InputError

    with pytest.raises(InputError, match="fifo_sizing must be one of sim, model"):
        fpga_accel.compile(b"", fifo_sizing="fast")
    with pytest.raises(InputError, match="positive number of seconds"):
        fpga_accel.compile(b"", fifo_sizing="sim", fifo_sizing_seconds=0)


def test_a_design_whose_fifos_do_not_fit_is_not_chosen():
    """The same foldings with a BRAM18 budget that holds everything but the FIFOs' BRAM does not fit."""
    from codegen_util import quantise
    from sim_util import residual

    from fpga_accel.fold import get_board
    from fpga_accel.fold.design import _place, budget, evaluate
    from fpga_accel.fold.fifos import fifo_usage
    from fpga_accel.fold.lower import plan_layer

    qm = quantise(residual(c=16, hw=32))
    board = get_board("pynq-z2")
    plans = [plan_layer(lay, qm) for lay in qm.layers]
    folds = {p.name: dict(p.folds()[0]) for p in plans}
    d = evaluate(qm, plans, folds, board, budget(board, 1.0))
    fifo = fifo_usage(d.fifos)
    assert fifo.bram18 > 0 and d.usage.bram18 == _place(d.layers, d.io, board, d.budget).bram18 + fifo.bram18
    tight = dict(d.budget, bram18=d.usage.bram18 - 1)
    assert not evaluate(qm, plans, folds, board, tight).fits()
    assert evaluate(qm, plans, folds, board, dict(d.budget, bram18=d.usage.bram18)).fits()


def test_fifo_line_of_a_bundle_from_elsewhere():
    """A manifest's sizing record may hold anything: the line shows '-' for what is not a number."""
    from fpga_accel.fold.summary import fifo_text

    m = {"fifo_sizing": {"method": "sim", "cycles": "<b>", "fifos_at_model_depths": [1], "model_cycles": True},
         "fold": {"fifos": {"count": 3, "bram18": 1, "lut": 2048}}}
    assert fifo_text(m) == ("3 streams, BRAM18 1, LUT 2,048, sized by the timed simulation (at the cost model's "
                            "depths: BRAM18 -, LUT -); simulated - cycles per image (model -), deadlock at the cost "
                            "model's depths")
    assert fifo_text({"fifo_sizing": "x", "fold": []}) == "no HLS project; depths from the cost model"


def test_sizing_measures_past_a_long_setup(tmp_path):
    """A Gemm and a Sigmoid (its 256-entry table is written before the first word): 6 images end
    while the backlog behind the table still drains faster than the interval; the sizing lengthens
    the batch and keeps the model's interval, not the transient."""
    need_toolchain()
    import numpy as np
    from codegen_util import make_model
    from onnx import helper

    import fpga_accel
    from fpga_accel.codegen.hls_project import generate_hls

    r = np.random.default_rng(0)
    nodes = [helper.make_node("Gemm", ["x", "w", "b"], ["h"], name="fc", transB=1),
             helper.make_node("Sigmoid", ["h"], ["y"], name="sig")]
    model = make_model(nodes, {"x": [16]}, {"w": r.standard_normal((4, 16)).astype(np.float32),
                                            "b": np.zeros(4, np.float32)})
    b = fpga_accel.compile(model, tmp_path / "m.fpga", calib=r.uniform(-1, 1, (16, 16)).astype(np.float32),
                           progress=False, generators=[generate_hls], fifo_sizing="sim")
    rec = b.manifest["fifo_sizing"]
    assert rec["method"] == "sim" and rec["images"] > 6
    assert rec["cycles"] == rec["unbounded_cycles"] == b.manifest["fold"]["cycles_per_image"]
