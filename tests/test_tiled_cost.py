"""The tiled engine's cost model: its DDR byte counts equal, layer by layer and exactly, what the
reference executor's loops read and write (every arena access is counted), at several tile sizes;
and its figures behave as the model says (estimates labelled, bounds, roofline)."""
import pytest
from test_tiled_engine import GRAPHS, TILINGS
from tiled_util import quantised, random_case, raw_inputs

from fpga_accel.errors import InputError
from fpga_accel.fold import get_board
from fpga_accel.tiled import TiledEngine, build_program
from fpga_accel.tiled.cost import BURST_EFFICIENCY, bound_cycles, ddr_rates, layer_steps, layer_totals, program_cost
from fpga_accel.tiled.ddr import BUS_BYTES, DEFAULT_LATENCY, Rates, busy, merge
from models import data


def counted(qm, q, **build):
    """(program, engine) after running one image."""
    program = build_program(qm, **build)
    engine = TiledEngine(program)
    engine.run({k: v[:1] for k, v in q.items()})
    return program, engine


def assert_bytes_match(program, engine):
    for i, desc in enumerate(program.layers):
        steps = list(layer_steps(desc, program.engine))
        want = (sum(s.weights for s in steps), sum(s.read for s in steps), sum(s.write for s in steps))
        got = (engine.weights.reads.get(i, 0), engine.acts.reads.get(i, 0), engine.acts.writes.get(i, 0))
        assert got == want, f"layer {i} '{desc['name']}' ({desc['kind']}): executor moved {got}, model says {want}"
    assert not engine.weights.writes  # the weights arena is read only


@pytest.mark.parametrize("tiling", TILINGS, ids=str)
@pytest.mark.parametrize("name", sorted(GRAPHS))
def test_small_graph_bytes_equal_the_executor(name, tiling):
    tm, tn, tile = tiling
    qm, q = random_case(GRAPHS[name], seed=len(name))
    assert_bytes_match(*counted(qm, q, tm=tm, tn=tn, tile=tile))


@pytest.mark.parametrize("name", ["mnist_cnn", "resnet_ds", "mlp"])
def test_example_model_bytes_equal_the_executor(name):
    _, qm = quantised(data.model_path(name), data.load_calib(name))
    x, _ = data.load_test(name)
    q = raw_inputs(qm, {qm.model_inputs[0].name: x[:1]})
    for tm, tn, tile in TILINGS[:3]:
        assert_bytes_match(*counted(qm, q, tm=tm, tn=tn, tile=tile))


@pytest.fixture(scope="module")
def resnet():
    _, qm = quantised(data.model_path("resnet_ds"), data.load_calib("resnet_ds"))
    return qm


def unsplit(b):
    """``b`` with its engine unsplit (no second HP ports): every master's bytes on one port's channel."""
    import dataclasses

    return dataclasses.replace(b, ps=dataclasses.replace(b.ps, hp_b=None, hp_weights_b=None))


