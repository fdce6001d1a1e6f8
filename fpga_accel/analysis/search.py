"""Mixed-precision search: per-layer weight and activation bits for a board within an accuracy budget.

:func:`search_bits` chooses, from a set of widths (2..8 by default), the bits of every layer's
weights and output and of the hardware inputs, so that the quantised model stays within
``budget`` of the float model on held-out samples while the folder's estimate is best:

- ``objective="dsp"`` (or ``"lut"``): the fewest DSPs (LUTs) at the throughput the uniform
  widest design reaches (or ``target_fps``): each design is folded with that frames/s goal;
- ``objective="fps"``: the most predicted frames/s within the board's budget (``ceiling``).

Accuracy is, with ``labels``, the top-1 accuracy (budget: points of top-1 below the float model
on the same samples); without them the top-1 agreement with the float model (budget: points of
disagreement) or, with ``metric="cosine"``, the mean cosine similarity of the outputs (budget: the
drop below 1). The samples (``inputs``, default the calibration samples) are split in two, even
indices for measuring sensitivity and odd ones held out.

A configuration is *within the budget* when (:func:`budget_verdict`) its loss against the float
model is within the budget on each half, and so is the loss over all the search samples plus
``NOISE_Z`` standard errors of that paired difference (for top-1: the square root of the number
of samples whose answer changed, over the number of samples), and (top-1 and agreement) so is the
share of right answers the noise of its logits predicts it breaks on unseen samples
(:func:`~.search_eval.predicted_breakage`: the RMS error of a logit difference over every sample
and class, against each right answer's margin). One half alone is no guard: dozens of steps
accepted on the same images fit their noise, and a step that changes many answers, wrong ones to
right as well as right ones to wrong, loses on unseen data what it seemed to win; counts of changed
answers are noisy themselves, the logits' error is not.

The search (greedy descent from the widest width):

1. sensitivity: each knob (search_eval.py) lowered alone, the others widest, measured on
   the sensitivity half (each width the descent reaches, measured when first needed);
2. each round, every knob's next lower width is priced: the objective's gain of the whole config
   with that one step (the folder's estimate) and the loss that step added in step 1; steps are
   tried in order of least loss per gain, each measured as a whole config on all the search
   samples; the first within the budget is taken; a step beyond the budget leaves its knob where it
   is for good. The descent stops when no step improves the objective, when every step left goes
   beyond the budget, or when the ``TRIES`` best-ranked steps of a round all do (trying more would
   only fish for one that passes by chance); ``result.stopped`` says which, per descent.
3. the uniform configs (8, 6, 4 bits) are measured as well, and the descent runs again from the
   best of them within the budget; the chosen config is the best in the objective of every config
   measured within the budget, so it is never worse than any uniform width that meets it.

Every figure of the folder is an estimate (docs/fold-model.md). Only bit widths are chosen, through
the config's ``act_bits`` and per-layer ``weight_bits`` / ``act_bits``: the integer contract is
the same, and compile writes exactly the model measured here.
"""
from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import InputError
from ..quant.config import QuantConfig
from .search_eval import (
    INPUT,
    METRICS,
    OBJECTIVES,
    Evaluator,
    config_for,
    estimate,
    metric_samples,
    metric_value,
    predicted_breakage,
)

DEFAULT_BITS = (2, 3, 4, 5, 6, 7, 8)
UNIFORM = (8, 6, 4)
#: standard errors of the paired loss over all search samples added to it before it meets the budget
NOISE_Z = 1.0
#: steps tried per round of the descent before it stops
TRIES = 4
#: weight of the secondary figure (the other resources) against the objective's own
SECONDARY = 1e-3


