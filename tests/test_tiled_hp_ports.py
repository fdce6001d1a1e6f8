"""The tiled engine's masters through a Zynq PS's HP port: the port's width from the board file, its
read and write channels in the cost model (ddr.Rates) and in the timed replay, counted alike."""
import dataclasses
import json

import numpy as np
import pytest

from fpga_accel.errors import InputError
from fpga_accel.fold import board_names, get_board
from fpga_accel.fold.boards import _parse
from fpga_accel.sim.tiled_build import EVENT, RUN, StageTrace
from fpga_accel.sim.tiled_replay import IMAGE, LOAD, STORE, DdrModel, replay
from fpga_accel.tiled.cost import ddr_bytes_per_cycle, ddr_rates
from fpga_accel.tiled.ddr import Rates, bursts, busy, histogram, runs, stream, usage


def test_board_files_give_the_hp_port_width_the_block_design_sets():
    seen = {}
    for name in board_names():
        b = get_board(name)
        r = ddr_rates(b)
        assert r.ddr == ddr_bytes_per_cycle(b)
        if b.ps is None:  # Vitis and cloud shells: the masters reach the memory controller themselves
            assert r.port is None
            continue
        widths = [v for k, v in b.ps.config.items() if k.endswith("DATA_WIDTH")]
        assert widths == [str(b.ps.hp_bits)], name  # the width the block design configures
        assert r.port == b.ps.hp_bits / 8
        seen[b.family] = b.ps.hp_bits
    assert seen == {"zynq": 64, "zynqmp": 128}  # UG585 (64-bit HP ports), UG1085 (128-bit HP FPD ports)


def test_a_port_width_the_config_contradicts_is_refused():
    data = json.loads(json.dumps(get_board("zcu104").to_dict()))
    data["ps"]["hp_bits"] = 64  # config says 128
    with pytest.raises(InputError, match="hp_bits is 64"):
        _parse("zcu104.json", data)
    data["ps"]["hp_bits"] = 100
    with pytest.raises(InputError, match="32, 64 or 128"):
        _parse("zcu104.json", data)


def test_a_burst_holds_its_port_channel_for_its_beats_at_the_port_width():
    r = Rates(64.0, 16.0)  # zcu104-like: a 512-bit master, a 128-bit port
    full = histogram(*runs([0], 4096))  # one 64-beat burst
    assert full == ((4096, 64, 1),)
    assert usage(full, r) == (64.0, 256.0, 0.0)  # DDR: 64 beats; the read channel: 4 port beats a beat
    assert usage(full, r, write=True) == (64.0, 0.0, 256.0)
    one = histogram(*runs([64], 8))  # 8 bytes: one beat, all four of its port beats carried
    assert usage(one, r)[1] == 4.0
    # a stream of 32 such bursts: the port, not the DDR, and one latency
    many = ((4096, 64, 32),)
    assert stream(many, r, latency=64) == 32 * 256 + 64
    assert stream(many, Rates(64.0), latency=64) == 32 * 64 + 64 == stream(many, 64.0, latency=64)
    # a narrow master on a wider port: a beat a cycle
    assert Rates(64.0, 16.0, bus_bytes=4).port_cycles(10) == 10
    # a DDR slower than the port binds as before
    assert usage(full, Rates(8.0, 16.0))[0] == busy(full, 8.0) == 512.0


def trace(rows, run_rows):
    """A stage trace of ``rows`` (events without their data moves: none) after an IMAGE marker."""
    image = (-1, IMAGE, -1, -1, 0, 0, 0, 0, 0)
    events = [(*r, 0) if len(r) == len(EVENT.names) - 1 else r for r in (image, *rows)]
    return StageTrace(np.array(events, dtype=EVENT), np.array(run_rows, dtype=RUN))


