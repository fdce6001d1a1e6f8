"""`simulate` on tiled-engine bundles: the engine's C simulation traced stage by stage, replayed with
the ping-pong schedule and the DDR model. Outputs == the emulator; the simulation never beats the
array or the DDR; with a fast DDR it is the compute plus the pipeline fill, with a slow one it
follows bytes / bandwidth; it agrees with the cost model on the bytes moved."""
import copy
import dataclasses
import json

import numpy as np
import pytest

import fpga_accel
from fpga_accel.bundle_tiled import load_program
from fpga_accel.cli import main as cli_main
from fpga_accel.errors import InputError
from fpga_accel.fold import get_board
from fpga_accel.sim.tiled import simulate_tiled
from fpga_accel.sim.tiled_replay import BOUNDARY, Calendar, DdrModel
from fpga_accel.tiled.cost import BURST_EFFICIENCY, SERIAL, layer_steps, program_cost, span_overlap
from fpga_accel.tiled.ports import split
from models import data

MODELS = ["mnist_cnn", "resnet_ds"]


@pytest.fixture(scope="module", autouse=True)
def _toolchain():
    from fpga_accel import toolchain

    try:
        toolchain.compiler()
        toolchain.ap_types_dir()
    except toolchain.ToolchainError as e:
        pytest.skip(str(e))


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    root = tmp_path_factory.mktemp("sim-tiled")
    return {m: fpga_accel.compile(data.model_path(m), root / f"{m}.fpga",
                                  calib=data.HERE / data.info(m)["calib"]["path"], progress=False, engine="tiled",
                                  board="pynq-z2")
            for m in MODELS}


def misplaced(est):
    """Bursts the model may miss: it places every alike step's bytes where the first one's start, so
    a 4 KiB boundary a later step's run crosses (one at most per 4 KiB moved) is not counted."""
    return 2 + est.ddr_bytes // BOUNDARY


def unsplit_engine(b):
    """Bundle ``b`` with its engine unsplit (manifest tiled.array.split false), as for a board without a PS
    (:func:`board`), whose model counts no second masters."""
    manifest = copy.deepcopy(b.manifest)
    manifest["tiled"]["array"]["split"] = False
    return dataclasses.replace(b, manifest=manifest)


def board(gbps):
    """pynq-z2 with a DDR of ``gbps`` and no PS port between it and the engine: the DDR model alone
    (test_tiled_hp_ports covers the port)."""
    return dataclasses.replace(get_board("pynq-z2"), name=f"test-{gbps}", ddr_gbps=gbps, ps=None)


@pytest.mark.parametrize("model", MODELS)
def test_outputs_equal_the_emulator_and_bytes_equal_the_model(bundles, model):
    b = bundles[model]
    res = simulate_tiled(b, images=3, seed=1)
    assert res.outputs_match is True
    program, _ = load_program(b)
    cost = program_cost(program, "pynq-z2")
    for lay, est in zip(res.layers, cost.layers):
        assert lay.ddr_bytes == est.ddr_bytes, lay.name  # the engine moves what the model counts
        assert lay.compute_cycles == est.compute_cycles, lay.name
    # every image runs the same program: the same cycles
    done = np.diff([0.0, *res.image_done])
    assert np.allclose(done, done[0]) and res.cycles_per_image == pytest.approx(done[0])


@pytest.mark.parametrize("model", MODELS)
def test_never_faster_than_the_array_or_the_ddr(bundles, model):
    res = simulate_tiled(bundles[model], images=2, check=False)
    bpc = res.ddr["bytes_per_cycle"]
    for lay in res.layers:
        assert lay.cycles >= lay.compute_cycles, lay.name
        assert lay.cycles >= lay.ddr_busy - 1e-6 and lay.ddr_busy >= lay.ddr_bytes / bpc - 1e-6, lay.name
    assert res.cycles_per_image >= sum(lay.cycles for lay in res.layers)


