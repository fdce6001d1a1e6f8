"""The auto-folder: PE / SIMD per layer for the most frames per second a board's budget allows.

Start with every layer fully folded (PE = SIMD = 1, or the given override). Then, repeatedly,
take the slowest layer (the pipeline runs at its pace) and give it the next-cheapest folding
that makes it faster; keep the step if the whole design still fits the budget (``ceiling`` of
each resource the board leaves to the accelerator), otherwise stop: no other layer's speed
matters while that one is the slowest. ``target_fps`` stops as soon as the goal is met. A last
pass gives every layer the cheapest folding that is still no slower than the result, so fast
layers do not hold resources they do not need.

The order of steps does not depend on the budget, so a bigger budget goes at least as far along
the same path: more resources never predict fewer frames per second.

The search runs twice when a layer offers pixel parallelism with neuron or synapse folds (the MMV
steps between a layer's power-of-two PE x SIMD steps, fold/lower.py): with and without those
foldings, keeping the faster result (the one without them on a tie). The steps change the greedy
path, and a path is not always better for having more choices: a step whose PX-pixel words need
wide converters can end a search that the plain steps would have carried further.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from ..errors import FpgaAccelError, InputError
from .boards import Board, board_names, get_board
from .design import Design, budget, evaluate
from .knapsack import fewest_luts, pareto
from .lower import LayerPlan, plan_layer
from .resources import memory_cost, small

#: faster bottlenecks in a row that may fail to fit before the search for one gives up
MAX_MISSES = 16
RESOURCE_TEXT = {"dsp": "DSP", "bram18": "BRAM18", "uram": "URAM", "lut": "LUT", "ff": "FF"}


class FoldError(FpgaAccelError):
    """The model cannot be folded onto the board (it does not fit, or an override is invalid)."""


@dataclass
class FoldResult:
    """The chosen design and what it predicts (every figure an estimate)."""

    design: Design
    clock_mhz: float
    ceiling: float
    target_fps: float | None
    overrides: dict[str, dict[str, int]] = field(default_factory=dict)
    stop_reason: str = ""

    @property
    def board(self) -> Board:
        return self.design.board

    @property
    def cycles(self) -> int:
        return self.design.cycles

    @property
    def fps(self) -> float:
        return self.clock_mhz * 1e6 / self.cycles

    @property
    def foldings(self) -> dict[str, dict[str, int]]:
        return {lay.name: dict(lay.fold) for lay in self.design.layers}


def fold_model(qmodel, board: str | Board, ceiling: float = 0.8, target_fps: float | None = None,
               overrides: Mapping[str, Mapping[str, int]] | None = None, clock_mhz: float | None = None) -> FoldResult:
    """Choose PE / SIMD for every layer of ``qmodel`` on ``board`` (see the module docstring).

    ``overrides`` maps layer names to a fixed folding (``{"pe": 4, "simd": 8}``); they are
    validated and kept as given. ``clock_mhz`` defaults to the board's clock. Raises
    :class:`FoldError` when even the fully folded design does not fit.
    """
    board = get_board(board)
    check_options(ceiling, target_fps, clock_mhz)
    clock = float(clock_mhz or board.clock_mhz)
    plans = [plan_layer(lay, qmodel, board.dsp_port_bits) for lay in qmodel.layers]
    fixed = _check_overrides(plans, overrides or {})
    cache: dict = {}
    plain = _search(qmodel, [replace(p, mmv_steps=False) for p in plans], board, float(ceiling), target_fps, fixed,
                    clock, cache)
    if not any(p.folds() != replace(p, mmv_steps=False).folds() for p in plans if p.name not in fixed):
        return plain
    stepped = _search(qmodel, plans, board, float(ceiling), target_fps, fixed, clock, cache)
    return stepped if stepped.cycles < plain.cycles else plain


def _search(qmodel, plans: list[LayerPlan], board: Board, ceiling: float, target_fps: float | None, fixed: dict,
            clock: float, cache: dict) -> FoldResult:
    """The search of the module docstring over ``plans``' foldings."""
    limits = budget(board, float(ceiling))
    folds = {p.name: dict(fixed.get(p.name, p.folds()[0])) for p in plans}
    design = evaluate(qmodel, plans, folds, board, limits, cache)
    if not design.fits() and {"bram18", "uram"} & set(design.over()):
        folds, design = _fit_memory(qmodel, plans, folds, fixed, board, limits, cache, design)
    if not design.fits():
        others = [n for n in board_names() if n != board.name and
                  evaluate(qmodel, plans, folds, get_board(n), budget(get_board(n), float(ceiling)), cache).fits()]
        at_full = float(ceiling) < 1.0 and evaluate(qmodel, plans, folds, board, budget(board, 1.0), cache).fits()
        raise FoldError(_no_fit_message(qmodel, design, board, float(ceiling), fixed, others, at_full))
    goal = clock * 1e6 / float(target_fps) if target_fps else 0.0
    options = {p.name: _ordered(p, qmodel, cache, board) for p in plans}
    reason = ""
    while True:
        slowest = max(design.layers, key=lambda lay: lay.cycles)
        if design.cycles <= goal:
            reason = "target frames/s reached"
            break
        if slowest.cycles < design.cycles:
            reason = "an I/O adapter is the slowest stage"
            break
        if slowest.name in fixed:
            reason = f"the slowest layer '{slowest.name}' has a fixed folding"
            break
        step = next(((f, c) for f, c in options[slowest.name] if c < slowest.cycles), None)
        if step is None:
            reason = f"the slowest layer '{slowest.name}' is fully parallel"
            break
        trial = {**folds, slowest.name: step[0]}
        d = evaluate(qmodel, plans, trial, board, limits, cache)
        if not d.fits():
            over = ", ".join(RESOURCE_TEXT[k] for k in d.over())
            reason = f"the next step for '{slowest.name}' ({_fold_text(step[0])}) would exceed the {over} budget"
            break
        if next(lay.cycles for lay in d.layers if lay.name == slowest.name) >= slowest.cycles:
            reason = (f"the slowest layer '{slowest.name}' waits on the width converter in front of it (its "
                      f"input arrives in narrower words)")
            break
        folds, design = trial, d
    design = _relax(qmodel, plans, folds, fixed, options, max(design.cycles, goal), board, limits, cache, design)
    if "would exceed" in reason:
        before = design.cycles
        design, why = _fill(qmodel, plans, fixed, options, goal, board, limits, cache, design)
        reason = why or (reason if design.cycles == before else _limit(design, fixed, goal))
    return FoldResult(design, clock, float(ceiling), float(target_fps) if target_fps else None,
                      {k: dict(v) for k, v in fixed.items()}, reason)