@dataclass
class SearchResult:
    """The chosen config, the trade-off table and what the search measured."""

    config: QuantConfig
    bits: dict[str, dict[str, int]]  # layer (or INPUT) -> {"weight_bits", "act_bits"} chosen
    table: list[dict[str, Any]]  # every configuration measured as a whole: see module docstring
    sensitivity: list[dict[str, Any]]  # per knob and width: the loss with only that knob lowered
    metric: str
    budget: float
    reference: float  # the float model's value of the metric on the held-out samples
    objective: str
    target_fps: float | None  # the frames/s goal every design was folded with ("dsp", "lut")
    board: str
    ceiling: float
    clock_mhz: float | None
    samples: dict[str, int]
    evaluations: int
    seconds: float
    base: QuantConfig | None = field(default=None, repr=False)  # the config the bits were put in
    top: int = 8  # the widest width, every knob's start
    model: Any = field(default=None, repr=False)
    calib: Any = field(default=None, repr=False)
    input_shapes: Any = field(default=None, repr=False)
    host_nodes: Any = field(default=None, repr=False)
    stopped: list[str] = field(default_factory=list)  # why each descent ended

    @property
    def chosen(self) -> dict[str, Any]:
        return next(r for r in self.table if r["chosen"])

    def pareto(self) -> list[dict[str, Any]]:
        """The rows no other row beats in both accuracy and objective, from the best accuracy to
        the best objective (so the accuracy never rises along it)."""
        return sorted((r for r in self.table if r["pareto"]), key=lambda r: (-r["metric"], _better_key(r, self.objective)))

    def record(self) -> dict[str, Any]:
        """The manifest's ``quantization.search`` section (no times: bundles are reproducible)."""
        return {"metric": self.metric, "budget": self.budget, "reference": self.reference,
                "objective": self.objective, "target_fps": self.target_fps, "board": self.board,
                "ceiling": self.ceiling, "samples": dict(self.samples), "evaluations": self.evaluations,
                "noise_z": NOISE_Z, "tries": TRIES, "stopped": list(self.stopped), "estimate": True,
                "bits": {k: dict(v) for k, v in self.bits.items()},
                "table": [dict(r) for r in self.table], "sensitivity": [dict(s) for s in self.sensitivity]}

    def config_of(self, row: Mapping[str, Any]) -> QuantConfig:
        """The config of any row of the table (``result.config`` is the chosen row's)."""
        return config_for(self.base, _knobs_of(row["bits"]), self.top)

    def compile(self, output: str | os.PathLike | None = None, row: Mapping[str, Any] | None = None, **kw):
        """Compile the model with the chosen config (or ``row``'s, a row of the table) with the same
        calibration, board, ceiling, clock and, for the ``dsp`` / ``lut`` objectives, frames/s goal;
        the search is recorded in the manifest's ``quantization.search`` (``compiled``: the row's
        label). ``kw`` goes to :func:`fpga_accel.compile`."""
        from ..compiler import compile as compile_model
        from ..compiler import default_generators

        row = row or self.chosen
        record = {**self.record(), "compiled": row["label"]}

        def record_search(stage, qm, manifest) -> None:
            manifest["quantization"]["search"] = record

        gens = kw.pop("generators", None)
        gens = list(default_generators() if gens is None else gens) + [record_search]
        kw.setdefault("progress", False)
        return compile_model(self.model, output, board=self.board, calib=self.calib, config=self.config_of(row),
                             ceiling=self.ceiling, target_fps=self.target_fps, clock_mhz=self.clock_mhz,
                             input_shapes=self.input_shapes, host_nodes=self.host_nodes, generators=gens, **kw)


