"""The tiled engine's array stage is its MAC loop (hls/include/fpga_accel/tiled/conv.h, pool.h): no bias
fill and no acc_bits pass beside it. In the traced C simulation every array-stage (COMPUTE) event
carries exactly the iterations of one stage's MAC loop, computed here from the layer's geometry, and
a layer's sum is its FA_CYCLE count; the acc_bits check, made inside the loop, stops the engine at
the same accumulator width and on the same layer as the executor.
"""
import copy

import numpy as np
import pytest
from test_tiled_engine import GRAPHS
from test_tiled_hls import wide_case
from test_tiled_hls_speed import speed_graph
from tiled_util import needs_toolchain, random_case  # noqa: F401 (an autouse fixture)

from fpga_accel.tiled import TiledEngine, build_program, csim
from fpga_accel.tiled.cost import _conv_geometry, layer_steps
from fpga_accel.tiled.program import ProgramError
from fpga_accel.tiled.tiles import spans, tap_parallel

COMPUTE = 3  # tiled/trace.h Unit




def cdiv(a: int, b: int) -> int:
    return -(-a // b)


def mode(d: dict, engine: dict) -> str | None:
    if d["kind"] in ("maxpool", "avgpool"):
        return "pool"
    if d["kind"] not in ("conv", "gemm"):
        return None
    geo = _conv_geometry(d)
    if geo["groups"] > 1 and geo["cin_per_group"] == 1:
        return "depthwise"
    return "tap" if d["kind"] == "conv" and tap_parallel(d, engine) else "dense"


def mac_iterations(d: dict, engine: dict, np_: int) -> tuple[int, int]:
    """(iterations of one array stage, array stages) of a spatial tile of np_ pixels, from the
    geometry: the MAC loop's trip counts and nothing else (docs/tiled.md §2, §4). A dense stage is a
    step of G Tn tiles: (np·K, stages of Tn tiles) — the test sums them per event."""
    tm, tn = d["tile"]["tm"], d["tile"]["tn"]
    if d["kind"] in ("maxpool", "avgpool"):
        k = d["geometry"]["kernel"][0] * d["geometry"]["kernel"][1]
        return np_ * cdiv(k, tn), cdiv(d["inputs"][0]["c"], tm)
    geo = _conv_geometry(d)
    k, g, cg, mg = geo["kernel"][0] * geo["kernel"][1], geo["groups"], geo["cin_per_group"], geo["cout_per_group"]
    m = mode(d, engine)
    if m == "depthwise":
        return np_ * cdiv(k, tn), cdiv(g * mg, tm)
    if m == "tap":
        return np_ * cdiv(k * cg, tn), g * cdiv(mg, tm)
    return np_ * k, g * cdiv(mg, tm) * cdiv(cg, tn)  # a pass over one Tn tile's taps


def traced(program):
    from fpga_accel.sim.tiled import random_raw_inputs
    from fpga_accel.sim.tiled_build import TracedCsim

    first = random_raw_inputs(program, 1, 0)
    sim = TracedCsim(program)
    outs, trace = sim.trace(first)
    want = TiledEngine(program).run(first)
    for k in want:
        np.testing.assert_array_equal(outs[k], want[k])
    return sim, trace


CASES = {  # (graph, build arguments), each with the modes it must hold
    "speed": (lambda: (speed_graph(), {"tm": 4, "tn": 8}), {"tap", "dense"}),
    "wide": (lambda: wide_case(), {"dense"}),
    "depthwise": (lambda: (GRAPHS["depthwise"], {"tm": 3, "tn": 5, "tile": (2, 3)}), {"depthwise", "dense"}),
    "pools": (lambda: (GRAPHS["pools"], {"tm": 3, "tn": 4, "tile": (2, 3)}), {"pool", "tap"}),
}


def build(case):
    make, modes = CASES[case]
    got = make()
    if len(got) == 3:  # wide_case: (qm, raw inputs, build arguments)
        qm, _, args = got
    else:
        model, args = got
        qm, _ = random_case(model, seed=7)
    program = build_program(qm, **args)
    assert modes <= {mode(d, program.engine) for d in program.layers}
    return program


@pytest.mark.parametrize("case", sorted(CASES))
def test_array_events_carry_exactly_the_mac_iterations(case):
    """Every COMPUTE event of a dense, tap-parallel, depthwise or window-pool layer is one array stage
    whose iterations are its MAC loop's (a dense step: whole passes of np·K over its Tn tiles), a
    layer's events sum to the loop trip counts over its spatial tiles and to its FA_CYCLE count (the
    cost model's compute): no fill or check loop adds to them."""
    program = build(case)
    sim, trace = traced(program)
    ev = trace.events
    cycles = sim.layer_cycles()
    for i, d in enumerate(program.layers):
        m = mode(d, program.engine)
        mine = ev[(ev["layer"] == i) & (ev["unit"] == COMPUTE)]
        if m is None:
            continue
        out, t = d["output"], d["tile"]
        rows, cols = (1, 1) if d["kind"] == "gemm" else (t["rows"], t["cols"])
        h, w = (1, 1) if d["kind"] == "gemm" else (out["h"], out["w"])
        want = 0
        for r0, r1 in spans(h, rows):
            for q0, q1 in spans(w, cols):
                per, stages = mac_iterations(d, program.engine, (r1 - r0) * (q1 - q0))
                want += per * stages
                at = mine[(mine["r0"] == r0) & (mine["q0"] == q0)] if d["kind"] != "gemm" else mine
                assert len(at), (d["name"], r0, q0)
                if m == "dense":  # a step: whole passes over its Tn tiles' taps, G of them at most
                    assert all(int(n) % per == 0 for n in at["iterations"]), d["name"]
                    assert int(at["iterations"].sum()) == per * stages, d["name"]
                else:  # one Tm tile a stage
                    assert at["iterations"].tolist() == [per] * stages, d["name"]
        assert int(mine["iterations"].sum()) == want == cycles[i], d["name"]
        assert cycles[i] == sum(s.compute for s in layer_steps(d, program.engine)), d["name"]


def with_acc_bits(program, i: int, bits: int):
    p = copy.deepcopy(program)
    p.layers[i]["requant"]["acc_bits"] = bits
    return p


def executor_passes(program, inputs) -> bool:
    try:
        TiledEngine(program).run(inputs)
    except ProgramError:
        return False
    return True


def front_loaded(program, i: int):
    """``program`` with layer i's weights such that, on its input's largest value everywhere, the
    partial sums peak at the first check point P (1.5 times a power of two) and end at P/2 at most
    in magnitude (P/2 from the second Tn tile on; depthwise: the later taps take half of the first Tn
    taps' sum away): a check made only at the end, or only after a step of several Tn tiles, would
    pass a width one bit narrower than the executor's."""
    p = copy.deepcopy(program)
    d = p.layers[i]
    blk, geo, tn = d["weights"], _conv_geometry(d), d["tile"]["tn"]
    k = geo["kernel"][0] * geo["kernel"][1]
    dt, xmax = np.dtype(blk["dtype"]), np.iinfo(np.dtype(d["inputs"][0]["dtype"])).max
    w = p.weights[blk["offset"]:blk["offset"] + blk["count"] * dt.itemsize].view(dt)

    def positive(terms: int) -> int:  # weight of `terms` products summing to P = 1.5 * 2^m, m largest
        m = int(np.floor(np.log2(np.iinfo(dt).max * terms * xmax / 1.5)))
        return round(1.5 * 2**m / (terms * xmax))

    if mode(d, p.engine) == "depthwise":  # [channel][tap]
        pos = positive(tn)
        w.reshape(-1, k)[:] = np.where(np.arange(k) < tn, pos, -round(pos * tn / (2 * (k - tn))))
        return p
    g, cg, mg, tm = geo["groups"], geo["cin_per_group"], geo["cout_per_group"], d["tile"]["tm"]
    assert cg > tn
    pos = positive(k * tn)
    neg = -round(pos * tn / (2 * min(tn, cg - tn)))
    at = 0  # [group][Tm tile][Tn tile][tap][m][c]
    for _ in range(g):
        for o0, o1 in spans(mg, tm):
            for c0, c1 in spans(cg, tn):
                n = k * (o1 - o0) * (c1 - c0)
                w[at:at + n] = pos if c0 == 0 else neg if c0 == tn else 0
                at += n
    assert at == blk["count"]
    return p


@pytest.mark.parametrize("case, layer, weights", [("wide", "c1", "random"), ("wide", "c1", "front"),
                                                  ("speed", "stem", "random"), ("speed", "c3", "random"),
                                                  ("depthwise", "dw", "front"), ("depthwise", "dwm", "random")])
def test_acc_bits_overflow_is_found_where_the_executor_finds_it(case, layer, weights):
    """The narrowest acc_bits the executor accepts for a layer (its check after every Tn tile, Tn taps
    of a depthwise layer, a tap-parallel tile's end) is the narrowest the C simulation accepts: one
    bit less stops both on that layer (status 8, S_ACC), at that width the outputs are equal; also
    with weights whose partial sums peak before a Tm tile's end (front_loaded)."""
    from fpga_accel.sim.tiled import random_raw_inputs

    program = build(case)
    i = next(j for j, d in enumerate(program.layers) if d["name"] == layer)
    if weights == "front":
        program = front_loaded(program, i)
    first = random_raw_inputs(program, 1, 0)
    if weights == "front":  # the layer reads the model's input: its largest value everywhere
        first = {k: np.full_like(v, np.iinfo(v.dtype).max) for k, v in first.items()}
    lo, hi = 2, 40  # the executor fails at lo and passes at hi
    assert executor_passes(with_acc_bits(program, i, hi), first)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if executor_passes(with_acc_bits(program, i, mid), first) else (mid, hi)
    narrow = with_acc_bits(program, i, lo)
    with pytest.raises(ProgramError, match=f"layer '{layer}'"):
        TiledEngine(narrow).run(first)
    with pytest.raises(csim.EngineStatusError) as e:
        csim.TiledCsim(narrow).run(first)
    assert (e.value.code, e.value.layer) == (8, i), str(e.value)
    fit = with_acc_bits(program, i, hi)
    got, want = csim.TiledCsim(fit).run(first), TiledEngine(fit).run(first)
    for k in want:
        np.testing.assert_array_equal(got[k], want[k])