def test_slow_ddr_is_memory_bound_and_follows_bytes_over_bandwidth(bundles):
    b = bundles["mnist_cnn"]
    fast = simulate_tiled(b, images=2, check=False)
    slow = simulate_tiled(b, images=2, board=board(0.01), check=False)
    bpc = 0.01e9 * BURST_EFFICIENCY / 100e6
    assert slow.ddr["bytes_per_cycle"] == pytest.approx(bpc)
    assert slow.cycles_per_image > 20 * fast.cycles_per_image
    for lay in slow.layers:
        assert lay.bound == "memory", lay.name
        # bytes / bandwidth, plus at most the compute a step cannot overlap and a latency per burst
        assert lay.ddr_bytes / bpc <= lay.cycles <= lay.ddr_bytes / bpc + lay.compute_cycles + 64 * lay.bursts, lay.name
    moved = sum(lay.ddr_bytes for lay in slow.layers) / bpc
    assert moved <= slow.cycles_per_image - slow.control_cycles <= 1.05 * moved


def test_fast_ddr_gives_the_compute_plus_the_pipeline_fill(bundles):
    """A DDR with no latency, moving any burst in one cycle: a single-step layer takes its load's bursts,
    its compute and its store's bursts one after another; a conv hides its loads behind the array
    where it has many steps, but a burst takes a cycle however small: the tap-parallel stem, whose
    im2col load is a burst per input row and kernel row, adds its bursts to its compute — and the
    cost model counts the same bursts. The engine is the one a board without a PS builds: unsplit."""
    b = unsplit_engine(bundles["mnist_cnn"])
    program, _ = load_program(b)
    res = simulate_tiled(b, images=1, board=board(1e6), ddr_latency=0, bus_bytes=BOUNDARY, max_beats=1,
                         check=False)
    cost = program_cost(program, board(1e6), latency=0)

    def pieces(off, n):  # 4 KiB pieces of a contiguous region
        return (off + n - 1) // BOUNDARY - off // BOUNDARY + 1

    pool = next(i for i, d in enumerate(program.layers) if d["kind"] == "maxpool")
    d, lay = program.layers[pool], res.layers[pool]
    x, o = d["inputs"][0], d["output"]
    assert (o["h"] <= d["tile"]["rows"] and o["w"] <= d["tile"]["cols"] and x["c"] <= d["tile"]["tm"] and x["pixel_stride"] == x["c"]
            and o["pixel_stride"] == o["c"])  # one step, contiguous views: one run each way
    # each stage the longer of its bursts (4 KiB pieces here) and its data mover's iterations, one a
    # cycle: the load a bus word of W bytes a pixel's run touches, the output path P = min(out_lanes,
    # W / itemsize) lanes an iteration (docs/tiled.md §4; W = 64 without a PS)
    w, s = 64, np.dtype(x["dtype"]).itemsize
    assert d["geometry"]["pads"] == [0, 0, 0, 0] and x["h"] * x["w"] > 1  # the halo is the image
    runs = [x["offset"] + p * x["c"] * s for p in range(x["h"] * x["w"])]
    load_its = sum((a + x["c"] * s - 1) // w - a // w + 1 for a in runs)
    lanes = min(w // np.dtype(o["dtype"]).itemsize, program.engine.get("out_lanes", w))  # the search's out_lanes
    store_its = o["h"] * o["w"] * -(-o["c"] // lanes)
    load = max(pieces(x["offset"], x["h"] * x["w"] * x["c"] * s), load_its)
    store = max(pieces(o["offset"], o["h"] * o["w"] * o["c"] * s), store_its)
    assert load == load_its > pieces(x["offset"], x["h"] * x["w"] * x["c"] * s)  # the mover sets the pace
    assert lay.cycles == load + lay.compute_cycles + store
    for lay, d in zip(res.layers, program.layers):  # at worst every stage in turn: its movers or its bursts
        steps = list(layer_steps(d, program.engine, bus=64))
        moves = sum(st.load_moves + st.fetch_moves + st.store_moves for st in steps)
        assert lay.compute_cycles <= lay.cycles <= lay.compute_cycles + lay.bursts + moves, lay.name
    stem, est = res.layers[0], cost.layers[0]
    assert stem.kind == "conv" and program.layers[0]["geometry"]["cin_per_group"] == 1  # 1 channel: tap-parallel
    # the im2col tile is formed on chip from the input rows its taps span: a burst per input row and
    # kernel row, far fewer than the array's cycles (it was a burst per pixel row of a tap window);
    # a Tm tile a spatial tile, but the pipeline runs on from one spatial tile into the next: each
    # tile's load hides behind the array on the tile before, its output path beside the next tile's
    # array; what stays is the fill and the drain: the first load and array, the last output path
    geo, out = program.layers[0]["geometry"], program.layers[0]["output"]
    assert stem.bursts < out["h"] * out["w"] * geo["kernel"][0] // 4  # a burst per pixel row of a tap window: 4x
    steps = list(layer_steps(program.layers[0], program.engine, bus=64))
    first, last = steps[0], steps[-1]
    # each tile's array beside the tile before's output path (the longer of the two: out_lanes may make the
    # output path the longer), plus the fill and the drain
    overlapped = sum(max(st.compute, st.store_moves) for st in steps)
    assert stem.compute_cycles < stem.cycles <= first.load_moves + overlapped + last.store_moves + stem.bursts
    assert est.cycles == pytest.approx(stem.cycles, rel=0.01)  # the last, shorter tile beside the full one's output
    assert est.bursts == pytest.approx(stem.bursts, abs=2)
    for lay, est in zip(res.layers, cost.layers):  # the model counts the same bursts (4 KiB either way)
        assert est.bursts == pytest.approx(lay.bursts, rel=0.03, abs=misplaced(est)), lay.name
    # on the model's own bus (64 bytes, a burst of b beats takes b cycles) the model follows the
    # simulation per layer, the overlap across spatial tiles included
    bus = simulate_tiled(b, images=1, board=board(1e6), ddr_latency=0, check=False)
    for lay, est in zip(bus.layers, cost.layers):
        assert est.cycles == pytest.approx(lay.cycles, rel=0.03), lay.name


@pytest.fixture(scope="module")
def strided(tmp_path_factory):
    """A ShuffleNetV2 x0.5 at 32 x 32: its shuffles are outputs written through views of channel
    stride 2 and more (the pixel units' span rewrites)."""
    import onnx
    from shufflenet_util import shufflenet_v2

    root = tmp_path_factory.mktemp("sim-strided")
    onnx.save(shufflenet_v2(0.5, 32, classes=10), root / "shufflenet.onnx")
    np.save(root / "calib.npy", np.random.default_rng(0).normal(0, 1, (2, 3, 32, 32)).astype(np.float32))
    return fpga_accel.compile(root / "shufflenet.onnx", root / "s.fpga", calib=root / "calib.npy", progress=False,
                              engine="tiled", board="pynq-z2")


def test_channel_strided_pixels_move_the_bytes_and_bursts_the_model_counts(strided):
    from fpga_accel.tiled.pixel_access import writes_span

    program, _ = load_program(strided)
    units = [d for d in program.layers if d["kind"] not in ("conv", "gemm")]
    spans_ = [d for d in units if writes_span(d["output"], min(d["tile"]["tm"], d["output"]["c"]))]
    assert spans_  # the span rewrite is exercised
    res = simulate_tiled(strided, images=1, seed=1)
    assert res.outputs_match is True
    cost = program_cost(program, "pynq-z2")
    for lay, est, desc in zip(res.layers, cost.layers, program.layers):
        assert lay.ddr_bytes == est.ddr_bytes, lay.name
        if desc["kind"] in ("conv", "gemm"):
            continue
        assert est.bursts == pytest.approx(lay.bursts, rel=0.03, abs=misplaced(est)), lay.name
        if desc in spans_:  # a span read and written a pixel: fewer bursts than the writes alone took a channel each
            o = desc["output"]
            assert lay.bursts < o["h"] * o["w"] * o["c"], lay.name


@pytest.mark.parametrize("model", MODELS)
def test_the_model_follows_the_simulation_per_layer(bundles, model):
    """At the board's DDR (latency 64 cycles, 16 bursts in flight) the cost model counts the simulated
    bursts and its cycles stay within 15 % of the simulated ones per layer, 10 % per image; the
    depthwise convolutions and the pools, whose few steps the model runs through the three units as
    the replay does (cost._drained_cycles), within 2 % (resnet_ds's depthwise layers measured at
    0.99x, its max pool at 1.00x; docs/simulation.md lists each layer)."""
    b = bundles[model]
    program, _ = load_program(b)
    res = simulate_tiled(b, images=2, check=False)
    cost = program_cost(program, "pynq-z2")
    for lay, est, desc in zip(res.layers, cost.layers, program.layers):
        assert est.bursts == pytest.approx(lay.bursts, rel=0.03, abs=misplaced(est)), lay.name
        drained = span_overlap(desc, program.engine) is None and desc["kind"] not in SERIAL
        assert est.cycles == pytest.approx(lay.cycles, rel=0.02 if drained else 0.15), lay.name
    assert cost.cycles == pytest.approx(sum(lay.cycles for lay in res.layers), rel=0.1)


def test_calendar_fills_gaps_first_come_first_served():
    cal = Calendar()
    assert cal.reserve(10, 5) == 10  # [10, 15)
    assert cal.reserve(0, 4) == 0  # a gap before it
    assert cal.reserve(2, 4) == 4  # after [0, 4), fits [4, 8) before 10
    assert cal.reserve(5, 3) == 15  # [8, 10) is too short
    assert cal.starts == [0, 10] and cal.ends == [8, 18]  # merged where they touch
    assert cal.reserve(8, 2) == 8 and cal.starts == [0] and cal.ends == [18]


def test_bursts_split_at_4_kib_and_the_burst_length():
    ddr = DdrModel(16.0, bus_bytes=64, max_beats=64)
    assert list(ddr.bursts(0, 100)) == [(100, 2)]
    assert list(ddr.bursts(4000, 200)) == [(96, 2), (104, 2)]  # crosses 4 KiB at 4096
    assert [n for n, _ in ddr.bursts(0, 10000)] == [4096, 4096, 1808]
    assert [n for n, _ in DdrModel(16.0, bus_bytes=8, max_beats=64).bursts(0, 1200)] == [512, 512, 176]


def test_cli_simulates_a_tiled_bundle_with_json(bundles, tmp_path, capsys):
    out = tmp_path / "sim.json"
    assert cli_main(["simulate", str(bundles["mnist_cnn"].path), "--images", "2", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "cycles per image" in text and "== emulator" in text and "/0/Conv" in text
    got = json.loads(out.read_text())
    assert got["engine"] == "tiled" and got["outputs_match"] is True and len(got["layers"]) == 5
    assert got["cycles_per_image"] == pytest.approx(sum(lay["cycles"] for lay in got["layers"])
                                                    + got["control_cycles"])
    assert cli_main(["simulate", str(bundles["mnist_cnn"].path), "--fifo-depth", "s1=4"]) != 0
    assert "tiled engine" in capsys.readouterr().err


def test_bad_latency_is_refused(bundles):
    from fpga_accel.sim import SimulationError

    with pytest.raises(SimulationError, match="latency"):
        simulate_tiled(bundles["mnist_cnn"], images=1, ddr_latency=-1)
    assert InputError  # the CLI turns both into exit codes


def test_trace_is_bounded(bundles):
    from fpga_accel.sim import SimulationError
    from fpga_accel.sim.tiled import random_raw_inputs
    from fpga_accel.sim.tiled_build import TracedCsim

    program, words = load_program(bundles["mnist_cnn"])
    sim = TracedCsim(program)
    sim.descriptors = words
    ins = random_raw_inputs(program, 2, 0)
    _, full = sim.trace(ins)
    with pytest.raises(SimulationError, match="fewer images"):
        sim.trace(ins, limit=len(full.runs) - 1)
    _, again = sim.trace(ins)  # the library is usable after a refusal, and deterministic
    assert np.array_equal(again.runs, full.runs) and len(again.events) == len(full.events)


def test_steps_of_several_tn_tiles_move_the_bursts_the_model_counts():
    """Dense steps of several Tn tiles (test_tiled_hls.wide_case): the trace's loads are a run per pixel of
    the step's channels, or one run for a whole tile when a step holds all of a pixel's channels, and
    the model counts the same bursts per layer; outputs == the executor."""
    from test_tiled_hls import wide_case

    from fpga_accel.sim.tiled import ddr_model
    from fpga_accel.sim.tiled_build import TracedCsim
    from fpga_accel.sim.tiled_replay import replay
    from fpga_accel.tiled import TiledEngine, build_program

    qm, q, build = wide_case()
    program = build_program(qm, **build)
    brd = get_board("pynq-z2")
    sim = TracedCsim(program, split=int(split(brd)))  # the engine a pynq-z2 compile builds: split
    first = {k: v[:1] for k, v in q.items()}
    outs, trace = sim.trace(first)
    want = TiledEngine(program).run(first)
    for k in want:
        np.testing.assert_array_equal(outs[k], want[k])
    rep = replay(trace, ddr_model(brd, brd.clock_mhz), len(program.layers))
    cost = program_cost(program, brd)
    convs = [i for i, d in enumerate(program.layers) if d["kind"] in ("conv", "gemm")]
    assert len(convs) == 7
    for i in convs:
        lay, est = rep.layers[-1][i], cost.layers[i]
        assert est.bursts == pytest.approx(lay.bursts, abs=misplaced(est)), est.name
    # c3 (1x1, stride 2, 10 channels, all in one step and kept across its Tm tiles): the input is read
    # by its first Tm tile only, a run per sampled pixel (the stride skips the pixels between them)
    c3 = next(i for i in convs if program.layers[i]["name"] == "c3")
    assert rep.layers[-1][c3].bursts == cost.layers[c3].bursts
    # c6 (3x3, one Tm tile): two steps, a run per pixel of each one's channels
    c6 = next(i for i in convs if program.layers[i]["name"] == "c6")
    assert rep.layers[-1][c6].bursts == cost.layers[c6].bursts


def test_replay_runs_on_across_spatial_tiles_only_where_the_halves_allow():
    """Two spatial tiles of one layer, one Tm tile each: load (fills half A) | compute (reads A, fills
    accumulator P) | output path (reads P), then the next tile on halves B and Q. Draining between
    tiles, the second load waits for the first output path; run on (pipelined), it starts at once and
    only its compute waits for the array; with a resident input (one input half the trace does not
    name) the second load waits for the first tile's compute, not for its output path."""
    from fpga_accel.sim.tiled_build import EVENT, RUN, StageTrace
    from fpga_accel.sim.tiled_replay import COMPUTE, IMAGE, LOAD, STORE, replay

    A, B, P, Q = 0x100, 0x200, 0x300, 0x400
    # (layer, unit, r0, q0, reads, writes, iterations, first run, runs, data-mover iterations among them)
    load0, mac0, store0 = (0, LOAD, 0, 0, 0, A, 10, 0, 0, 10), (0, COMPUTE, 0, 0, A, P, 100, 0, 0, 0), (0, STORE, 0, 0, P, 0, 50, 0, 0, 50)
    load1, mac1, store1 = (0, LOAD, 4, 0, 0, B, 10, 0, 0, 10), (0, COMPUTE, 4, 0, B, Q, 100, 0, 0, 0), (0, STORE, 4, 0, Q, 0, 50, 0, 0, 50)
    image = (-1, IMAGE, -1, -1, 0, 0, 0, 0, 0, 0)
    ddr = DdrModel(16.0, latency=0)

    def cycles(rows, overlap):
        trace = StageTrace(np.array([image, *rows], dtype=EVENT), np.zeros(0, dtype=RUN))
        return replay(trace, ddr, 1, overlap).layers[0][0].cycles

    # drained (a tile's output path before the next tile in program order): everything in turn
    assert cycles([load0, mac0, store0, load1, mac1, store1], None) == 2 * (10 + 100 + 50)
    # running on, the first tile's output path comes with the next tile (conv.h's order)
    run_on = [load0, mac0, load1, mac1, store0, store1]
    # pipelined: both loads early, the computes back to back, the last output path after the last compute
    assert cycles(run_on, {0: "pipelined"}) == 10 + 100 + 100 + 50
    # resident: the second load after the first compute, its compute after it; the first output path beside
    assert cycles(run_on, {0: "resident"}) == 10 + 100 + 10 + 100 + 50


def test_overlap_across_spatial_tiles_speeds_only_the_dense_layers(bundles):
    """resnet_ds on pynq-z2: replayed with the pipeline running on across spatial tiles, the dense conv
    / gemm layers with several spatial tiles take fewer cycles than drained between tiles, never fewer
    than their array's iterations; the others take the same."""
    from fpga_accel.sim.tiled import ddr_model, random_raw_inputs
    from fpga_accel.sim.tiled_build import TracedCsim
    from fpga_accel.sim.tiled_replay import replay
    from fpga_accel.tiled.cost import span_overlap
    from fpga_accel.tiled.tiles import spans

    program, words = load_program(bundles["resnet_ds"])
    sim = TracedCsim(program)
    sim.descriptors = words
    _, trace = sim.trace(random_raw_inputs(program, 1, 0))
    brd = get_board("pynq-z2")
    ddr = ddr_model(brd, brd.clock_mhz)
    overlap = {i: m for i, d in enumerate(program.layers) if (m := span_overlap(d, program.engine))}
    on, off = (replay(trace, ddr, len(program.layers), o).layers[0] for o in (overlap, None))
    faster = 0
    for i, (d, a, b) in enumerate(zip(program.layers, on, off)):
        t = d["tile"]
        n = len(spans(d["output"]["h"], t["rows"])) * len(spans(d["output"]["w"], t["cols"]))
        assert a.iterations == b.iterations <= a.cycles, d["name"]
        if i in overlap and n > 1:
            assert a.cycles < b.cycles, d["name"]
            faster += 1
        else:
            assert a.cycles == pytest.approx(b.cycles, rel=1e-12), d["name"]
    assert faster >= 2


def test_whole_pixels_write_a_pixel_or_a_row_a_run():
    """resnet_ds at Tm = 8 and 4x7 spatial tiles: its convolutions of several Tm tiles keep a spatial tile's
    channels on chip (tiles.whole_pixels) and their output path writes each pixel's channels as one run,
    a row as one when the tile spans the width (the residual read likewise); the trace's bursts equal
    the model's, the outputs the executor's, and the model's cycles stay within 10 % of the replay."""
    from tiled_util import quantised

    from fpga_accel.sim.tiled_replay import STORE
    from fpga_accel.tiled import build_program
    from fpga_accel.tiled.tiles import spans, whole_pixels

    _, qm = quantised(data.model_path("resnet_ds"), data.load_calib("resnet_ds"))
    program = build_program(qm, tm=8, tn=8, tile=(4, 7))
    trace, rep, cost = traced_on_pynq(program)
    whole = [i for i, d in enumerate(program.layers) if whole_pixels(d, program.engine)]
    assert len(whole) >= 3 and any(any(p["op"] == "add" for p in program.layers[i]["post"]) for i in whole)
    ev = trace.events[trace.events["layer"] >= 0]
    for i in whole:
        d = program.layers[i]
        out, t = d["output"], d["tile"]
        assert out["pixel_stride"] == out["c"] and out.get("channel_stride", 1) == 1
        # a run per row of each spatial tile, one per tile when it spans the width; never one per Tm tile
        runs_expected = sum(1 if q1 - q0 == out["w"] else r1 - r0
                            for r0, r1 in spans(out["h"], t["rows"]) for q0, q1 in spans(out["w"], t["cols"]))
        runs = np.concatenate([trace.runs[int(e["first_run"]):int(e["first_run"] + e["runs"])]
                               for e in ev[(ev["layer"] == i) & (ev["unit"] == STORE)]])
        writes = runs[runs["write"] == 1]
        assert len(writes) == runs_expected, d["name"]
        assert writes["bytes"].sum() == out["h"] * out["w"] * out["c"] * np.dtype(out["dtype"]).itemsize
        lay, est = rep.layers[-1][i], cost.layers[i]
        assert est.bursts == pytest.approx(lay.bursts, abs=misplaced(est)), d["name"]
        assert est.cycles == pytest.approx(lay.cycles, rel=0.1), d["name"]



@pytest.mark.parametrize("tile, buffers, mode", [((4, 7), None, "pipelined"),
                                                 ((6, 6), {"input": 300, "weight": 49 * 64, "output": 1 << 14},
                                                  "resident")])
def test_resident_inputs_alternate_halves_unless_a_layer_mixes_them(tile, buffers, mode):
    """resnet_ds at Tm = 8: where every spatial tile of a layer keeps its input resident, tile n keeps it in
    input half n % 2 and the layer runs on like any dense one ("pipelined"); where a small input buffer
    leaves only the edge tiles resident, a tile's first load waits for the array on the tile before
    ("resident"). Either way the outputs equal the executor's and the model follows the replay."""
    from tiled_util import quantised

    from fpga_accel.tiled import build_program
    from fpga_accel.tiled.cost import _conv_geometry, _held, span_overlap
    from fpga_accel.tiled.tiles import input_resident, spans

    _, qm = quantised(data.model_path("resnet_ds"), data.load_calib("resnet_ds"))
    program = build_program(qm, tm=8, tn=8, tile=tile, buffers=buffers)
    kept = []
    for i, d in enumerate(program.layers):
        if d["kind"] == "conv" and d["tile"]["rows"] < d["output"]["h"]:
            geo, t, out = _conv_geometry(d), d["tile"], d["output"]
            if {input_resident(d, geo, _held(d, geo, r0, r1, q0, q1), program.engine)
                    for r0, r1 in spans(out["h"], t["rows"]) for q0, q1 in spans(out["w"], t["cols"])} & {True}:
                kept.append(i)
    assert len(kept) >= 2 and all(span_overlap(program.layers[i], program.engine) == mode for i in kept)
    _, rep, cost = traced_on_pynq(program)
    for i in kept:
        lay, est = rep.layers[-1][i], cost.layers[i]
        assert est.bursts == pytest.approx(lay.bursts, abs=misplaced(est)), est.name
        assert est.cycles == pytest.approx(lay.cycles, rel=0.1), est.name


def traced_on_pynq(program):
    """One image of ``program`` through the traced C simulation of pynq-z2's engine (split, as a compile
    for that board builds it; its outputs == the executor's), its replay on pynq-z2's DDR and ports, and
    the cost model's figures there: (trace, replay, cost)."""
    from fpga_accel.sim.tiled import ddr_model, random_raw_inputs
    from fpga_accel.sim.tiled_build import TracedCsim
    from fpga_accel.sim.tiled_replay import replay
    from fpga_accel.tiled import TiledEngine
    from fpga_accel.tiled.cost import span_overlap

    brd = get_board("pynq-z2")
    first = random_raw_inputs(program, 1, 0)
    outs, trace = TracedCsim(program, split=int(split(brd))).trace(first)  # pynq-z2's engine: split
    want = TiledEngine(program).run(first)
    for k in want:
        np.testing.assert_array_equal(outs[k], want[k])
    overlap = {i: m for i, d in enumerate(program.layers) if (m := span_overlap(d, program.engine))}
    rep = replay(trace, ddr_model(brd, brd.clock_mhz), len(program.layers), overlap)
    return trace, rep, program_cost(program, brd)