@pytest.mark.parametrize("bus, beats", [(8, 64), (16, 64), (64, 64), (16, 3), (64, 256)])
def test_the_histogram_counts_the_bursts_the_replay_cuts(bus, beats):
    """Bursts of 64 beats of a narrow port's width (512 bytes, 1 KiB) are cut from each 4 KiB piece's
    first bus word, as ddr.bursts cuts a run: the cost model's histogram counts exactly those."""
    rng = np.random.default_rng(bus * beats)
    for _ in range(100):
        n = int(rng.integers(1, 5))
        starts, nbytes = np.sort(rng.integers(0, 20000, n)), rng.integers(1, 9000, n)
        want: dict = {}
        for burst in bursts(starts, nbytes, bus, beats):
            want[burst] = want.get(burst, 0) + 1
        assert histogram(starts, nbytes, bus, beats) == tuple((k, b, c) for (k, b), c in sorted(want.items()))
    # bytes [100, 5100) on 16-byte beats: 1 KiB bursts from its first bus word (96) up to the 4 KiB
    # boundary, then from it: [100, 1120), [1120, 2144), [2144, 3168), [3168, 4096), [4096, 5100)
    assert [k for k, _ in bursts([100], [5000], 16, 64)] == [1020, 1024, 1024, 928, 1004]


def test_replay_reads_and_writes_each_take_their_channel_and_share_the_ddr():
    """One load reading 16 KiB (master 2, acts) beside one output path writing 16 KiB: on a 16-byte port
    each direction takes 256 port cycles a 4 KiB burst, in parallel; the DDR (64 bytes a cycle) could
    carry both in a quarter of it. Two loads of different masters share the one read channel."""
    ddr = DdrModel(64.0, latency=0, port_bytes=16.0)
    load = (0, LOAD, 0, 0, 0, 0x100, 0, 0, 1)
    store = (0, STORE, 0, 0, 0, 0, 0, 1, 1)
    both = trace([load, store], [(2, 0, 0, 16384), (2, 1, 1 << 20, 16384)])
    assert replay(both, ddr, 1).layers[0][0].cycles == 4 * 256
    assert replay(both, DdrModel(64.0, latency=0), 1).layers[0][0].cycles == 2 * 4 * 64  # no port: the DDR alone
    weights = (0, STORE, 0, 0, 0, 0, 0, 1, 1)  # a second stage reading on master 1 (weights)
    reads = trace([load, weights], [(2, 0, 0, 16384), (1, 0, 1 << 20, 16384)])
    lay = replay(reads, ddr, 1).layers[0][0]
    assert lay.cycles == 2 * 4 * 256 and lay.port_busy == [2 * 4 * 256, 0.0]
    # each master its own port: the two reads in parallel again, the DDR well below both
    assert replay(reads, dataclasses.replace(ddr, ports=(0, 1, 2, 3)), 1).layers[0][0].cycles == 4 * 256


def test_replay_streams_a_split_load_over_both_masters_at_once():
    """A split engine's load: 16 KiB through the weights master and 16 KiB through the second one (trace
    ports 1 and 3), on zcu104's wiring (master_ports: each on an HP port of its own) stream side by side
    in one port's time; all through the first master, or both wired to one port, they take twice that.
    The activations' two masters (ports 2 and 4) likewise. With a long latency and short bursts, each
    master keeps its own 16 requests in flight: the halves' requests do not wait for each other."""
    from fpga_accel.tiled.ddr import ACTS, ACTS_B, WEIGHTS, WEIGHTS_B, master_ports

    wiring = (*master_ports(get_board("zcu104").ps), 0)
    assert wiring == (0, 1, 0, 3, 2, 0)
    ddr = DdrModel(64.0, latency=0, port_bytes=16.0, ports=wiring)
    two = (0, LOAD, 0, 0, 0, 0x100, 0, 0, 2)
    for a, b in ((WEIGHTS, WEIGHTS_B), (ACTS, ACTS_B)):
        split = trace([two], [(a, 0, 0, 16384), (b, 0, 16384, 16384)])
        assert replay(split, ddr, 1).layers[0][0].cycles == 4 * 256
        assert replay(split, dataclasses.replace(ddr, ports=(0, 0, 0, 0, 0, 0)), 1).layers[0][0].cycles == 8 * 256
        one = trace([(0, LOAD, 0, 0, 0, 0x100, 0, 0, 1)], [(a, 0, 0, 32768)])
        assert replay(one, ddr, 1).layers[0][0].cycles == 8 * 256
    # 32 one-beat bursts, 1000 cycles of latency, a DDR that takes a burst a cycle: 16 in flight on one
    # master need two round trips, 16 on each of two masters one
    slow = DdrModel(64.0, latency=1000)
    many = (0, LOAD, 0, 0, 0, 0x100, 0, 0, 32)
    first = [(WEIGHTS, 0, 128 * i, 64) for i in range(32)]
    halves = first[:16] + [(WEIGHTS_B, 0, 128 * i, 64) for i in range(16, 32)]
    assert replay(trace([many], first), slow, 1).layers[0][0].cycles == 1000 + 1000 + 17
    assert replay(trace([many], halves), slow, 1).layers[0][0].cycles == 1000 + 32