def search_bits(model, calib, labels=None, board: str = "pynq-z2", budget: float | None = None,
                objective: str = "dsp", *, inputs=None, metric: str | None = None,
                bit_choices: Sequence[int] = DEFAULT_BITS, config=None, ceiling: float = 0.8,
                target_fps: float | None = None, clock_mhz: float | None = None,
                input_shapes: Mapping[str, tuple[int, ...]] | None = None,
                host_nodes: Sequence[str] | None = None, log=None) -> SearchResult:
    """Choose per-layer weight and activation bits for ``board`` (module docstring).

    ``calib``: the calibration samples, as for :func:`fpga_accel.compile`. ``labels``: the class
    of each sample of ``inputs`` (default: of ``calib``). ``budget``: points of top-1 accuracy
    (with labels) or of top-1 agreement with the float model below it (default 0.5), or, with
    ``metric="cosine"``, the allowed drop of the mean cosine similarity (default 0.01).
    ``objective``: ``"dsp"``, ``"lut"`` or ``"fps"``. ``bit_choices``: the widths to choose from.
    ``config``: the base quantisation config (observer, methods, foldings; its bit widths are
    replaced). ``log``: a callable given one line per accepted step. Returns a
    :class:`SearchResult`; ``result.compile(path)`` writes the bundle.
    """
    from ..compiler import make_config
    from ..fold import get_board
    from ..fold.folder import check_options

    start = time.perf_counter()
    metric = _check(labels, metric, objective, bit_choices)
    budget = (0.01 if metric == "cosine" else 0.5) if budget is None else budget
    if isinstance(budget, bool) or not isinstance(budget, (int, float)) or not 0 <= budget < float("inf"):
        raise InputError(f"the accuracy budget must be a number >= 0, got {budget!r}")
    check_options(ceiling, target_fps, clock_mhz)
    choices = sorted({int(b) for b in bit_choices})
    ev = Evaluator(model, calib, make_config(config), get_board(board), ceiling, clock_mhz, input_shapes,
                   host_nodes)
    s = _Search(ev, _samples(ev, inputs, calib, labels), metric, float(budget), objective, choices, target_fps, log)
    s.run()
    return SearchResult(s.chosen_config(), s.chosen_bits(), s.table(), s.sens_rows(), metric, float(budget),
                        s.ref, objective, s.target, get_board(board).name, float(ceiling), clock_mhz,
                        {"sensitivity": len(s.split[0][1]), "held_out": len(s.split[1][1])}, s.evaluations,
                        time.perf_counter() - start, ev.base, s.top, model, calib, input_shapes, host_nodes,
                        s.stopped)


def _check(labels, metric, objective, bits) -> str:
    if objective not in OBJECTIVES:
        raise InputError(f"objective must be one of {', '.join(OBJECTIVES)}, got {objective!r}")
    metric = metric or ("top1" if labels is not None else "agreement")
    if metric not in METRICS:
        raise InputError(f"metric must be one of {', '.join(METRICS)}, got {metric!r}")
    if metric == "top1" and labels is None:
        raise InputError("the top1 metric needs labels (an array of the class of each sample)")
    ok = [b for b in bits if isinstance(b, (int, np.integer)) and not isinstance(b, bool) and 2 <= b <= 16]
    if not bits or len(ok) != len(bits):
        raise InputError(f"bit choices must be integers from 2 to 16, got {list(bits)!r}")
    return metric


def _samples(ev: Evaluator, inputs, calib, labels):
    """(feeds, labels) of the samples accuracy is measured on."""
    from ..quant.calibrate import load_calibration

    feeds = ev.feeds if inputs is None else load_calibration(inputs, ev.g.inputs)
    n = next(iter(feeds.values())).shape[0]
    if n < 2:
        raise InputError(f"the search needs at least 2 samples to measure accuracy on (half held out), got {n}")
    if labels is not None:
        labels = np.asarray(labels).reshape(-1)
        if labels.shape[0] != n:
            raise InputError(f"labels give {labels.shape[0]} classes for {n} samples; pass one label per sample "
                             f"of the {'calibration' if inputs is None else 'search'} data, in the same order")
    return feeds, labels


def budget_verdict(per_sample: np.ndarray, halves: Sequence[np.ndarray], budget: float, unit: str = "",
                   breakage: float | None = None) -> str:
    """Why a configuration is beyond the budget, or "" when it is within it (module docstring).

    ``per_sample``: each search sample's loss against the float model (the float model's share of
    the metric minus the configuration's: for top-1 100, 0 or -100 points); ``halves``: the
    indices of each half. The noise is the standard error of the mean paired loss. ``breakage``:
    the points of right answers the logits' noise predicts lost (None: no such guard)."""
    eps = 1e-9
    for name, h in zip(("sensitivity", "held-out"), halves):
        loss = float(np.mean(per_sample[h]))
        if loss > budget + eps:
            return f"the {name} half loses {loss:.4g}{unit}"
    bound = loss_bound(per_sample)
    if bound > budget + eps:
        return (f"the loss over all {len(per_sample)} samples, {float(np.mean(per_sample)):.4g}{unit}, plus "
                f"{NOISE_Z:g} standard error of it is {bound:.4g}{unit}: within the noise of the samples")
    if breakage is not None and breakage > budget + eps:
        return f"the noise of its logits predicts {breakage:.3g}{unit} of right answers lost on unseen samples"
    return ""


