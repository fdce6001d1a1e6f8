"""The fold's stream FIFO estimate equals the FIFOs the code generator declares (one depth rule
for both), and a generated design over its budget says so (manifest, warning, report)."""
from __future__ import annotations

import copy
import warnings

import pytest
from sim_util import NETS, compile_net

from fpga_accel.codegen.network import build_network
from fpga_accel.fold import apply_to_manifest, fold_model
from fpga_accel.fold.fifos import DEFAULT_DEPTH, branch_backlog, fifo_summary, fork_depths, generated_fifos
from fpga_accel.fold.summary import OverBudgetWarning, budget_text
from fpga_accel.pe import Stage
from models import data

FORK_NETS = ["residual", "inception", "forks_in_a_row", "fork_to_output", "residual_output"]


def _compiled(name: str, tmp_path):
    import fpga_accel
    from fpga_accel.compiler import load_qmodel

    if name in NETS:
        b = compile_net(name, tmp_path / f"{name}.fpga")
    else:
        b = fpga_accel.compile(data.model_path(name), tmp_path / f"{name}.fpga", progress=False, generators=[],
                               calib=None if name.endswith("_qdq") else data.load_calib(name))
    return b.manifest, load_qmodel(b)


@pytest.mark.parametrize("board", ["pynq-z2", "alveo-u250"])
@pytest.mark.parametrize("name", [*data.names(), *FORK_NETS])
def test_fold_estimate_is_the_generated_fifos(name, board, tmp_path):
    """Stream by stream (depth, width and where the placement put it: the generated streams follow the
    fold's ``fifo_bram``), so words, bits and BRAM18 agree too."""
    manifest, qm = _compiled(name, tmp_path)
    r = fold_model(qm, board)
    m = copy.deepcopy(manifest)
    apply_to_manifest(m, r)
    net = build_network(qm, m)
    gen = generated_fifos([{"name": v, "depth": d, "bits": p.word_bits} for v, (p, d, _) in net.streams.items()],
                          m["fold"]["fifo_bram"])
    assert sorted((f.depth, f.width, f.where) for f in r.design.fifos) == \
        sorted((f.depth, f.width, f.where) for f in gen)
    est, got = fifo_summary(r.design.fifos, ""), fifo_summary(gen, "")
    assert (est["words"], est["bram18"], est["lut"]) == (got["words"], got["bram18"], got["lut"])
    if name in FORK_NETS:  # a fork's branch is deeper than the burst rule alone makes it
        assert any("fork of" in why for _, _, why in net.streams.values())


def test_bundle_records_equal_estimate_and_generated(tmp_path):
    """compile's manifest: the generated FIFOs' figures equal the estimate kept beside them."""
    b = compile_net("forks_in_a_row", tmp_path / "f.fpga")
    f = b.manifest["fold"]["fifos"]
    assert {k: v for k, v in f.items() if k not in ("source", "estimate")} == f["estimate"]
    assert f["words"] > f["count"] * DEFAULT_DEPTH and b.manifest["fold"]["over_budget"] == []


def test_fork_rule_by_hand():
    """A 3x3 window (stride 1, pad 1) on 8 rows of 8 pixels x 4 lanes holds back its first 3 rows: 3 x 8
    words; a pooling stage one pixel; each branch waits for the others' backlog plus the default depth."""
    shape = [1, 8, 8, 4]
    win = Stage("w", "sliding_window", {"IH": 8, "KH": 3, "DH": 1, "PAD_T": 1, "SH": 1})
    assert branch_backlog([win], shape, 4) == 3 * 8
    assert branch_backlog([win, Stage("p", "max_pool", {})], shape, 4) == 3 * 8 + 1
    assert fork_depths([24, 0], 64) == [(DEFAULT_DEPTH, 0), (24 + DEFAULT_DEPTH, 24)]
    assert fork_depths([100, 0], 64)[1] == (64, 100)  # capped at one image
    # a branch into a hardware output: its adapter drains it, so it needs no more than the default depth,
    # and holds back nothing the others wait for
    assert fork_depths([24], 64, outputs=1) == [(DEFAULT_DEPTH, 0), (DEFAULT_DEPTH, 0)]
    assert fork_depths([24, 0], 64, outputs=2) == [(DEFAULT_DEPTH, 0), (24 + DEFAULT_DEPTH, 24)] + [(DEFAULT_DEPTH, 0)] * 2


def test_over_budget_is_recorded_warned_and_reported(tmp_path, capsys):
    """A hand-set depth far beyond the fold's: the manifest names the resource, compile warns, the report says so."""
    from fpga_accel.cli.report import print_report

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        b = compile_net("residual", tmp_path / "r.fpga", config={"fifo_depths": {"s4": 1 << 16}})
    fold = b.manifest["fold"]
    over = fold["over_budget"]
    assert [o["resource"] for o in over] == ["bram18"]
    assert over[0]["need"] == fold["totals"]["bram18"] > over[0]["budget"] == fold["budget"]["bram18"]
    text = budget_text(b.manifest)
    assert text == f"over budget: bram18 needs {over[0]['need']:,} of a budget of {over[0]['budget']:,}"
    assert [str(w.message).split(", with")[0] for w in caught if w.category is OverBudgetWarning] == [text]
    print_report(b.manifest)
    assert text in capsys.readouterr().out
    assert budget_text({"fold": {"over_budget": "x"}}) is None and budget_text({"fold": []}) is None
