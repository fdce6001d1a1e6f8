"""The tile and array search's shortcuts give the numbers of the plain loops, bit for bit: a layer's
totals (its runs' pipeline times from a table of its distinct steps, added in loop order) equal a
loop over every run; the weight order equals the block-by-block loop; a kept access walk equals a
fresh one."""
import numpy as np
import pytest
from test_tiled_engine import GRAPHS, TILINGS
from tiled_util import quantised, random_case

from fpga_accel.fold import get_board
from fpga_accel.tiled import build_program, cost
from fpga_accel.tiled.build import conv_weight_order
from fpga_accel.tiled.ddr import (
    ACTS,
    ACTS_B,
    DEFAULT_LATENCY,
    WEIGHTS,
    WEIGHTS_B,
    Rates,
    as_rates,
    busy,
    merge,
    minus,
    occupancy,
    stream,
)
from fpga_accel.tiled.tiles import spans
from models import data


def loop_totals(desc, engine, per_cycle, latency=DEFAULT_LATENCY):
    """layer_totals as one loop over every run of every tile (the cost model's docs, written out)."""
    lanes = range(as_rates(per_cycle).lanes)  # the DDR, each port's read and write channel

    def parts(st):  # the load, the fetch and the output path as (bursts, master, write)
        seconds = ((st.wload_b, WEIGHTS_B, False), (st.aload_b, ACTS_B, False)) if st.wload_b or st.aload_b else ()
        first = minus(st.load, merge(st.wload, st.wload_b, st.aload_b))
        residuals = (((minus(st.store_r, st.store_rb), ACTS, False), (st.store_rb, ACTS_B, False)) if st.store_rb
                     else ((st.store_r, ACTS, False),))  # a split engine's odd rows' residuals through acts_b
        return (((first, ACTS, False), (st.wload, WEIGHTS, False), *(p for p in seconds if p[0])),
                ((st.fetch, WEIGHTS, False),), (*residuals, (st.store_w, ACTS, True)))

    def load_time(st, load):  # a split load: its halves' streams at once, each alone on its lanes, one DDR
        if not (st.wload_b or st.aload_b):
            return stream(st.load, per_cycle, latency, occupied=load)
        first, second = parts(st)[0][:2], parts(st)[0][2:]
        alone = [stream(merge(*(h for h, _, _ in p)), per_cycle, latency, occupied=occupancy(p, per_cycle))
                 for p in (first, second)]
        return max(*alone, busy(st.load, per_cycle) + latency)

    def times(st):  # stage times (a data mover the longer of its stream and its iterations, one a cycle);
        # busy time on every lane of the load, the fetch and the output path
        load, fetch, store = (occupancy(p, per_cycle) for p in parts(st))
        return (max(load_time(st, load), st.load_moves),
                max(stream(st.fetch, per_cycle, latency, occupied=fetch), st.fetch_moves),
                st.compute, max(cost._store(st, per_cycle, latency), st.store_moves), load, fetch, store)

    def tile(steps, mode=None, before=None):
        if steps and steps[-1][1].whole:  # a tile of whole pixels: its output path after or beside its steps
            rest = [(many, st) for many, st in steps[:-1] if many]
            work, out = pipeline(rest, mode), times(steps[-1][1])
            if not mode:
                return work + out[3]
            used = [0.0 for _ in lanes]  # on every lane
            for many, st in rest:
                t = times(st)
                for k in lanes:
                    used[k] += many * (t[4][k] + t[5][k])
            return max(work + queued(rest, steps[-1][1], mode), out[3], *(used[k] + out[6][k] for k in lanes))
        return pipeline(steps, mode, before)

    def queued(rest, out, mode):  # the load beside the first step behind the output path's reads
        if not rest:
            return 0.0
        first = rest[0][1]
        if rest[0][0] > 1:
            nxt = first
        elif len(rest) > 1:
            nxt = rest[1][1]
        elif mode == "pipelined":
            nxt = first
        else:
            return 0.0
        t, n = times(first), times(nxt)
        work = t[2] + (t[1] if mode == "pipelined" else 0.0)
        step = max(work, n[0], *(t[5][k] + n[4][k] for k in lanes))
        reads = occupancy(parts(out)[2][:-1], per_cycle)  # on the DDR and the lanes the load shares
        return max(0.0, n[0] + max(reads[k] for k in lanes if k == 0 or n[4][k]) - step)

    def pipeline(steps, mode=None, before=None):
        seq = [(many, times(st)) for many, st in steps if many]
        if not seq:
            return 0.0
        zero = (0.0,) * 4 + ((0.0,) * len(lanes),) * 3

        def one(prev, cur, nxt, first=False):
            work = cur[2] + (0.0 if first else cur[1])
            return max(work, nxt[0], prev[3], *(cur[5][k] + nxt[4][k] + prev[6][k] for k in lanes))

        chained = mode == "pipelined"
        head, tail = seq[0][1], seq[-1][1]
        total = (0.0 if chained else max(head[0], head[1])) + (0.0 if mode else tail[3])
        for i, (many, cur) in enumerate(seq):
            nxt = seq[i + 1][1] if i + 1 < len(seq) else (head if chained else zero)
            # the first step beside the output path of the tile before: alike (its own last), or `before`
            prv = seq[i - 1][1] if i else (times(before) if before is not None and mode else tail if mode else zero)
            first = not i and not chained
            if many == 1:
                total += one(prv, cur, nxt, first=first)
            else:
                total += one(prv, cur, cur, first=first) + (many - 2) * one(cur, cur, cur) + one(cur, cur, nxt)
        return total

    def drained(steps):  # the three units each in step order, as the buffer halves allow
        loaded = computed = stored = 0.0
        ends = []  # per step: (the array's end, the output path's end)
        used = [0.0 for _ in lanes]
        for many, st in steps:
            t = times(st)
            for k in lanes:
                used[k] += many * (t[4][k] + t[5][k] + t[6][k])
            for _ in range(many):
                if not (st.compute or st.load or st.store_r or st.store_w):  # a fetch alone
                    stored = computed = loaded = max(loaded, computed, stored) + t[1]
                    ends = [(stored, stored)] * 2
                    continue
                two_back = ends[-2] if len(ends) > 1 else (0.0, 0.0)
                loaded = max(loaded, two_back[0]) + t[0]
                computed = max(computed, loaded, two_back[1]) + max(t[2], t[1])
                stored = max(stored, computed) + t[3]
                ends.append((computed, stored))
        return max(loaded, computed, stored, *used)

    tot = [0, 0, 0, 0, 0.0, 0.0]
    held = [0.0 for _ in lanes]
    timed = cost._timed_tiles(desc, engine, bus=as_rates(per_cycle).bus_bytes, split=as_rates(per_cycle).split)
    mode = cost.span_overlap(desc, engine)
    dense = desc["kind"] == "gemm" or (desc["kind"] == "conv" and not (desc["geometry"]["groups"] > 1
                                                                       and desc["geometry"]["cin_per_group"] == 1))
    tables = 1 if desc["kind"] in ("conv", "gemm") and cost._layer_consts(desc, engine) else 0
    prev = None
    for index, (n, steps) in enumerate(timed):
        for many, st in steps:
            k = n * many
            tot[0] += k * st.compute
            tot[1] += k * st.weights
            tot[2] += k * st.read
            tot[3] += k * st.write
            for r, v in enumerate(occupancy(sum(parts(st), ()), per_cycle)):
                held[r] += k * v
        m = mode if index >= tables else None
        tot[5] += n * (tile(steps, m) if dense else drained(steps))
        if dense and m and prev is not None:  # the first tile of a kind beside the last tile of the kind before
            tot[5] += tile(steps, m, prev) - tile(steps, m)
        prev = [st for many, st in steps if many][-1] if dense and m else None
    if mode and len(timed) > tables:
        tot[5] += tile(timed[-1][1]) - tile(timed[-1][1], mode)
    tot[4] = max(held)
    return tuple(tot)