def _limit(design: Design, fixed, goal: float) -> str:
    """Why a design that reached every target the search tried is as fast as it gets."""
    if design.cycles <= goal:
        return "target frames/s reached"
    slowest = max(design.layers, key=lambda lay: lay.cycles)
    if slowest.cycles < design.cycles:
        return "an I/O adapter is the slowest stage"
    if slowest.name in fixed:
        return f"the slowest layer '{slowest.name}' has a fixed folding"
    return f"the slowest layer '{slowest.name}' is fully parallel"


def _fit_memory(qm, plans, folds, fixed, board, limits, cache, design) -> tuple[dict, Design]:
    """Start from foldings that need less on-chip memory when the fully folded design does not fit
    it: fully folded is the smallest logic, not the smallest memory (an 8-bit weight memory or line
    buffer one lane wide fills 8 of a URAM word's 72 bits). Each free layer's alternative is the
    folding with the least share of the board (:func:`_share`); layers move to it, most memory share
    saved first, until the design fits. The order does not depend on the ceiling."""
    moves = []
    for plan in plans:
        if plan.name in fixed:
            continue
        start = _share(plan, folds[plan.name], board, cache)
        best = min((f for f in plan.folds() if f.get("mul") != "lut"),
                   key=lambda f: (_share(plan, f, board, cache), f.get("pe", 1), f.get("simd", 1)))
        saved = start[1] - _share(plan, best, board, cache)[1]
        if saved > 0:
            moves.append((-saved, plan.name, best))
    folds = dict(folds)
    for _, name, best in sorted(moves, key=lambda m: (m[0], m[1])):
        folds[name] = best
        design = evaluate(qm, plans, folds, board, limits, cache)
        if design.fits():
            break
    return folds, design