def test_model_and_replay_count_one_stream_alike():
    """A stage streaming 40 KiB on the board's own port and latency: the replay's time == ddr.stream."""
    for name in ("zcu104", "pynq-z2", "ultra96v2"):
        b = get_board(name)
        r = ddr_rates(b)
        assert r.bus_bytes == b.ps.hp_bits // 8  # the masters as wide as the port
        ddr = DdrModel(r.ddr, port_bytes=r.port, bus_bytes=r.bus_bytes)
        n = 40 * 1024 + 100
        rep = replay(trace([(0, LOAD, 0, 0, 0, 0x100, 0, 0, 1)], [(2, 0, 4000, n)]), ddr, 1)
        want = stream(histogram(*runs([4000], n), r.bus_bytes), r)
        assert rep.layers[0][0].cycles == pytest.approx(want, rel=1e-9), name
        assert rep.layers[0][0].cycles >= n / r.port  # never faster than the port


def test_a_load_of_weights_and_input_takes_both_ports_in_model_and_replay():
    """One load reading 24 KiB of weights (master 1) and 8 KiB of input (master 2), runs interleaved as
    conv.h issues them, on each Zynq board's ports: the replay's time == ddr.stream of the load's
    bursts at their occupancy of the lanes; the weights' own port makes it about the weights' time
    alone, where one shared port takes the two together."""
    from fpga_accel.sim.tiled import ddr_model
    from fpga_accel.tiled.ddr import ACTS, WEIGHTS, master_ports, merge, occupancy

    runs_ = [(1, 0, 0, 8192), (2, 0, 1 << 20, 8192), (1, 0, 8192, 16384)]
    load = trace([(0, LOAD, 0, 0, 0, 0x100, 0, 0, 3)], runs_)
    for name in ("zcu104", "pynq-z2", "kv260"):
        b = get_board(name)
        r = ddr_rates(b)
        assert r.ports == master_ports(b.ps) == (0, 1, 0, 3, 2) and r.lanes == 9  # split: four ports
        w, x = (merge(*(histogram(*runs([o], n), r.bus_bytes) for m, _, o, n in runs_ if m == k)) for k in (1, 2))
        occ = occupancy(((x, ACTS, False), (w, WEIGHTS, False)), r)
        assert occ[1:] == (x_port := usage(x, r)[1], 0.0, usage(w, r)[1], 0.0, 0.0, 0.0, 0.0, 0.0) and x_port > 0
        want = stream(merge(w, x), r, occupied=occ)
        ddr = ddr_model(b, b.clock_mhz)
        assert ddr.ports == (0, 1, 0, 3, 2, 0)
        assert replay(load, ddr, 1).layers[0][0].cycles == pytest.approx(want, rel=1e-9), name
        shared = dataclasses.replace(r, ports=(0, 0, 0, 0, 0))
        one = replay(load, dataclasses.replace(ddr, ports=(0, 0, 0, 0, 0, 0)), 1).layers[0][0].cycles
        assert one == pytest.approx(stream(merge(w, x), shared), rel=1e-9)
        assert one > replay(load, ddr, 1).layers[0][0].cycles, name


