"""The mixed-precision search's acceptance rule (fpga_accel/analysis/search.py, ``budget_verdict``):
a step is taken only when its loss is within the budget on both halves of the search samples and,
over all of them, beyond the noise (loss + NOISE_Z standard errors). The synthetic model here has a
harmful step that the held-out half alone would accept: it trades answers on the held-out images
(more wrong ones made right than right ones made wrong) and only breaks answers on the others.
The logit-noise guard (``predicted_breakage``) is checked against the flips it predicts."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

import fpga_accel
from fpga_accel.analysis import search
from fpga_accel.analysis.search import NOISE_Z, budget_verdict, loss_bound
from fpga_accel.analysis.search_eval import predicted_breakage

N = 400
IDS = np.arange(N)
LABELS = IDS % 10
FLOAT_WRONG = IDS % 20 < 2  # 10 % of the images, on both halves
HARMLESS, HARMFUL = ("a", "weight_bits"), ("b", "weight_bits")


def logits(pred: np.ndarray) -> np.ndarray:
    out = np.zeros((len(pred), 10), np.float32)
    out[np.arange(len(pred)), pred] = 1.0
    return out


def prediction(ids: np.ndarray, bits: dict | None) -> np.ndarray:
    """The float model's answers, or those of the config ``bits``: lowering HARMFUL below 8 bits
    makes 10 right answers wrong on the even (sensitivity) half, and on the odd (held-out) half
    makes 10 right ones wrong and 20 wrong ones right."""
    wrong = FLOAT_WRONG[ids].copy()
    if bits is not None and bits[HARMFUL] < 8:
        wrong |= ids % 40 == 2  # even: right -> wrong
        wrong |= ids % 40 == 3  # odd: right -> wrong
        wrong &= ~((ids % 20 == 1) & FLOAT_WRONG[ids])  # odd: wrong -> right
    return np.where(wrong, (LABELS[ids] + 1) % 10, LABELS[ids])


class FakeEvaluator:
    """Two knobs; the DSP estimate is the sum of both weights' widths; frames/s fixed."""

    def __init__(self, model, calib, base, board, *args):
        self.base, self.board, self.ceiling, self.clock_mhz = base, board, 0.8, None
        self.knobs, self.pairs = [HARMLESS, HARMFUL], []
        self.feeds = {"x": IDS.reshape(-1, 1).astype(np.float32)}

    def config(self, bits, top=8):
        return {k: bits.get(k, top) for k in self.knobs}

    def quantize(self, cfg, refine=True):
        return cfg

    def fold(self, qm, target_fps):
        dsp = sum(qm.values())
        usage = SimpleNamespace(as_dict=lambda: {"dsp": dsp, "lut": 100 * dsp, "bram18": 1, "uram": 0})
        design = SimpleNamespace(usage=usage, budget={"dsp": 220, "lut": 53200, "bram18": 280})
        return SimpleNamespace(fps=1000.0, cycles=100, design=design)

    def float_outputs(self, feeds):
        return logits(prediction(feeds["x"][:, 0].astype(int), None))

    def outputs(self, qm, feeds):
        return logits(prediction(feeds["x"][:, 0].astype(int), qm))


@pytest.fixture
def fake(monkeypatch):
    monkeypatch.setattr(search, "Evaluator", FakeEvaluator)


def test_the_held_out_half_alone_would_accept_the_harmful_step():
    """The data of the case: on the held-out half the step gains 5 points, on the other it loses 5."""
    ref = prediction(IDS, None) == LABELS
    low = prediction(IDS, {HARMLESS: 8, HARMFUL: 4}) == LABELS
    per = 100.0 * (ref.astype(float) - low)
    assert per[1::2].mean() == pytest.approx(-5.0) and per[0::2].mean() == pytest.approx(5.0)
    assert budget_verdict(per, (IDS[0::2], IDS[1::2]), 1.0) == "the sensitivity half loses 5"


