"""The data movers' iterations the cost model counts per step (docs/tiled.md §4: a load moves a bus
word of W bytes an iteration, the output path P = W / itemsize lanes) equal a brute-force walk of
those rules written out here — every byte's bus word listed, pixel by pixel in the engine's load
order — on small descriptors of every dense mode, depthwise and the window pools, split and
unsplit, at W = 8, 16 and 64; and each stage takes the longer of its stream and its iterations."""
import dataclasses

import pytest
from test_tiled_engine import GRAPHS, TILINGS
from tiled_util import quantised, random_case

from fpga_accel.tiled import build_program, cost, moves
from fpga_accel.tiled.ddr import DEFAULT_LATENCY, Rates
from fpga_accel.tiled.program import itemsize
from fpga_accel.tiled.tiles import (
    input_resident,
    is_depthwise,
    sampled_input,
    spans,
    tap_parallel,
    tiles_per_step,
    whole_pixels,
)
from models import data

#: (W, split): the Alveo masters, a Zynq UltraScale+ HP port unsplit and split, pynq-z2's split engine
BUSES = [(64, False), (16, False), (16, True), (8, True)]


def touched(a, n, bus):
    """Bus words n bytes from a touch: every byte's word, listed."""
    return len({b // bus for b in range(a, a + n)})


def pixel(view, iy, ix, c0, cn, bus):
    s = itemsize(view["dtype"])
    if not (0 <= iy < view["h"] and 0 <= ix < view["w"]):
        return -(-cn * s // bus)  # padding: the buffer filled a word at a time
    if view.get("channel_stride", 1) != 1:
        return cn
    return touched(view["offset"] + ((iy * view["w"] + ix) * view["pixel_stride"] + c0) * s, cn * s, bus)


def paired(per_row, split):
    """Rows in turn; a split engine's rows 2i and 2i+1 side by side, per column the longer."""
    if not split:
        return sum(sum(r) for r in per_row)
    total = 0
    for i in range(0, len(per_row), 2):
        b = per_row[i + 1] if i + 1 < len(per_row) else [0] * len(per_row[i])
        total += sum(max(p, q) for p, q in zip(per_row[i], b))
    return total


def load_rows(view, rows, cols, c0, cn, bus, split):
    return paired([[pixel(view, y, x, c0, cn, bus) for x in cols] for y in rows], split)


def weight_run(a, nb, bus, split):
    if not split:
        return touched(a, nb, bus)
    h = min(nb, -(-nb // 128) * 64)  # the first half, rounded up to 64 bytes (ports.split)
    return max(touched(a, h, bus), touched(a + h, nb - h, bus))


def drain(out, residuals, px, n, bus):
    if any(v.get("channel_stride", 1) != 1 for v in [out, *residuals]):
        return px * n
    lanes = bus // itemsize(out["dtype"])
    return px * len(range(0, n, lanes))


def residuals(desc):
    return [p["residual"] for p in desc["post"] if p["op"] == "add"]


def first_tile(desc):
    t, out = desc["tile"], desc["output"]
    return min(t["rows"], out["h"]), min(t["cols"], out["w"])


def halo(desc, geo, nr, nc):
    (kh, kw), (sh, sw), (dh, dw), pads = geo["kernel"], geo["strides"], geo["dilations"], geo["pads"]
    return (list(range(-pads[0], (nr - 1) * sh - pads[0] + (kh - 1) * dh + 1)),
            list(range(-pads[1], (nc - 1) * sw - pads[1] + (kw - 1) * dw + 1)))


def dense_rule(desc, engine, bus, split):
    """{index among the first Tm tile's steps: (load, output path iterations)} by the rules, for its
    steps the model places exactly (the first, the second, the last), and the whole-pixel output path."""
    geo, x, out, rq, t = cost._conv_geometry(desc), desc["inputs"][0], desc["output"], desc["requant"], desc["tile"]
    (kh, kw), (sh, sw), (dh, dw), pads = geo["kernel"], geo["strides"], geo["dilations"], geo["pads"]
    k, cg, xb, wb = kh * kw, geo["cin_per_group"], itemsize(x["dtype"]), itemsize(desc["weights"]["dtype"])
    nr, nc = first_tile(desc)
    px, n, w0 = nr * nc, min(t["tm"], geo["cout_per_group"]), desc["weights"]["offset"]
    whole = whole_pixels(desc, engine)
    blocks = [rq["bias"]] if whole else [rq["bias"], rq["M"], rq["shift"]]
    consts = sum(touched(b["offset"], n * itemsize(b["dtype"]), bus) for b in blocks)
    store = 0 if whole else drain(out, residuals(desc), px, n, bus)
    if tap_parallel(desc, engine):  # each (py, ky) halo row walked once, padding where the image is not
        hx = (nc - 1) * sw + (kw - 1) * dw + 1
        cols = range(-pads[1], -pads[1] + hx)
        inside = [ix for ix in cols if 0 <= ix < x["w"]]
        outside = len(cols) - len(inside)
        left = sum(1 for ix in cols if ix < 0)
        run = x.get("channel_stride", 1) == 1 and x["pixel_stride"] == cg
        per_row = []
        for py in range(nr):
            for ky in range(kh):
                iy = -pads[0] + py * sh + ky * dh
                if not 0 <= iy < x["h"]:
                    per_row.append([-(-hx * cg * xb // bus)])
                    continue
                pads_ = -(-left * cg * xb // bus) + -(-(outside - left) * cg * xb // bus)
                if run and inside:
                    read = touched(x["offset"] + (iy * x["w"] + inside[0]) * x["pixel_stride"] * xb,
                                   len(inside) * cg * xb, bus)
                else:
                    read = sum(pixel(x, iy, ix, 0, cg, bus) for ix in inside)
                per_row.append([pads_ + read])
        load = consts + max(paired(per_row, split), weight_run(w0, k * n * cg * wb, bus, split))
        return {0: (load, store)}, whole
    if sampled_input(desc, geo):
        rows, cols = [-pads[0] + yy * sh for yy in range(nr)], [-pads[1] + xx * sw for xx in range(nc)]
    else:
        rows, cols = halo(desc, geo, nr, nc)
    cs = spans(cg, tiles_per_step(desc, geo, engine) * t["tn"])
    want = {}
    for j in sorted({0, min(1, len(cs) - 1), len(cs) - 1}):
        c0, c1 = cs[j]
        load = (consts if j == 0 else 0) + max(load_rows(x, rows, cols, c0, c1 - c0, bus, split),  # side by side
                                               weight_run(w0 + n * c0 * k * wb, k * n * (c1 - c0) * wb, bus, split))
        want[j] = (load, store if j == len(cs) - 1 else 0)
    return want, whole


def model_steps(desc, engine, bus, split):
    return [st for st in cost.layer_steps(desc, engine, bus=bus, split=split) if st.compute or st.whole]


def programs():
    _, qm = quantised(data.model_path("resnet_ds"), data.load_calib("resnet_ds"))
    yield build_program(qm, tm=8, tn=8, tile=(4, 7))
    yield build_program(qm, tm=16, tn=4, buffers={"input": 2048, "weight": 2048, "output": 1024})
    yield build_program(qm, tm=5, tn=3, tile=(3, 5))
    for name in ("dense_stride_pad_dilation", "depthwise", "grouped", "gemm", "residual", "pools", "conv1d"):
        qm, _ = random_case(GRAPHS[name], seed=len(name))
        for tm, tn, tile in TILINGS[:3]:
            yield build_program(qm, tm=tm, tn=tn, tile=tile)


@pytest.fixture(scope="module")
def walked():
    return list(programs())


@pytest.mark.parametrize("bus,split", BUSES)
def test_step_moves_equal_the_rules_walked_byte_by_byte(walked, bus, split):
    modes, misaligned = set(), False
    for program in walked:
        engine = program.engine
        for desc in program.layers:
            kind = desc["kind"]
            steps = model_steps(desc, engine, bus, split)
            if kind in ("conv", "gemm") and not is_depthwise(cost._conv_geometry(desc)):
                want, whole = dense_rule(desc, engine, bus, split)
                for j, (load, store) in want.items():
                    assert (steps[j].load_moves, steps[j].store_moves) == (load, store), (desc["name"], j)
                geo, x = cost._conv_geometry(desc), desc["inputs"][0]
                if whole:
                    nr, nc = first_tile(desc)
                    out = next(st for st in steps if st.whole)
                    assert out.store_moves == drain(desc["output"], residuals(desc), nr * nc, desc["output"]["c"], bus)
                    modes.add("whole")
                modes.add("tap" if tap_parallel(desc, engine) else "sampled" if sampled_input(desc, geo) else "halo")
                nr, nc = first_tile(desc)
                if input_resident(desc, geo, cost._held(desc, geo, 0, nr, 0, nc), engine):
                    modes.add("resident")
                misaligned |= (geo["cin_per_group"] * itemsize(x["dtype"])) % bus != 0
            elif kind == "conv" or kind in ("maxpool", "avgpool"):
                geo, x, out = desc["geometry"], desc["inputs"][0], desc["output"]
                nr, nc = first_tile(desc)
                rows, cols = halo(desc, geo, nr, nc)
                k = geo["kernel"][0] * geo["kernel"][1]
                if kind == "conv":  # depthwise: every Tm tile of the first spatial tile, each placed exactly
                    mg, rq, w0 = geo["cout_per_group"], desc["requant"], desc["weights"]["offset"]
                    tms = spans(geo["groups"] * mg, desc["tile"]["tm"])
                    for st, (o0, o1) in zip(steps, tms):
                        n, ci = o1 - o0, o0 // mg
                        load = (load_rows(x, rows, cols, ci, (o1 - 1) // mg + 1 - ci, bus, False)
                                + touched(w0 + o0 * k, n * k, bus))
                        load += sum(touched(b["offset"] + o0 * itemsize(b["dtype"]), n * itemsize(b["dtype"]), bus)
                                    for b in (rq["bias"], rq["M"], rq["shift"]))  # its constants with its load
                        assert (st.load_moves, st.fetch_moves, st.store_moves) == (
                            load, 0, drain(out, residuals(desc), nr * nc, n, bus)), (desc["name"], o0)
                    modes.add("depthwise")
                else:  # a window pool: its channel tiles (split: its halo rows in pairs)
                    for st, (c0, c1) in zip(steps, spans(x["c"], desc["tile"]["tm"])):
                        assert (st.load_moves, st.store_moves) == (
                            load_rows(x, rows, cols, c0, c1 - c0, bus, split),
                            drain(out, residuals(desc), nr * nc, c1 - c0, bus)), (desc["name"], c0)
                    modes.add(kind)
    assert {"halo", "sampled", "tap", "resident", "whole", "depthwise", "maxpool"} <= modes, modes
    assert misaligned  # channel counts that end inside a bus word


def test_a_strided_view_moves_an_element_an_iteration():
    view = {"offset": 64 * 7 + 3, "h": 5, "w": 6, "c": 9, "pixel_stride": 20, "dtype": "int8"}
    rows, cols = list(range(-1, 4)), list(range(-2, 5))
    for bus in (8, 16, 64):
        for split in (False, True):
            for c0, cn in ((0, 9), (3, 5), (1, 1)):
                assert moves.grid(view, rows, cols, c0, cn, bus, split) == load_rows(view, rows, cols, c0, cn, bus, split)
                sv = dict(view, channel_stride=2)
                got = moves.grid(sv, rows, cols, c0, cn, bus, split)
                assert got == load_rows(sv, rows, cols, c0, cn, bus, split)
                assert got == paired([[cn if 0 <= y < 5 and 0 <= x < 6 else -(-cn // bus) for x in cols]
                                      for y in rows], split)
    i16 = {"dtype": "int16"}
    assert moves.drain(i16, [], 3, 9, 16) == 3 * 2 and moves.drain({"dtype": "int8"}, [], 3, 9, 16) == 3
    assert moves.drain({"dtype": "int8"}, [{"dtype": "int8", "channel_stride": 3}], 3, 9, 16) == 27


def test_each_stage_takes_the_longer_of_its_stream_and_its_iterations(walked):
    r = Rates(6.0, 16.0, 16, ports=(0, 1, 0))
    st = next(s for p in walked for d in p.layers for s in cost.layer_steps(d, p.engine, bus=16)
              if s.load and s.store_w)  # a step whose load and output path move data
    bare = dataclasses.replace(st, fetch=st.load, load_moves=0, fetch_moves=0, store_moves=0)  # and a fetch
    t = cost._stage_times(bare, r, DEFAULT_LATENCY, {})
    assert t[0] > 0 and t[1] > 0 and t[3] > 0
    for field, col in (("load_moves", 0), ("fetch_moves", 1), ("store_moves", 3)):
        for extra in (t[col] + 1000, max(t[col] - 1, 0)):
            got = cost._stage_times(dataclasses.replace(bare, **{field: int(extra)}), r, DEFAULT_LATENCY, {})
            assert got[col] == max(t[col], int(extra))
            assert got[:col] + got[col + 1:] == t[:col] + t[col + 1:]  # the other stages as they were


def test_serial_layers_add_their_constant_loops_to_the_pixel_loop(walked):
    """A requant's per-tile constants (pre, M, shift) are read ahead of its pixel loop, one loop after
    the other: its cycles at least its pixels and those words."""
    seen = 0
    for program in walked:
        for desc in program.layers:
            if desc["kind"] not in cost.SERIAL:
                continue
            steps = [st for _, tile in cost._timed_tiles(desc, program.engine, bus=8) for _, st in tile]
            loops = sum(st.compute + st.load_moves + st.fetch_moves + st.store_moves for st in steps)
            assert cost.layer_totals(desc, program.engine, Rates(1e9, None, 8))[5] >= loops
            seen += any(st.fetch_moves or st.store_moves for st in steps)
    assert seen


def test_tap_rows_pad_only_where_the_image_is_not():
    """moves.tap_rows against each (py, ky) halo row walked column by column: a row outside the image
    whole words of padding, else its left and right padding columns each whole words and the columns
    inside one run, or pixel by pixel for a channel slice or a channel stride > 1; split: pairs."""
    base = {"offset": 64 * 3 + 5, "h": 4, "w": 5, "c": 3, "pixel_stride": 3, "dtype": "int8"}
    views = [base, dict(base, pixel_stride=7), dict(base, channel_stride=2, pixel_stride=8),
             dict(base, dtype="int16", offset=64 * 3 + 6)]
    rows = [-2, -1, 0, 1, 3, 4, 5]
    for view in views:
        s, run = itemsize(view["dtype"]), view["pixel_stride"] == 3 and view.get("channel_stride", 1) == 1
        for bus in (8, 16, 64):
            for xa, hx in ((-2, 9), (0, 5), (1, 3), (-1, 4), (3, 4)):
                cols = range(xa, xa + hx)
                inside = [ix for ix in cols if 0 <= ix < view["w"]]
                left = sum(1 for ix in cols if ix < 0)
                right = hx - left - len(inside)
                per_row = []
                for iy in rows:
                    if not 0 <= iy < view["h"]:
                        per_row.append([-(-hx * 3 * s // bus)])
                        continue
                    edge = -(-left * 3 * s // bus) + -(-right * 3 * s // bus)
                    read = (touched(view["offset"] + (iy * view["w"] + inside[0]) * 3 * s, len(inside) * 3 * s, bus)
                            if run and inside else sum(pixel(view, iy, ix, 0, 3, bus) for ix in inside))
                    per_row.append([edge + read])
                for split in (False, True):
                    assert moves.tap_rows(view, rows, xa, hx, 0, 3, bus, split) == paired(per_row, split), (view, bus, xa)