def unsplit(b):
    """``b``'s PS without the second HP ports: an engine of three masters, the weights on a port of their own."""
    return dataclasses.replace(b, ps=dataclasses.replace(b.ps, hp_b=None, hp_weights_b=None))


def test_the_ports_slow_the_program_on_zynq_boards_only():
    from tiled_util import quantised

    from fpga_accel.tiled import build_program
    from fpga_accel.tiled.cost import program_cost
    from models import data

    _, qm = quantised(data.model_path("resnet_ds"), data.load_calib("resnet_ds"))
    p = build_program(qm, tm=8, tn=8)
    for name in ("zcu104", "pynq-z2", "alveo-u250"):
        b = get_board(name)
        split = program_cost(p, b)
        alone = program_cost(p, dataclasses.replace(b, ps=None))
        if b.ps is None:
            assert split.to_dict() == alone.to_dict()
            continue
        with_port = program_cost(p, unsplit(b))
        one = program_cost(p, dataclasses.replace(b, ps=dataclasses.replace(b.ps, hp_weights=None)))
        assert with_port.hp_bits == split.hp_bits == b.ps.hp_bits and alone.hp_bits is None
        assert (split.hp_ports, with_port.hp_ports, one.hp_ports, alone.hp_ports) == (4, 2, 1, None)
        # a second port takes the weights off the first; two more take half of a dense load off both (a
        # split load also has twice the requests in flight, so it may beat the masters without ports)
        assert alone.cycles < with_port.cycles < one.cycles and split.cycles < with_port.cycles, name
        port = b.ps.hp_bits / 8
        for lay, solo, shared, two in zip(with_port.layers, alone.layers, one.layers, split.layers):
            # beats of the port's width: bursts of 64 of them, never fewer than of 64-byte beats
            assert lay.bursts == shared.bursts >= solo.bursts, lay.name
            # each channel carries its master's bytes in its direction at the port's width: the weights
            # and constants on the weights port, the activations on the other; on one port all reads on one
            assert lay.transfer_cycles >= max(lay.weight_bytes, lay.act_read_bytes, lay.act_write_bytes) / port
            assert shared.transfer_cycles >= max(lay.weight_bytes + lay.act_read_bytes, lay.act_write_bytes) / port
            assert lay.transfer_cycles <= shared.transfer_cycles, lay.name
            # split: the same bytes, cut into at least as many bursts (a dense load's runs cut in two), the
            # reads over four read channels, the writes on one
            assert (two.weight_bytes, two.act_read_bytes, two.act_write_bytes) == \
                (lay.weight_bytes, lay.act_read_bytes, lay.act_write_bytes)
            assert two.bursts >= lay.bursts, lay.name
            assert two.transfer_cycles >= max((lay.weight_bytes + lay.act_read_bytes) / 4, lay.act_write_bytes) / port
            assert two.cycles <= lay.cycles * 1.0001 + 1, lay.name