def test_search_keeps_the_harmful_knob_and_lowers_the_harmless_one(fake):
    res = fpga_accel.search_bits("model.onnx", None, labels=LABELS, budget=1.0, bit_choices=(4, 6, 8))
    assert res.bits["a"]["weight_bits"] == 4  # lowering it changes no answer
    assert res.bits["b"]["weight_bits"] == 8  # the held-out half alone would have let it go to 4
    assert res.chosen["loss_halves"] == [0.0, 0.0] and res.chosen["dsp"] == 12
    u6 = next(r for r in res.table if r["label"] == "uniform 6")
    assert u6["loss"] == pytest.approx(-5.0) and not u6["within_budget"]  # held-out "gain", rejected
    assert u6["beyond"] == "the sensitivity half loses 5 points"
    assert res.stopped == [("descent from uniform 8: 2 steps; every step left went beyond the budget (the last, "
                            "b weights 8->6: the sensitivity half loses 5 points)")]
    assert res.record()["stopped"] == res.stopped


def test_noise_bound_rejects_a_step_within_the_budget_on_both_halves():
    """Both halves lose 1 point (within a 2-point budget) but 40 of 400 answers changed: the
    paired loss's standard error is about 1.6 points, so the step is inside the noise."""
    per = np.zeros(N)
    per[:22] = 100.0  # right -> wrong: 11 on each half
    per[22:40] = -100.0  # wrong -> right: 9 on each half
    halves = (IDS[0::2], IDS[1::2])
    assert [per[h].mean() for h in halves] == [1.0, 1.0] and per.mean() == 1.0
    se = per.std(ddof=1) / np.sqrt(N)
    assert loss_bound(per) == pytest.approx(1.0 + NOISE_Z * se) and se > 1.5
    verdict = budget_verdict(per, halves, 2.0)
    assert "within the noise" in verdict and f"{loss_bound(per):.4g}" in verdict
    # the same net loss with few changed answers is within the budget
    few = np.zeros(N)
    few[:4] = 100.0
    assert budget_verdict(few, (IDS[0::4], np.setdiff1d(IDS, IDS[0::4])), 2.0) == ""


def test_predicted_breakage_matches_the_answers_noise_breaks():
    """20,000 samples, the right class ahead of one runner-up by a margin in [0, 3), the other
    classes far behind; the quantised logits are the float ones plus normal noise of 0.5 per logit
    (0.71 per difference). The prediction is the share of right answers the noise then breaks."""
    rng = np.random.default_rng(0)
    n, c = 20000, 10
    labels = rng.integers(0, c, n)
    runner = (labels + 1 + rng.integers(0, c - 1, n)) % c
    margin = rng.uniform(0, 3, n)
    f = np.full((n, c), -50.0)
    f[np.arange(n), labels] = 5.0
    f[np.arange(n), runner] = 5.0 - margin
    q = f + rng.normal(0, 0.5, f.shape)
    got = predicted_breakage(q, f, labels)
    flipped = 100.0 * np.mean(q.argmax(1) != labels)
    assert got == pytest.approx(flipped, rel=0.1) and 5 < got < 20
    # without labels, the float model's own answers are the right ones: here the same
    assert predicted_breakage(q, f, None) == pytest.approx(got)
    assert predicted_breakage(f, f, labels) == 0.0
    # wrong answers of the float model count for nothing (they cannot break)
    assert predicted_breakage(q, f, runner) < got / 10


def test_the_logit_noise_guard_rejects_what_the_counts_miss():
    """No answer changed on the search samples (every count says 0 points), yet the logits' noise
    predicts 2 points of right answers lost: beyond a 1-point budget."""
    per = np.zeros(N)
    halves = (IDS[0::2], IDS[1::2])
    assert budget_verdict(per, halves, 1.0) == ""
    why = budget_verdict(per, halves, 1.0, " points", breakage=2.0)
    assert why == "the noise of its logits predicts 2 points of right answers lost on unseen samples"
    assert budget_verdict(per, halves, 1.0, " points", breakage=0.9) == ""