def _share(plan: LayerPlan, fold: dict, board, cache: dict) -> tuple[float, float]:
    """A layer's share of the board at ``fold``: its DSPs, LUTs, BRAM18 and URAM, each over what the
    board has, summed; each memory placed where its share is smaller (LUTRAM when small). Returns
    (the share, the memory blocks' part of it)."""
    key = ("share", plan.name, tuple(sorted(fold.items())))
    if key not in cache:
        avail = {k: max(board.available(k), 1) for k in ("dsp", "lut", "bram18", "uram")}
        logic, blocks = 0.0, 0.0
        for s in _stages(plan, fold, cache):
            c = s.cost(board)
            logic += c.dsp / avail["dsp"] + c.lut / avail["lut"]
            for m in c.memories:
                if small(m):
                    logic += memory_cost(m).lut / avail["lut"]
                    continue
                options = [memory_cost(m).bram18 / avail["bram18"]]
                if board.uram:
                    options.append(memory_cost(m, "uram").uram / avail["uram"])
                blocks += min(options)
        cache[key] = (logic + blocks, blocks)
    return cache[key]


def _logic(plan: LayerPlan, fold: dict, board, cache: dict, resource: str) -> int:
    """The ``resource`` ("dsp" or "lut") a layer's stages take at ``fold``, memories aside."""
    key = ("logic", resource, plan.name, tuple(sorted(fold.items())))
    if key not in cache:
        cache[key] = sum(getattr(s.cost(board), resource) for s in _stages(plan, fold, cache))
    return cache[key]


def _stages(plan: LayerPlan, fold: dict, cache: dict):
    key = (plan.name, tuple(sorted(fold.items())))
    if key not in cache:
        cache[key] = plan.stages(fold)
    return cache[key]