@pytest.mark.parametrize("board", ["zcu104", "ultra96v2"])
def test_the_model_follows_the_simulation_through_a_128_bit_port(tmp_path, board):
    """The C simulation's traced bursts replayed through the board's HP port: the model counts the same
    bursts and follows the simulated cycles as on pynq-z2's 64-bit port (test_simulate_tiled)."""
    from fpga_accel import toolchain

    try:
        toolchain.compiler()
        toolchain.ap_types_dir()
    except toolchain.ToolchainError as e:
        pytest.skip(str(e))
    import fpga_accel
    from fpga_accel.bundle_tiled import load_program
    from fpga_accel.sim.tiled import simulate_tiled
    from fpga_accel.tiled.cost import program_cost
    from fpga_accel.tiled.ddr import master_ports
    from models import data

    m = "mnist_cnn"
    b = fpga_accel.compile(data.model_path(m), tmp_path / f"{m}.fpga", calib=data.HERE / data.info(m)["calib"]["path"],
                           progress=False, engine="tiled", board=board)
    program, _ = load_program(b)
    res = simulate_tiled(b, images=2, check=False)
    assert res.ddr["port_bytes"] == get_board(board).ps.hp_bits / 8
    assert res.ddr["bus_bytes"] == get_board(board).ps.hp_bits // 8  # the masters as wide as the port
    # the engine's HLS source builds its arena ports at that width (top.h FA_TILED_AXI_BITS)
    source = (b.path / b.manifest["scripts"]["hls"]["source"]).read_text()
    assert f"#define FA_TILED_AXI_BITS {get_board(board).ps.hp_bits}\n" in source
    cost = program_cost(program, board)
    for lay, est in zip(res.layers, cost.layers):
        assert est.bursts == pytest.approx(lay.bursts, rel=0.03, abs=2 + est.ddr_bytes // 4096), lay.name
        assert est.cycles == pytest.approx(lay.cycles, rel=0.15), lay.name
    assert cost.cycles == pytest.approx(sum(lay.cycles for lay in res.layers), rel=0.1)
    # the .hwh stand-in describes the HP port at the width the model counts
    import xml.etree.ElementTree as ET

    from fpga_accel.flow.tiled_hwh import generate_tiled_hwh

    ps = get_board(board).ps
    root = ET.fromstring(generate_tiled_hwh(b.manifest))
    four = (ps.hp, ps.hp_weights, ps.hp_b, ps.hp_weights_b)
    for port in four:  # the four HP ports of the split engine, at the width the model counts
        hp = next(bi for bi in root.iter("BUSINTERFACE") if bi.get("NAME") == port)
        assert {p.get("NAME"): p.get("VALUE") for p in hp.iter("PARAMETER")}["DATA_WIDTH"] == str(ps.hp_bits)
    # each master's DDR range through its own port's segment: the weights through hp_weights, the second
    # masters through hp_weights_b and hp_b
    ranges = {m.get("MASTERBUSINTERFACE"): (m.get("SLAVEBUSINTERFACE"), m.get("ADDRESSBLOCK"))
              for m in root.iter("MEMRANGE") if m.get("MEMTYPE") == "MEMORY"}
    seg = {p: ps.hp_ports[p]["segment"].rsplit("/", 1)[1] for p in four}
    assert ranges == {"m_axi_gmem0": (ps.hp, seg[ps.hp]), "m_axi_gmem1": (ps.hp_weights, seg[ps.hp_weights]),
                      "m_axi_gmem2": (ps.hp, seg[ps.hp]), "m_axi_gmem3": (ps.hp_weights_b, seg[ps.hp_weights_b]),
                      "m_axi_gmem4": (ps.hp_b, seg[ps.hp_b])}
    # the replay wired the masters as the block design does: a split board's second masters on ports 3, 2
    assert tuple(res.ddr["ports"]) == (*master_ports(ps), 0) == (0, 1, 0, 3, 2, 0)
    # the engine as the manifest records it: split here (the compile for a board with four HP ports), unsplit
    # when it says so, with the same outputs and bytes per layer; spreading the dense loads over four ports
    # never makes a conv / gemm slower and the image faster
    assert b.manifest["tiled"]["array"]["split"] is True
    b.manifest["tiled"]["array"]["split"] = False
    one = simulate_tiled(b, images=2, check=True)
    assert one.outputs_match
    for lay, alone in zip(res.layers, one.layers):
        assert lay.ddr_bytes == alone.ddr_bytes and lay.compute_cycles == alone.compute_cycles, lay.name
        if lay.kind in ("conv", "gemm"):
            assert lay.cycles <= alone.cycles, lay.name
    assert sum(lay.cycles for lay in res.layers) < sum(lay.cycles for lay in one.layers)