def test_figures_follow_the_model(resnet):
    p = build_program(resnet, tm=8, tn=8)
    b = unsplit(get_board("pynq-z2"))
    c = program_cost(p, b)
    d = c.to_dict()
    assert d["estimate"] is True and d["burst_efficiency"] == BURST_EFFICIENCY == 0.75
    assert c.clock_mhz == b.clock_mhz and c.ddr_gbps == b.ddr_gbps
    per_cycle = b.ddr_gbps * 1e9 * BURST_EFFICIENCY / (b.clock_mhz * 1e6)
    port = b.ps.hp_bits / 8  # the weights through one HP port, the activations through another
    assert c.hp_ports == d["hp_ports"] == 2
    for lay in c.layers:
        # a burst holds the DDR a 64-byte word's share a beat at least (8-byte beats: an eighth of a cycle)
        # and the bandwidth; each port's direction at most the port's width a cycle
        words = lay.bursts * ddr_rates(b).bus_bytes / BUS_BYTES
        assert lay.transfer_cycles >= max(lay.ddr_bytes / per_cycle, words, lay.weight_bytes / port,
                                          lay.act_read_bytes / port, lay.act_write_bytes / port) - 1e-9
        # the DDR: its bandwidth and at most a beat a burst more; the port: whole 64-byte beats at its width
        # (a burst's bytes' beats and at most two partial ones)
        assert lay.transfer_cycles <= max(lay.ddr_bytes / per_cycle + lay.bursts,
                                          (lay.ddr_bytes / BUS_BYTES + 2 * lay.bursts) * BUS_BYTES / port) + 1e-9
        assert max(lay.compute_cycles, lay.transfer_cycles) <= lay.cycles + 1e-9
        assert lay.cycles <= lay.compute_cycles + lay.transfer_cycles + (DEFAULT_LATENCY + 1) * lay.bursts
        assert lay.bound == ("memory" if lay.transfer_cycles > lay.compute_cycles else "compute")
    conv0 = c.layers[0]  # 3x3, 1 -> 32 channels on 28x28 in tap-parallel mode: Tn = 8 of the 9 taps a cycle
    assert (conv0.kind, conv0.compute_cycles) == ("conv", 28 * 28 * 2 * 4)
    dense = program_cost(build_program(resnet, tm=8, tn=1), b).layers[0]  # Tn = 1: one tap a cycle
    assert dense.compute_cycles == 28 * 28 * 9 * 4
    assert 0 < c.efficiency <= 1 and c.fps == pytest.approx(b.clock_mhz * 1e6 / c.cycles)
    faster = program_cost(p, unsplit(get_board("zcu104")))  # more bandwidth, faster clock: fewer memory-bound layers
    assert sum(lay.bound == "memory" for lay in faster.layers) <= sum(lay.bound == "memory" for lay in c.layers)


def test_a_board_without_bandwidth_is_refused(resnet):
    import dataclasses

    bare = dataclasses.replace(get_board("aws-f2"), ddr_gbps=None)
    with pytest.raises(InputError, match="board 'aws-f2' gives no DDR bandwidth"):
        program_cost(build_program(resnet), bare)


@pytest.mark.parametrize("tiling", TILINGS, ids=str)
@pytest.mark.parametrize("name", sorted(GRAPHS))
def test_grouped_totals_equal_the_step_walk(name, tiling):
    """program_cost walks each kind of alike spatial tile once: its sums equal the full walk's (its
    bursts within 10 %: alike tiles may cross burst boundaries at other places)."""
    tm, tn, tile = tiling
    qm, _ = random_case(GRAPHS[name], seed=len(name))
    program = build_program(qm, tm=tm, tn=tn, tile=tile)
    rates = ddr_rates(get_board("pynq-z2"))
    bus = rates.bus_bytes  # the 64-bit HP port's beats
    per_cycle = Rates(3.5, bus_bytes=bus, ports=rates.ports)  # a split engine's masters
    for lay, desc in zip(program_cost(program, "pynq-z2").layers, program.layers):
        steps = list(layer_steps(desc, program.engine, bus=bus, split=rates.split))
        walked = (sum(s.compute for s in steps), sum(s.weights for s in steps), sum(s.read for s in steps),
                  sum(s.write for s in steps))
        assert (lay.compute_cycles, lay.weight_bytes, lay.act_read_bytes, lay.act_write_bytes) == walked
        occupied = sum(busy(merge(s.load, s.fetch, s.store_r, s.store_w), per_cycle) for s in steps)
        bursts = sum(c for s in steps for *_, c in merge(s.load, s.fetch, s.store_r, s.store_w))
        # bursts: a kind's first tile stands for the others, whose crossings of 4 KiB and of the 512-byte
        # bursts of the 64-bit port's beats may differ (10 %)
        assert layer_totals(desc, program.engine, per_cycle)[4] == pytest.approx(occupied, rel=0.05)
        assert lay.bursts == pytest.approx(bursts, rel=0.1)


def test_the_search_shares_a_cost_between_alike_descriptors_only(resnet):
    """layer_cycles keeps a cost per descriptor up to names and where its arenas' offsets start: moved
    by whole 4 KiB the descriptor walks the same bursts (the key's premise); a descriptor that differs
    in anything else gets its own walk."""
    import copy

    from fpga_accel.tiled.cost import layer_cycles

    program = build_program(resnet, tm=8, tn=8)
    per_cycle = 2.5
    for desc in program.layers:
        exact = layer_totals(desc, program.engine, per_cycle)
        assert layer_cycles(desc, program.engine, per_cycle) == pytest.approx(exact[5], rel=0.02)
        moved = copy.deepcopy(desc)
        moved["name"] = "other"
        for v in [*moved["inputs"], moved["output"], *(p["residual"] for p in moved["post"] if p["op"] == "add")]:
            v["offset"] += 3 * 4096
        assert layer_totals(moved, program.engine, per_cycle) == exact, desc["name"]
        shorter = copy.deepcopy(desc)
        shorter["tile"]["rows"] = max(1, shorter["tile"]["rows"] - 1)
        if shorter["tile"] != desc["tile"]:
            assert layer_cycles(shorter, program.engine, per_cycle) == pytest.approx(
                layer_totals(shorter, program.engine, per_cycle)[5], rel=0.02)