def _fill(qm, plans, fixed, options, goal, board, limits, cache, design) -> tuple[Design, str]:
    """Faster targets after the step-by-step path stopped on the budget: for each bottleneck
    ``t`` the layers' options reach, fastest last, every free layer takes its cheapest option no
    slower than ``t`` (the one with the least share of the board when the cheapest run out of
    memory, the one with the fewest DSPs when they run out of DSPs); when that runs over the DSP
    budget, layers move to LUT multipliers (most DSPs saved per LUT first) until it fits. The fastest target that fits wins; MAX_MISSES targets in a
    row that do not end the search (a target can fail where a faster one, whose cheapest foldings
    fall differently, fits). Returns the design and why it stopped ("" when no target was faster)."""
    fastest = [min(c for _, c in options[p.name]) for p in plans if p.name not in fixed and options[p.name]]
    # the I/O adapters are left out: their words widen with the layers reading and writing them
    # the goal as a bottleneck the options reach: the slowest of them that still meets it (a goal between
    # two options' cycles is met only by the faster one)
    reach = max((c for p in plans if p.name not in fixed for _, c in options[p.name] if c <= goal), default=0)
    floor = max([lay.cycles for lay in design.layers if lay.name in fixed] + fastest + [reach])
    targets = sorted({c for p in plans if p.name not in fixed for f, c in options[p.name] if floor <= c < design.cycles},
                     reverse=True)
    fixed_folds = {lay.name: lay.fold for lay in design.layers if lay.name in fixed}
    why, failed = "", 0
    for t in targets:
        folds = {p.name: fixed_folds.get(p.name) or next(f for f, c in options[p.name] if c <= t) for p in plans}
        d = evaluate(qm, plans, folds, board, limits, cache)
        if not d.fits() and {"bram18", "uram"} & set(d.over()):  # the folding with the least share instead
            folds = {p.name: fixed_folds.get(p.name) or min(
                (f for f, c in options[p.name] if c <= t),
                key=lambda f, p=p: (_share(p, f, board, cache), f.get("pe", 1), f.get("simd", 1))) for p in plans}
            d = evaluate(qm, plans, folds, board, limits, cache)
        if not d.fits() and "dsp" in d.over():  # the folding with the fewest DSPs instead
            least = {p.name: fixed_folds.get(p.name) or min(
                (f for f, c in options[p.name] if c <= t),
                key=lambda f, p=p: (_logic(p, f, board, cache, "dsp"), _share(p, f, board, cache),
                                    f.get("pe", 1), f.get("simd", 1))) for p in plans}
            fewer = evaluate(qm, plans, least, board, limits, cache)
            if fewer.fits() or fewer.usage.dsp < d.usage.dsp:
                folds, d = least, fewer
        if not d.fits() and set(d.over()) == {"dsp"}:
            d = _lut_multipliers(qm, plans, folds, fixed, board, limits, cache, d)
            if d.fits():  # the greedy moves can spend more LUTs than needed: the exact choice where it has fewer
                exact = _fewest_luts(qm, plans, fixed, t, board, limits, cache, d)
                d = exact if exact.fits() and exact.usage.lut < d.usage.lut else d
        if not d.fits() and set(d.over()) <= {"dsp", "lut"}:  # the greedy moves overshot: an exact choice
            d = _fewest_luts(qm, plans, fixed, t, board, limits, cache, d)
        if not d.fits():
            failed += 1
            if not why:
                over = ", ".join(RESOURCE_TEXT[k] for k in d.over())
                lut = " with LUT multipliers where they apply" if any(lut_variant(p, f) for p in plans
                                                                      for f, _ in options[p.name]) else ""
                why = f"a faster bottleneck ({t:,} cycles per image) would exceed the {over} budget{lut}"
            if failed == MAX_MISSES:
                break
            continue
        if d.cycles >= design.cycles:  # a width converter holds it: no faster than what is there
            failed += 1
            if failed == MAX_MISSES:
                break
            continue
        design, why, failed = d, "", 0
    return design, why


def lut_variant(plan: LayerPlan, fold: dict) -> dict | None:
    """``fold`` with LUT multipliers in place of DSPs, when the layer offers that option."""
    if fold.get("mul") == "lut":
        return None
    v = {**fold, "mul": "lut"}
    return v if plan.check(v) is None else None


def _lut_multipliers(qm, plans, folds, fixed, board, limits, cache, design: Design) -> Design:
    """Move layers to LUT multipliers, most DSPs saved per LUT spent first, until the DSPs fit
    (the order does not depend on the budget, so a larger budget never moves more)."""
    variants = {p.name: v for p in plans if p.name not in fixed and (v := lut_variant(p, folds[p.name]))}
    if not variants:
        return design
    all_lut = evaluate(qm, plans, {**folds, **variants}, board, limits, cache)
    gain = []
    for before, after in zip(design.layers, all_lut.layers):
        if before.name in variants:
            saved, spent = before.usage.dsp - after.usage.dsp, after.usage.lut - before.usage.lut
            if saved > 0:
                gain.append((-saved / max(spent, 1), before.name, saved))
    excess = design.usage.dsp - limits["dsp"]
    moved = dict(folds)
    for _, name, saved in sorted(gain):
        moved[name] = variants[name]
        excess -= saved
        if excess <= 0:
            d = evaluate(qm, plans, moved, board, limits, cache)
            if d.fits() or set(d.over()) != {"dsp"}:
                return d
    return evaluate(qm, plans, moved, board, limits, cache)


