"""The exact per-layer choice for the fewest LUTs within a DSP budget, against brute force."""
import itertools
import random

from fpga_accel.fold.knapsack import fewest_luts, pareto


def _brute(layers, budget):
    best = None
    for combo in itertools.product(*layers):
        dsp, lut = sum(c[0] for c in combo), sum(c[1] for c in combo)
        if dsp <= budget and (best is None or lut < best):
            best = lut
    return best


def test_fewest_luts_equals_brute_force():
    rng = random.Random(7)
    for case in range(300):
        layers = [[(rng.randint(0, 40), rng.randint(0, 500), (i, j)) for j in range(rng.randint(1, 4))]
                  for i in range(rng.randint(1, 5))]
        budget = rng.randint(0, 120)
        want = _brute(layers, budget)
        got = fewest_luts(layers, budget)
        if want is None:
            assert got is None, case
            continue
        by_fold = {c[2]: c for choices in layers for c in choices}
        assert [f[0] for f in got] == list(range(len(layers)))  # one choice per layer, in order
        assert sum(by_fold[f][0] for f in got) <= budget
        assert sum(by_fold[f][1] for f in got) == want


def test_greedy_ratio_overshoots_where_the_exact_choice_fits():
    # 10 DSPs to shed: the best ratio (a: 6 DSPs for 60 LUTs) then needs b as well (160 LUTs);
    # c alone sheds them for 110
    layers = [[(6, 0, "a-dsp"), (0, 60, "a-lut")], [(4, 0, "b-dsp"), (0, 100, "b-lut")],
              [(10, 0, "c-dsp"), (0, 110, "c-lut")]]
    assert fewest_luts(layers, 10) == ["a-dsp", "b-dsp", "c-lut"]


def test_pareto_drops_dominated_choices():
    assert pareto([(5, 5, "x"), (3, 9, "y"), (5, 4, "z"), (6, 4, "w"), (3, 10, "v")]) == [(3, 9, "y"), (5, 4, "z")]
