"""The cost model of a split engine (four HP ports, docs/tiled.md §4): a dense load's bursts per master
are those the rule gives, worked out here from the load's element addresses (its odd rows through
acts_b, the second half of its weight run through weights_b), and the split engine takes no more
cycles than the unsplit one on the same program, fewer where the weights bind."""
import dataclasses

import pytest
from test_tiled_engine import GRAPHS
from tiled_util import quantised, random_case

from fpga_accel.fold import get_board
from fpga_accel.tiled import build_program
from fpga_accel.tiled.cost import _conv_geometry, ddr_rates, layer_steps, program_cost
from fpga_accel.tiled.ddr import histogram, merge, minus, runs
from fpga_accel.tiled.program import itemsize
from fpga_accel.tiled.tiles import is_depthwise, sampled_input, tap_parallel, tiles_per_step, whole_pixels
from models import data


@pytest.fixture(scope="module")
def program():
    _, qm = quantised(data.model_path("resnet_ds"), data.load_calib("resnet_ds"))
    return build_program(qm, tm=8, tn=8)


def unsplit(b):
    return dataclasses.replace(b, ps=dataclasses.replace(b.ps, hp_b=None, hp_weights_b=None))


def rule_load(desc, engine):
    """The first dense step's reads (spatial tile 0, Tm tile 0, its first channels), per master as the
    rule assigns them: {"acts": [...], "acts_b": [...]} element addresses in loop order, and the weight
    run and constant blocks as (start, bytes)."""
    geo, x, t = _conv_geometry(desc), desc["inputs"][0], desc["tile"]
    assert x.get("channel_stride", 1) == 1
    (kh, kw), (sh, sw), (dh, dw), pads = geo["kernel"], geo["strides"], geo["dilations"], geo["pads"]
    cg, ib, wb = geo["cin_per_group"], itemsize(x["dtype"]), itemsize(desc["weights"]["dtype"])
    nr, nc = min(t["rows"], desc["output"]["h"]), min(t["cols"], desc["output"]["w"])
    n = min(t["tm"], geo["cout_per_group"])
    ya, xa = -pads[0], -pads[1]  # the span of output rows / columns from 0, before clipping
    reads = {"acts": [], "acts_b": []}

    def read(iy, ix, c0, c1, odd):
        if 0 <= iy < x["h"] and 0 <= ix < x["w"]:
            reads["acts_b" if odd else "acts"] += [x["offset"] + ((iy * x["w"] + ix) * x["pixel_stride"] + c) * ib
                                                   for c in range(c0, c1)]

    if tap_parallel(desc, engine):  # (py, ky): through acts_b when py·KH + ky is odd; the columns inside
        xhi = min(x["w"], xa + (nc - 1) * sw + (kw - 1) * dw + 1)
        for py in range(nr):
            for ky in range(kh):
                for ix in range(max(xa, 0), xhi):
                    read(ya + py * sh + ky * dh, ix, 0, cg, (py * kh + ky) % 2)
        nbytes = kh * kw * n * cg * wb
    else:
        c1 = min(cg, tiles_per_step(desc, geo, engine) * t["tn"])
        if sampled_input(desc, geo):  # sampled row yy (every sh-th) through acts_b when odd
            for yy in range(nr):
                for xx in range(nc):
                    read(ya + yy * sh, xa + xx * sw, 0, c1, yy % 2)
        else:  # halo row yy, padding rows included
            hy, hx = (nr - 1) * sh + (kh - 1) * dh + 1, (nc - 1) * sw + (kw - 1) * dw + 1
            for yy in range(hy):
                for xx in range(hx):
                    read(ya + yy, xa + xx, 0, c1, yy % 2)
        nbytes = kh * kw * n * c1 * wb
    rq = desc["requant"]
    consts = [rq["bias"]] if whole_pixels(desc, engine) else [rq["bias"], rq["M"], rq["shift"]]
    return reads, nbytes, [(b["offset"], n * itemsize(b["dtype"])) for b in consts]