def _fewest_luts(qm, plans, fixed, t: int, board, limits, cache, design: Design) -> Design:
    """Every free layer's folding no slower than ``t`` (LUT multipliers included), chosen together for
    the fewest LUTs whose DSPs fit (:func:`knapsack.fewest_luts`). Each folding is priced by what it
    brings to the design's totals (:func:`_brought`: its own stages, the width converters and the
    stream FIFOs its words need, the other layers kept where they are), so a folding whose wide words
    need converters and deep FIFOs does not look cheap. The prices depend on the neighbours'
    foldings: each of ``ROUNDS`` pricings is against the last one's choice; the first that fits wins,
    ``design`` when none does. The choice priced by the layers' own stages alone comes
    first (it is quick, and a lower bound on the LUTs: when it fits it is taken, and when its LUTs
    alone exceed the budget no pricing can fit). The choice depends on the DSP budget only through what
    fits, and a larger budget admits every choice a smaller one does."""
    free = [p for p in plans if p.name not in fixed]
    folds = {lay.name: lay.fold for lay in design.layers}
    # first each layer's own stages alone (quick): a lower bound on the LUTs, and often a choice that fits
    own = {p.name: _own(p, folds[p.name], board, cache) for p in free}
    rest_dsp = design.usage.dsp - sum(d for d, _ in own.values())
    alone = [[(*_own(p, f, board, cache), f) for f in p.folds()
              if max((s.cycles() for s in _stages(p, f, cache)), default=0) <= t] for p in free]
    picked = fewest_luts(alone, limits["dsp"] - rest_dsp)
    if picked is None:
        return design
    trial = {**folds, **{p.name: f for p, f in zip(free, picked, strict=True)}}
    d = evaluate(qm, plans, trial, board, limits, cache)
    if d.fits():
        return d
    if sum(_own(p, f, board, cache)[1] for p, f in zip(free, picked, strict=True)) > limits["lut"]:
        return design  # the layers alone need more LUTs than the budget: no pricing can fit them
    for _ in range(ROUNDS):
        trial = priced_choice(qm, plans, free, folds, t, board, limits["dsp"], cache)
        if trial is None:
            return design
        d = evaluate(qm, plans, trial[0], board, limits, cache)
        if d.fits():
            return d
        folds = trial[0]
    return design


def priced_choice(qm, plans, free, folds: dict, t: int, board, dsp_budget: int, cache: dict):
    """(foldings, (DSPs, LUTs) they predict for the design) with ``free``'s layers at their foldings no
    slower than ``t`` of the fewest LUTs within ``dsp_budget``, each priced by :func:`_brought` against
    ``folds``; None when no choice is within the DSPs. The prediction adds each layer's change to the
    design's totals, so it is exact where the layers' changes do not meet (no two moved layers share a
    stream)."""
    priced = [_brought(qm, plans, folds, p, t, board, cache) for p in free]
    if not all(priced):
        return None
    base = evaluate(qm, plans, folds, board, UNLIMITED, cache).usage
    low = [min(d for d, _, _ in c) for c in priced]
    choices = [[(d - lo, u, f) for d, u, f in c] for c, lo in zip(priced, low, strict=True)]
    # each price is the whole design's total with that one layer moved: the rest counts once
    rest = (len(free) - 1) * base.dsp
    picked = fewest_luts(choices, dsp_budget - sum(low) + rest)
    if picked is None:
        return None
    at = [next((d, u) for d, u, g in c if g is f) for c, f in zip(priced, picked, strict=True)]
    predicted = (sum(d for d, _ in at) - rest, sum(u for _, u in at) - (len(free) - 1) * base.lut)
    return {**folds, **{p.name: f for p, f in zip(free, picked, strict=True)}}, predicted