def loss_bound(per_sample: np.ndarray) -> float:
    """The mean paired loss plus ``NOISE_Z`` standard errors of it."""
    n = len(per_sample)
    se = float(np.std(per_sample, ddof=1)) / np.sqrt(n) if n > 1 else 0.0
    return float(np.mean(per_sample)) + NOISE_Z * se


def _better_key(row: dict, objective: str) -> float:
    return -row["fps"] if objective == "fps" else row[objective]


class _Search:
    """The greedy descent; see the module docstring."""

    def __init__(self, ev: Evaluator, samples, metric, budget, objective, choices, target_fps, log):
        self.ev, self.metric, self.budget, self.objective, self.choices = ev, metric, budget, objective, choices
        self.log = log or (lambda line: None)
        feeds, labels = samples
        idx = np.arange(next(iter(feeds.values())).shape[0])
        self.feeds, self.labels, self.halves = feeds, labels, (idx[0::2], idx[1::2])  # (sensitivity, held out)
        self.float_out = ev.float_outputs(feeds)
        self.ref_samples = metric_samples(metric, self.float_out, self.float_out, labels)
        self.split = []
        for part in self.halves:
            f = {k: v[part] for k, v in feeds.items()}
            self.split.append((f, part, None if labels is None else labels[part], self.float_out[part]))
        self.refs = [self._value(out, part) for part, out in ((0, self.split[0][3]), (1, self.split[1][3]))]
        self.ref = self.refs[1]
        self.stopped: list[str] = []
        self.evaluations = 0
        self.user_target = target_fps
        self.target = None
        self._rows: list[dict] = []
        self._sens: dict[tuple, float] = {}
        self._quick: dict[tuple, dict | None] = {}

    # --- measurements -----------------------------------------------------------------------------
    def _value(self, out, part: int) -> float:
        _, _, labels, ref = self.split[part]
        return metric_value(self.metric, out, ref, labels)

    def loss(self, qm, part: int) -> float:
        self.evaluations += 1
        return self.refs[part] - self._value(self.ev.outputs(qm, self.split[part][0]), part)

    def figures(self, qm) -> dict | None:
        result = self.ev.fold(qm, self.target)
        if result is None or (self.target and result.fps < self.target * (1 - 1e-9)):
            return None
        return estimate(result)

    def score(self, fig: dict | None) -> float:
        """Higher is better; -inf for a design that does not fit (or misses the frames/s goal)."""
        if fig is None:
            return -np.inf
        b, base = fig["budget"], self.base_fig
        share = {k: fig[k] / max(b[k], 1) for k in ("dsp", "lut", "bram18")}
        if self.objective == "fps":
            return fig["fps"] / base["fps"] - SECONDARY * sum(share.values()) / 3
        other = [k for k in share if k != self.objective]
        return -fig[self.objective] / max(base[self.objective], 1) - SECONDARY * sum(share[k] for k in other) / 2

    def quick(self, bits: dict) -> dict | None:
        """The folder's figures for ``bits`` without the layer-by-layer methods (ranking only)."""
        key = tuple(sorted(bits.items()))
        if key not in self._quick:
            self._quick[key] = self.figures(self.ev.quantize(self.ev.config(bits, self.top), refine=False))
        return self._quick[key]

    def whole(self, bits: dict, label: str, kind: str, step: str = "") -> dict:
        """Measure ``bits`` as compile would make it on all the search samples (the held-out half's
        metric and loss, each half's loss, the noise bound, the verdict) and the folder's figures."""
        qm = self.ev.quantize(self.ev.config(bits, self.top))
        fig = self.figures(qm)
        self.evaluations += 1
        out = self.ev.outputs(qm, self.feeds)
        per = self.ref_samples - metric_samples(self.metric, out, self.float_out, self.labels)
        halves = [float(np.mean(per[h])) for h in self.halves]
        broken = None if self.metric == "cosine" else predicted_breakage(out, self.float_out, self.labels)
        row = {"label": label, "kind": kind, "step": step, "metric": self.ref - halves[1], "loss": halves[1],
               "loss_halves": halves, "loss_bound": loss_bound(per), "breakage": broken, "fits": fig is not None,
               "bits": _bits_of(bits)}
        row.update({k: (fig or {}).get(k) for k in ("fps", "cycles", "dsp", "lut", "bram18", "uram")})
        row["score"] = self.score(fig)
        why = budget_verdict(per, self.halves, self.budget, _short_unit(self.metric), broken)
        row["beyond"] = why if fig is not None else "does not fit the board"
        row["within_budget"] = not row["beyond"]
        self._rows.append(row)
        return row

    def sensitivity(self, knob, width: int) -> float:
        """Loss on the sensitivity half with only ``knob`` at ``width`` (0 at the widest)."""
        if width == self.top:
            return 0.0
        if (knob, width) not in self._sens:
            bits = {**self.widest, knob: width}
            self._sens[(knob, width)] = self.loss(self.ev.quantize(self.ev.config(bits, self.top)), 0)
        return self._sens[(knob, width)]

    # --- the descent ------------------------------------------------------------------------------
    def run(self) -> None:
        self.top = self.choices[-1]
        self.widest = {k: self.top for k in self.ev.knobs}
        base_qm = self.ev.quantize(self.ev.config(self.widest, self.top))
        base = self.ev.fold(base_qm, self.user_target)
        if base is None:
            from ..fold import fold_model

            fold_model(base_qm, self.ev.board, ceiling=self.ev.ceiling, clock_mhz=self.ev.clock_mhz)  # its message
        if self.objective != "fps":  # every design is folded for the widest one's frames/s
            self.target = self.user_target or base.fps
            base = self.ev.fold(base_qm, self.target) or base
        self.base_fig = estimate(base)
        cur = dict(self.widest)
        row = self.whole(cur, f"uniform {self.top}", "uniform")
        worst = max(row["loss_halves"])
        if worst > self.budget + 1e-9:
            raise InputError(f"even uniform {self.top}-bit quantisation loses {worst:.4g} "
                             f"{_unit(self.metric)} on half the search samples, beyond the budget of {self.budget:g}; "
                             f"allow a larger budget, or improve the quantisation (observer, equalize, "
                             f"bias_correction, adaround in the config)")
        if row["within_budget"]:
            self.descend(cur, row, "")
        else:  # within it on each half, not beyond the noise: no step from it can be judged
            self.stopped.append(f"no descent from uniform {self.top}: {row['beyond']}; more samples (inputs=) "
                                f"or a larger budget would let the search judge narrower widths")
            self.log(self.stopped[-1])
        uniform = [self.whole({k: b for k in self.ev.knobs}, f"uniform {b}", "uniform")
                   for b in UNIFORM if b in self.choices and b != self.top]
        ok = [r for r in uniform if r["within_budget"]]
        if ok:  # the narrowest uniform config within the budget: descend from it too
            r = max(ok, key=lambda r: r["score"])
            self.descend(_knobs_of(r["bits"]), r, f" from {r['label']}")

    def descend(self, cur: dict, row: dict, origin: str) -> None:
        """Greedy steps from ``cur`` (measured as ``row``) while one improves the objective; the
        reason it stopped goes to ``self.stopped``."""
        frozen: set = set()  # knobs a single step down took beyond the budget, and such pair moves
        step = 0
        start = origin.removeprefix(" from ") or f"uniform {self.top}"

        def stop(why: str) -> None:
            self.stopped.append(f"descent from {start}: {'no step taken' if not step else f'{step} steps'}; {why}")
            self.log(self.stopped[-1])

        while True:
            now = row["score"]
            cands = []
            for move in [(k,) for k in self.ev.knobs] + list(self.ev.pairs):
                trial = _lowered(cur, move, self.choices)
                if trial is None or move in frozen or any(k in frozen for k in move if trial[k] < cur[k]):
                    continue
                gain = self.score(self.quick(trial)) - self.score(self.quick(cur))
                if gain > 0:
                    added = sum(max(self.sensitivity(k, trial[k]) - self.sensitivity(k, cur[k]), 0.0)
                                for k in move if trial[k] < cur[k])
                    cands.append(((added + 1e-9) / gain, _move_text(move, cur, trial), move, trial))
            if not cands:
                return stop(f"no narrower width left improves the {_goal(self.objective)} (estimate)")
            ranked = sorted(cands, key=lambda c: c[:2])
            for _, text, move, trial in ranked[:TRIES]:
                r = self.whole(trial, f"step {step + 1}{origin}", "search", text)
                if r["within_budget"] and r["score"] > now:
                    step += 1
                    cur, row = trial, r
                    self.log(f"step {step}{origin}: {text}: {self.metric} {r['metric']:.4g}, {_fig_text(r)}")
                    break
                self._rows.pop()
                frozen.add(move[0] if len(move) == 1 else move)
                last = f"{text}: {r['beyond'] or 'no gain measured as a whole'}"
            else:
                if len(ranked) > TRIES:
                    return stop(f"the {TRIES} best-ranked steps all went beyond the budget (the last, {last}); "
                                f"stopped rather than try steps that would pass by chance")
                return stop(f"every step left went beyond the budget (the last, {last})")

    def best(self) -> dict:
        """The best row within the budget; the widest (the first row) when none is."""
        ok = [r for r in self._rows if r["within_budget"]]
        return max(ok, key=lambda r: (r["score"], r["metric"])) if ok else self._rows[0]

    def chosen_bits(self) -> dict[str, dict[str, int]]:
        return self.best()["bits"]

    def chosen_config(self) -> QuantConfig:
        return self.ev.config(_knobs_of(self.best()["bits"]), self.top)

    def table(self) -> list[dict]:
        best = self.best()
        rows = []
        for r in self._rows:
            dominated = any(o is not r and o["fits"] and o["metric"] >= r["metric"] and o["score"] >= r["score"]
                            and (o["metric"] > r["metric"] or o["score"] > r["score"]) for o in self._rows)
            out = {k: v for k, v in r.items() if k != "score"}
            out.update(chosen=r is best, pareto=r["fits"] and not dominated)
            rows.append(out)
        return rows

    def sens_rows(self) -> list[dict]:
        return [{"layer": k[0], "knob": k[1], "bits": b, "loss": v} for (k, b), v in sorted(self._sens.items())]