@pytest.mark.parametrize("board", ["zcu104", "pynq-z2"])
def test_a_split_load_reads_each_master_by_the_rule(program, board):
    r = ddr_rates(get_board(board))
    assert r.split and r.ports == (0, 1, 0, 3, 2)
    bus = r.bus_bytes
    modes = set()
    qm, _ = random_case(GRAPHS["dense_stride_pad_dilation"], seed=3)  # 3x3 convolutions: halo loads
    halo = [build_program(qm, tm=tm, tn=tn, tile=tile) for tm, tn, tile in ((8, 8, None), (3, 5, (2, 3)), (4, 3, (5, 1)))]
    for desc, engine in [(d, p.engine) for p in (program, *halo) for d in p.layers]:
        if desc["kind"] not in ("conv", "gemm") or is_depthwise(_conv_geometry(desc)):
            continue
        reads, nb, consts = rule_load(desc, engine)
        st = next(s for s in layer_steps(desc, engine, bus=bus, split=True) if s.load)
        plain = next(s for s in layer_steps(desc, engine, bus=bus) if s.load)
        half = min(nb, -(-nb // 128) * 64)  # the first half, rounded up to 64 bytes
        w0 = desc["weights"]["offset"]
        hist = {k: histogram(*runs(v, itemsize(desc["inputs"][0]["dtype"])), bus) for k, v in reads.items()}
        starts, sizes = zip(*consts)
        first = merge(histogram(*runs(starts, sizes), bus), histogram(*runs([w0], half), bus))
        second = histogram(*runs([w0 + half], nb - half), bus) if nb > half else ()
        assert st.aload_b == hist["acts_b"], desc["name"]
        assert minus(st.load, merge(st.wload, st.wload_b, st.aload_b)) == hist["acts"], desc["name"]
        assert (st.wload, st.wload_b) == (first, second), desc["name"]
        assert st.load == merge(hist["acts"], hist["acts_b"], first, second)
        # the same elements as the unsplit engine reads, the same bytes: only the bursts differ
        assert (st.weights, st.read) == (plain.weights, plain.read) and plain.wload_b == plain.aload_b == ()
        assert sum(n * c for n, _, c in st.load) == sum(n * c for n, _, c in plain.load)
        modes.add("tap" if tap_parallel(desc, engine) else
                  "sampled" if sampled_input(desc, _conv_geometry(desc)) else "halo")
        if hist["acts_b"]:
            modes.add("odd rows")
        if second:
            modes.add("weights_b")
    assert modes == {"tap", "sampled", "halo", "odd rows", "weights_b"}


@pytest.mark.parametrize("board", ["zcu104", "pynq-z2"])
def test_the_split_engine_takes_no_more_cycles(program, board):
    b = get_board(board)
    split, one = program_cost(program, b), program_cost(program, unsplit(b))
    assert split.hp_ports == 4 and one.hp_ports == 2
    for s, u in zip(split.layers, one.layers):
        assert (s.weight_bytes, s.act_read_bytes, s.act_write_bytes) == (u.weight_bytes, u.act_read_bytes,
                                                                         u.act_write_bytes), s.name
        assert s.bursts >= u.bursts and s.compute_cycles == u.compute_cycles, s.name
        assert s.cycles <= u.cycles, s.name
    assert split.cycles < one.cycles
    # the gemm reads ten times the bytes of weights it reads of input: its weights' port binds, and half
    # of them on a port of their own take a share of its time off
    gemm = next(i for i, d in enumerate(program.layers) if d["kind"] == "gemm")
    s, u = split.layers[gemm], one.layers[gemm]
    assert s.weight_bytes > 10 * s.act_read_bytes and s.bound == u.bound == "memory"
    assert s.transfer_cycles < 0.7 * u.transfer_cycles and s.cycles < 0.95 * u.cycles


def test_unsplit_boards_cost_as_before(program):
    """Without second ports the walk has no second masters' parts: the Vitis shells and an unsplit
    Zynq engine walk exactly the steps of a walk that knows nothing of splitting."""
    for name in ("alveo-u250", "zcu104"):
        b = get_board(name)
        b = unsplit(b) if b.ps else b
        r = ddr_rates(b)
        assert not r.split
        for desc in program.layers:
            for st in layer_steps(desc, program.engine, bus=r.bus_bytes, split=r.split):
                assert st.wload_b == st.aload_b == ()


@pytest.mark.parametrize("board", ["zcu104", "pynq-z2"])
def test_a_split_window_pool_reads_its_odd_halo_rows_through_acts_b(board):
    """A window pool's load per master as the rule gives it (tiled/pool.h: halo row yy through acts_b
    when odd, padding rows among them), worked out from its element addresses; the same bytes as the
    unsplit walk, and no more cycles."""
    from onnx import helper
    from tiled_util import make_model

    r = ddr_rates(get_board(board))
    nodes = [helper.make_node("MaxPool", ["x"], ["m"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
             helper.make_node("AveragePool", ["m"], ["y"], kernel_shape=[2, 2], strides=[2, 2])]
    qm, _ = random_case(make_model(nodes, {"x": [12, 11, 7]}, {}), seed=4)
    program = build_program(qm, tm=8, tn=4, tile=(2, 3))
    for desc in program.layers:
        x, t, geo = desc["inputs"][0], desc["tile"], desc["geometry"]
        (kh, kw), (sh, sw), (pt, pl) = geo["kernel"], geo["strides"], geo["pads"][:2]
        nr, nc, cn = min(t["rows"], desc["output"]["h"]), min(t["cols"], desc["output"]["w"]), min(t["tm"], x["c"])
        reads = {"acts": [], "acts_b": []}
        for yy in range((nr - 1) * sh + kh):  # the first spatial tile's first channel tile
            for xx in range((nc - 1) * sw + kw):
                iy, ix = yy - pt, xx - pl
                if 0 <= iy < x["h"] and 0 <= ix < x["w"]:
                    reads["acts_b" if yy % 2 else "acts"] += [
                        x["offset"] + ((iy * x["w"] + ix) * x["pixel_stride"] + c) * itemsize(x["dtype"]) for c in range(cn)]
        hist = {k: histogram(*runs(v, itemsize(x["dtype"])), r.bus_bytes) for k, v in reads.items()}
        st = next(s for s in layer_steps(desc, program.engine, bus=r.bus_bytes, split=True) if s.load)
        plain = next(s for s in layer_steps(desc, program.engine, bus=r.bus_bytes) if s.load)
        assert hist["acts_b"] and st.aload_b == hist["acts_b"], desc["name"]
        assert minus(st.load, st.aload_b) == hist["acts"] and plain.aload_b == ()
        assert sum(n * c for n, _, c in st.load) == sum(n * c for n, _, c in plain.load) and st.read == plain.read
    split, one = program_cost(program, get_board(board)), program_cost(program, unsplit(get_board(board)))
    assert all(s.cycles <= u.cycles for s, u in zip(split.layers, one.layers))


@pytest.mark.parametrize("board", ["zcu104", "pynq-z2"])
def test_a_split_conv_reads_its_odd_rows_residuals_through_acts_b(program, board):
    """A conv's output path with a residual add: the residual bytes of its odd output rows on acts_b
    (Step.store_rb), all of them in store_r, the same bytes as the unsplit walk; no more cycles."""
    r = ddr_rates(get_board(board))
    seen = 0
    for desc in program.layers:
        adds = [p["residual"] for p in desc["post"] if p["op"] == "add"]
        if desc["kind"] not in ("conv", "gemm") or not adds:
            continue
        res = adds[0]
        assert res.get("channel_stride", 1) == 1 and res["pixel_stride"] == res["c"] == desc["output"]["c"]
        row = res["w"] * res["c"] * itemsize(res["dtype"])
        split_steps = list(layer_steps(desc, program.engine, bus=r.bus_bytes, split=True))
        plain = list(layer_steps(desc, program.engine, bus=r.bus_bytes))
        odd = sum(n * c for st in split_steps for n, _, c in st.store_rb)
        assert odd == len(range(1, desc["output"]["h"], 2)) * row > 0, desc["name"]
        assert all(merge(minus(st.store_r, st.store_rb), st.store_rb) == st.store_r for st in split_steps)  # held
        assert (sum(n * c for st in split_steps for n, _, c in st.store_r)
                == sum(n * c for st in plain for n, _, c in st.store_r) == desc["output"]["h"] * row)
        assert not any(st.store_rb for st in plain)
        seen += 1
    assert seen
    split, one = program_cost(program, get_board(board)), program_cost(program, unsplit(get_board(board)))
    assert all(s.cycles <= u.cycles for s, u in zip(split.layers, one.layers))