#: pricings at a bottleneck, each against the last one's choice (a second one nearly doubles the
#: MobileNetV1-0.25 fold for zcu104, 6 s to 11 s, and changed no benchmark row)
ROUNDS = 1
#: limits no design reaches: totals as summed, no memory moved by the placement
UNLIMITED = {"dsp": 1 << 40, "bram18": 1 << 40, "uram": 1 << 40, "lut": 1 << 40, "ff": 1 << 40}


def _brought(qm, plans, folds: dict, plan: LayerPlan, t: int, board, cache: dict) -> list[tuple[int, int, dict]]:
    """(DSPs, LUTs, folding) of the whole design (:func:`evaluate`'s totals, FIFOs and converters
    included, before any placement move) with ``plan``'s layer at each of its foldings no slower than
    ``t`` and every other layer at ``folds``. Only the foldings not beaten on their own stages' DSPs and
    LUTs by another with the same words in and out and the same inner streams are evaluated: the
    converters and FIFOs a folding brings follow from those."""
    groups: dict[tuple, list] = {}
    for f in plan.folds():
        stages = _stages(plan, f, cache)
        if max((s.cycles() for s in stages), default=0) > t:
            continue
        words = (plan.in_lanes(f), plan.out_lanes(f),
                 tuple((s.kind, tuple(i.word_bits for i in s.inputs), s.input_slack(t)) for s in stages))
        groups.setdefault(words, []).append((*_own(plan, f, board, cache), f))
    out = []
    others = tuple(sorted((k, tuple(sorted(v.items()))) for k, v in folds.items() if k != plan.name))
    for group in groups.values():
        for _, _, f in pareto(group):
            key = ("brought", plan.name, tuple(sorted(f.items())), others)
            if key not in cache:
                u = evaluate(qm, plans, {**folds, plan.name: f}, board, UNLIMITED, cache).usage
                cache[key] = (u.dsp, u.lut)
            out.append((*cache[key], f))
    return out


def _own(plan: LayerPlan, fold: dict, board, cache: dict) -> tuple[int, int]:
    """(DSPs, LUTs) of a layer's own stages at ``fold``, its LUTRAM memories included."""
    key = ("own", plan.name, tuple(sorted(fold.items())))
    if key not in cache:
        dsp = lut = 0
        for s in _stages(plan, fold, cache):
            c = s.cost(board)
            dsp, lut = dsp + c.dsp, lut + c.lut + sum(memory_cost(m).lut for m in c.memories if small(m))
        cache[key] = (dsp, lut)
    return cache[key]


def check_options(ceiling: float, target_fps: float | None = None, clock_mhz: float | None = None) -> None:
    """An :class:`InputError` unless the folder's options are usable (checked before slow steps)."""
    def number(v) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool)

    if not number(ceiling) or not 0.0 < float(ceiling) <= 1.0:
        raise InputError(f"ceiling must be a fraction in (0, 1], e.g. 0.8 for 80 % of the board; got {ceiling!r}")
    if target_fps is not None and (not number(target_fps) or not float(target_fps) > 0):
        raise InputError(f"target frames/s must be a positive number, got {target_fps!r}")
    if clock_mhz is not None and (not number(clock_mhz) or not 0 < float(clock_mhz) < float("inf")):
        raise InputError(f"clock must be a positive number of MHz, got {clock_mhz!r}")


def _ordered(plan: LayerPlan, qm, cache, board: Board | None = None) -> list[tuple[dict, int]]:
    """The layer's foldings with their cycles, cheapest first: by the layer's share of ``board``
    (:func:`_share`: DSPs, LUTs and memory blocks, so two PEs sharing a DSP come before one PE with
    twice the SIMD), or without a board by products per cycle; then by cycles, then the larger SIMD
    (it also speeds up the window in front of an MVAU)."""
    out = []
    for f in plan.folds():
        if f.get("mul") == "lut":  # LUT multipliers are the fill's way out of the DSP budget, not a step
            continue
        cycles = max((s.cycles() for s in _stages(plan, f, cache)), default=0)
        out.append((f, cycles))
    cost = (lambda f: round(_share(plan, f, board, cache)[0], 9)) if board is not None else plan.products
    return sorted(out, key=lambda x: (cost(x[0]), x[1], -x[0].get("simd", 1), x[0].get("pe", 1)))