def programs():
    _, qm = quantised(data.model_path("resnet_ds"), data.load_calib("resnet_ds"))
    yield build_program(qm, tm=8, tn=8, tile=(4, 7))
    yield build_program(qm, tm=16, tn=4, buffers={"input": 2048, "weight": 2048, "output": 1024})
    for name in sorted(GRAPHS):
        qm, _ = random_case(GRAPHS[name], seed=len(name))
        for tm, tn, tile in TILINGS[:2]:
            yield build_program(qm, tm=tm, tn=tn, tile=tile)


def test_layer_totals_equal_the_loop_bit_for_bit():
    kinds, whole = set(), 0
    for program in programs():
        for desc in program.layers:
            if desc["kind"] in cost.SERIAL:
                continue
            # a DDR alone; behind a narrower port (a Zynq HP port); a port the DDR binds; the weights on a
            # port of their own; a split engine's four ports (ddr.master_ports)
            for per_cycle in (0.7, 3.5, Rates(64.0, 16.0), Rates(2.0, 16.0), Rates(64.0, 16.0, ports=(0, 1, 0)),
                              Rates(6.0, 16.0, 16, ports=(0, 1, 0)), Rates(64.0, 16.0, 16, ports=(0, 1, 0, 3, 2)),
                              Rates(6.0, 8.0, 8, ports=(0, 1, 0, 3, 2))):
                assert cost.layer_totals(desc, program.engine, per_cycle) == loop_totals(desc, program.engine, per_cycle)
            kinds.add((desc["kind"], cost.span_overlap(desc, program.engine)))
            whole += any(st.whole for _, steps in cost._timed_tiles(desc, program.engine) for _, st in steps)
    assert {("conv", "pipelined"), ("conv", None)} <= kinds  # dense and depthwise both walked
    assert whole  # and tiles of whole pixels


