"""One folding per layer for the fewest LUTs within a DSP budget (a multiple-choice knapsack).

When a bottleneck needs more DSPs than the board has, some layers must compute in LUTs (LUT
multipliers, or a folding that trades DSPs for logic). Moving layers one by one, best ratio
first, can overshoot the LUTs where another set of moves fits: each layer's choice is
all-or-nothing and the ratios do not add up. This search is exact over the layers' own estimates:
it keeps, layer by layer, every (DSPs, LUTs) total not dominated by another (fewer or as many
DSPs and LUTs), and returns the choice with the fewest LUTs whose DSPs fit. The totals are what the
caller prices each choice at: the folder first prices a layer's own stages, then what a folding
brings to the design's totals, width converters and stream FIFOs included (folder.py:
``priced_choice``); either way the chosen design is evaluated whole before it is kept.
"""
from __future__ import annotations

from collections.abc import Sequence

Choice = tuple[int, int, object]  # (DSPs, LUTs, the folding)


def pareto(choices: Sequence[Choice]) -> list[Choice]:
    """The choices no other beats on both DSPs and LUTs (ties: the first listed), fewest DSPs first."""
    out: list[Choice] = []
    for dsp, lut, fold in sorted(choices, key=lambda c: (c[0], c[1])):
        if not out or lut < out[-1][1]:
            out.append((dsp, lut, fold))
    return out


def fewest_luts(layers: Sequence[Sequence[Choice]], dsp_budget: int) -> list[object] | None:
    """One folding per layer with the fewest LUTs in total among those within ``dsp_budget`` DSPs
    (None when even the fewest DSPs exceed it). The frontier holds at most ``dsp_budget`` + 1
    states, so the work is bounded by the layers × their Pareto choices × the budget."""
    frontier: list[tuple[int, int, tuple]] = [(0, 0, ())]
    for choices in layers:
        options = pareto(choices)
        grown = [(d + cd, u + cu, picked + (f,)) for d, u, picked in frontier for cd, cu, f in options
                 if d + cd <= dsp_budget]
        if not grown:
            return None
        frontier = []
        for d, u, picked in sorted(grown, key=lambda s: (s[0], s[1])):
            if not frontier or u < frontier[-1][1]:
                frontier.append((d, u, picked))
    return list(min(frontier, key=lambda s: (s[1], s[0]))[2])