def _relax(qm, plans, folds, fixed, options, target, board, limits, cache, design) -> Design:
    """Every free layer to its cheapest folding that is no slower than ``target`` cycles."""
    relaxed = dict(folds)
    for p in plans:
        if p.name in fixed:
            continue
        cheapest = next((f for f, c in options[p.name] if c <= target), None)
        if cheapest is not None:
            relaxed[p.name] = cheapest
    if relaxed == folds:
        return design
    d = evaluate(qm, plans, relaxed, board, limits, cache)
    return d if d.fits() and d.cycles <= design.cycles else design


def _check_overrides(plans: list[LayerPlan], overrides: Mapping) -> dict[str, dict[str, int]]:
    by_name = {p.name: p for p in plans}
    out = {}
    for name, fold in overrides.items():
        if name not in by_name:
            raise FoldError(f"folding given for layer '{name}', which is not in the accelerated part; "
                            f"layers: {', '.join(by_name)}")
        if not isinstance(fold, Mapping):
            raise FoldError(f"folding of layer '{name}' must be a mapping like {{\"pe\": 2, \"simd\": 4}}, "
                            f"got {fold!r}")
        why = by_name[name].check(dict(fold))
        if why:
            raise FoldError(f"folding of layer '{name}' ({by_name[name].op}): {why}")
        out[name] = {k: v if k == "mul" else int(v) for k, v in fold.items()}
    return out


def _fold_text(fold: dict) -> str:
    return " x ".join(f"{k.upper()} {v}" for k, v in fold.items()) or "not folded"


def _no_fit_message(qm, design: Design, board: Board, ceiling: float, fixed, bigger: list[str],
                    fits_at_full: bool) -> str:
    over = design.over()
    u = design.usage.as_dict()
    how = "with the given foldings" if fixed else "even fully folded (PE = SIMD = 1 in every layer)"
    if {"bram18", "uram"} & set(over):
        how += " or with the foldings that need the least memory"
    head = (f"model '{qm.name}' does not fit board '{board.name}' ({board.part}) {how} "
            f"within a {ceiling:.0%} utilisation ceiling (resource figures are estimates):")
    lines = [head]
    for k in over:
        lines.append(f"  - {RESOURCE_TEXT[k]}: needs {u[k]:,}, the board has {board.total(k):,} "
                     f"({board.available(k):,} left by the shell / PS glue, {design.budget[k]:,} within the ceiling)")
        top = sorted(design.layers, key=lambda lay: -lay.usage.as_dict()[k])[:3]
        lines.append("    largest: " + ", ".join(f"'{lay.name}' ({lay.plan.op}) {lay.usage.as_dict()[k]:,}"
                                                 for lay in top if lay.usage.as_dict()[k]))
    if {"bram18", "uram"} & set(over):
        need = sum(m.bits for s in design.stages for m in s.cost(board).memories)
        have = board.bram18 * 18 * 1024 + board.uram * 288 * 1024
        lines.append(f"  on-chip memory: the arrays hold {need / 2**20:,.1f} Mbit; the board has {have / 2**20:,.1f} "
                     f"Mbit of BRAM18 and URAM, and narrow arrays waste part of each block")
    lines.append("options: fewer bits (--bits 4, or weight_bits / act_bits per layer in --config); "
                 + (f"a bigger board ({', '.join(bigger)}); " if bigger else "")
                 + (f"a higher --ceiling (it fits at 1.0, now {ceiling:g}); " if fits_at_full else "")
                 + "or run the last layers on the host (compile --host-nodes NAME: that node and everything "
                   "after it; `fpga-accel inspect MODEL --flow hardware` lists the names).")
    return "\n".join(lines)