def _bits_of(bits: Mapping) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for (name, key), b in bits.items():
        out.setdefault(name, {})[key] = int(b)
    return out


def _knobs_of(bits: Mapping) -> dict[tuple[str, str], int]:
    return {(name, k): b for name, over in bits.items() for k, b in over.items()}


def _lowered(cur: dict, move: tuple, choices: list[int]) -> dict | None:
    """``cur`` with the knobs of ``move`` at the next width below the widest of them (a knob
    already narrower stays); None when there is none or nothing changes."""
    lower = [b for b in choices if b < max(cur[k] for k in move)]
    if not lower:
        return None
    trial = {**cur, **{k: min(cur[k], lower[-1]) for k in move}}
    return trial if trial != cur else None


def _move_text(move: tuple, cur: dict, trial: dict) -> str:
    return ", ".join(f"{_knob_text(k)} {cur[k]}->{trial[k]}" for k in move if trial[k] != cur[k])


def _knob_text(knob) -> str:
    name, key = knob
    return f"{name} {'weights' if key == 'weight_bits' else 'output'}" if name != INPUT else f"{name}"


def _fig_text(r: dict) -> str:
    return f"{r['fps']:,.0f} frames/s, DSP {r['dsp']:,}, LUT {r['lut']:,} (estimates)"


def _goal(objective: str) -> str:
    return {"fps": "frames/s", "dsp": "DSPs", "lut": "LUTs"}[objective]


def _short_unit(metric: str) -> str:
    return "" if metric == "cosine" else " points"


def _unit(metric: str) -> str:
    return {"top1": "points of top-1 accuracy", "agreement": "points of top-1 agreement with the float model",
            "cosine": "of mean cosine similarity"}[metric]