def test_program_cost_bursts_equal_the_per_layer_walk():
    program = next(programs())
    c = cost.program_cost(program, "pynq-z2")
    bus = cost.ddr_rates(get_board("pynq-z2")).bus_bytes
    assert bus == 8  # the 64-bit HP port's beats
    assert cost.ddr_rates(get_board("pynq-z2")).split  # a split engine: its dense loads over four masters
    assert [lay.bursts for lay in c.layers] == [cost.layer_bursts(d, program.engine, bus, True) for d in program.layers]
    assert [lay.bursts for lay in c.layers] == [
        sum(n * many * sum(k for *_, k in merge(st.load, st.fetch, st.store_r, st.store_w))
            for n, steps in cost._timed_tiles(d, program.engine, bus, True) for many, st in steps)
        for d in program.layers]


def block_order(w, groups, tm, tn):
    """The weight order, block by block: per group, per Tm tile, per Tn tile, [KH][KW][m][c]."""
    m, cg = w.shape[:2]
    if groups > 1 and cg == 1:
        return w.reshape(m, -1)
    mg = m // groups
    parts = [w[g * mg:(g + 1) * mg][o0:o1, c0:c1].transpose(2, 3, 0, 1).reshape(-1)
             for g in range(groups) for o0, o1 in spans(mg, tm) for c0, c1 in spans(cg, tn)]
    return np.concatenate(parts)


@pytest.mark.parametrize("seed", range(4))
def test_weight_order_equals_the_block_loop(seed):
    r = np.random.default_rng(seed)
    for _ in range(60):
        g = int(r.choice([1, 1, 2, 3]))
        mg, cg, kh, kw = (int(v) for v in r.integers(1, [40, 40, 4, 4]))
        w = r.integers(-128, 128, (g * mg, cg, kh, kw)).astype(np.int8)
        tm, tn = (int(v) for v in r.integers(1, 50, 2))
        got, want = conv_weight_order(w, g, tm, tn), block_order(w, g, tm, tn)
        assert got.dtype == want.dtype and np.array_equal(got, want), (g, mg, cg, kh, kw, tm, tn)
    dw = r.integers(-128, 128, (12, 1, 3, 3)).astype(np.int8)
    assert np.array_equal(conv_weight_order(dw, 12, 4, 4), block_order(dw, 12, 4, 4))


def test_a_kept_access_walk_equals_a_fresh_one():
    view = {"offset": 4032, "h": 9, "w": 9, "c": 24, "pixel_stride": 24, "dtype": "int8"}
    ys, xs = cost._grid(1, 5, 2, 9)
    first = cost._access([view], ys, xs, 8, 16)
    assert first == cost._walk_access([view], ys, xs, 8, 16) and first
    assert cost._access([view], ys, xs, 8, 16) is first  # kept
    assert cost._grid(1, 5, 2, 9)[0] is ys and not ys.flags.writeable  # the grid kept too, read only
    assert cost._access([view], ys.copy(), xs.copy(), 8, 16) == first  # the same pixels in other arrays
    moved = dict(view, offset=view["offset"] + 64)  # another offset: another walk, its own bursts
    assert cost._access([moved], ys, xs, 8, 16) == cost._walk_access([moved], ys, xs, 8, 16)
    strided = dict(view, channel_stride=2)
    assert cost._access([strided], ys, xs, 0, 8) == cost._walk_access([strided], ys, xs, 0, 8)
    assert cost._access([view], ys[::-1].copy(), xs[::-1].copy(), 8, 16) == \
        cost._walk_access([view], ys[::-1].copy(), xs[::-1].copy(), 8, 16)