def test_dense_layers_overlap_their_spatial_tiles(resnet, monkeypatch):
    """A dense conv / gemm whose pipeline runs on across spatial tiles (span_overlap) takes no more
    cycles than drained between tiles, and the same with one spatial tile; its load of the next tile
    hides behind the array, so with several tiles and a step whose load the array outlasts it takes
    fewer; depthwise and pool layers do not change."""
    from fpga_accel.tiled import cost
    from fpga_accel.tiled.tiles import spans

    p = build_program(resnet, tm=8, tn=8, tile=(4, 7))
    per_cycle = 3.5
    on = [layer_totals(d, p.engine, per_cycle)[5] for d in p.layers]
    modes = [cost.span_overlap(d, p.engine) for d in p.layers]
    monkeypatch.setattr(cost, "span_overlap", lambda desc, engine: None)
    off = [layer_totals(d, p.engine, per_cycle)[5] for d in p.layers]
    fewer = 0
    for d, a, b, mode in zip(p.layers, on, off, modes):
        tiles = len(spans(d["output"]["h"], d["tile"]["rows"])) * len(spans(d["output"]["w"], d["tile"]["cols"]))
        assert (mode is not None) == (d["kind"] in ("conv", "gemm") and not (d["kind"] == "conv" and d["geometry"]["groups"] > 1
                                                                             and d["geometry"]["cin_per_group"] == 1)), d["name"]
        if mode is None or tiles == 1:
            assert a == pytest.approx(b), d["name"]
        else:
            assert a <= b + 1e-9, d["name"]
            fewer += a < b - 1
    assert fewer >= 2


def test_the_port_bound_by_hand():
    """bound_cycles: per layer the longest of its compute, its bytes over the DDR, and the busiest port
    channel (weights spread over the weights masters' ports, reads over the activations masters', the
    writes on one write channel)."""
    layers = [{"compute_cycles": 100, "weight_bytes": 6400, "act_read_bytes": 320, "act_write_bytes": 160},
              {"compute_cycles": 500, "weight_bytes": 0, "act_read_bytes": 3200, "act_write_bytes": 9600}]
    split = Rates(1000.0, 16.0, 16, (0, 1, 0, 3, 2))  # a split engine: weights on ports 1 and 3, reads on 0 and 2
    # layer 0: weights 3200 a port / 16 = 200 > its reads (160 a port / 16 = 10) and compute; layer 1: writes 600
    assert bound_cycles(layers, split) == 200 + 600
    one = Rates(1000.0, 16.0, 16, (0, 1, 0, 1, 0))  # unsplit: weights on port 1, reads and writes on port 0
    assert bound_cycles(layers, one) == 6400 / 16 + 9600 / 16
    shared = Rates(1000.0, 16.0, 16)  # every master on one port: weights and reads share its read channel
    assert bound_cycles(layers, shared) == (6400 + 320) / 16 + 9600 / 16
    assert bound_cycles(layers, Rates(20.0)) == (6400 + 320 + 160) / 20 + (3200 + 9600) / 20  # no port: the DDR
    assert bound_cycles(layers, Rates(1e9)) == 100 + 500  # compute alone


@pytest.mark.parametrize("board", ["zcu104", "pynq-z2", "alveo-u250"])
def test_the_model_never_beats_its_port_bound(resnet, board):
    """No layer's estimate is faster than its own compute and bytes at the ports' rates allow."""
    b = get_board(board)
    cost = program_cost(build_program(resnet, tm=16, tn=16), b).to_dict()
    rates = ddr_rates(b)
    for lay in cost["layers"]:
        assert lay["cycles"] >= bound_cycles([lay], rates) - 1e-6, lay["name"]
    assert bound_cycles(cost["layers"], rates) <= cost["cycles"]
