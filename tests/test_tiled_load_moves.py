"""The tiled engine's loads move a bus word an iteration (docs/tiled.md §5, "Loads"): the traced C
simulation's LOAD events (and a layer's tables and channel constants) count exactly the iterations
the rule gives, computed here from the program's descriptors by a walk of the engine's loop order —
not from the engine — at W = 16 and 64 bytes, on every load kind: dense halo, sampled 1x1, a split
engine's paired rows and weight halves, tap-parallel (each halo row walked once, padding only where
the image is not, regrouped weights; a dense or tap-parallel load's input beside its weights, the
longer of the two after the constants),
depthwise, window pools, runs that start mid-word (channel counts no multiple of W, a channel slice
of a wider tensor) and views of channel stride > 1. The runs the trace records are those of an
element loop, and the integers equal the emulator's."""
import numpy as np
import pytest
from onnx import helper
from shufflenet_util import shufflenet_v2
from test_tiled_engine import W as weights_of
from test_tiled_engine import conv
from test_tiled_hls_speed import modes, speed_graph
from test_tiled_kinds import _ints, _slices
from tiled_util import make_model, needs_toolchain, random_case  # noqa: F401 (an autouse fixture)

from fpga_accel.emulator import run_layers
from fpga_accel.tiled import build_program
from fpga_accel.tiled.cost import _conv_geometry
from fpga_accel.tiled.program import itemsize
from fpga_accel.tiled.tiles import (
    halo_extent,
    input_resident,
    is_depthwise,
    sampled_input,
    tap_parallel,
    tiles_per_step,
    whole_pixels,
)

LOAD, LAYER = 2, 1  # tiled/trace.h Unit




# --- the rule -----------------------------------------------------------------------------------------
def words(a: int, nb: int, w: int) -> int:
    """Bus words of w bytes a run of nb bytes from byte a touches."""
    return (a + nb - 1) // w - a // w + 1 if nb else 0


def pad_words(n: int, s: int, w: int) -> int:
    return -(-n * s // w)


def block_words(block: dict, i0: int, n: int, w: int) -> int:
    s = itemsize(block["dtype"])
    return words(block["offset"] + i0 * s, n * s, w)


def pixel_its(x: dict, y: int, col: int, c0: int, cn: int, w: int) -> int:
    """A pixel's run of cn channels from c0: padding outside the image, one element an iteration at a
    channel stride > 1, else the bus words it touches."""
    s, cs = itemsize(x["dtype"]), x.get("channel_stride", 1)
    if not (0 <= y < x["h"] and 0 <= col < x["w"]):
        return pad_words(cn, s, w)
    if cs != 1:
        return cn
    return words(x["offset"] + ((y * x["w"] + col) * x["pixel_stride"] + c0) * s, cn * s, w)


def first_half(n: int, s: int) -> int:
    nb = n * s
    return min(nb, -(-nb // 128) * 64) // s


def weight_run_its(block: dict, base: int, n: int, w: int, split: bool) -> int:
    if not split:
        return block_words(block, base, n, w)
    h = first_half(n, itemsize(block["dtype"]))
    return max(block_words(block, base, h, w), block_words(block, base + h, n - h, w))


def paired_rows(x, rows, cols, c0, cn, w, split):
    """Input rows `rows` x columns `cols`: a pixel at a time, or a split engine's rows in pairs, a
    column's two pixels side by side."""
    if not split:
        return sum(pixel_its(x, y, col, c0, cn, w) for y in rows for col in cols)
    total = 0
    for i in range(0, len(rows), 2):
        for col in cols:
            a = pixel_its(x, rows[i], col, c0, cn, w)
            b = pixel_its(x, rows[i + 1], col, c0, cn, w) if i + 1 < len(rows) else 0
            total += max(a, b)
    return total


def consts_its(d, m0, tmo, engine, w):
    rq = d["requant"]
    held = whole_pixels(d, engine)
    return sum(block_words(rq[k], m0, tmo, w) for k in (["bias"] if held else ["bias", "M", "shift"]))


def tap_row_its(d, x, iy, xa, hx, c0, w):
    """A tap-parallel (py, ky) halo row of hx columns from xa, walked once: a row outside the image all
    padding; else its padding columns left and right of the image (each side whole words of padding)
    and the columns inside, one run when the view's pixels hold just the group's channels, else pixel
    by pixel."""
    cg, s = d["geometry"]["cin_per_group"], itemsize(x["dtype"])
    if not 0 <= iy < x["h"]:
        return pad_words(hx * cg, s, w)
    left = min(max(-xa, 0), hx)
    right = min(max(xa + hx - x["w"], 0), hx - left)
    xlo, xhi = xa + left, xa + hx - right
    pads = pad_words(left * cg, s, w) + pad_words(right * cg, s, w)
    if x.get("channel_stride", 1) == 1 and x["pixel_stride"] == cg:
        return pads + words(x["offset"] + ((iy * x["w"] + xlo) * x["pixel_stride"] + c0) * s, (xhi - xlo) * cg * s, w)
    return pads + sum(pixel_its(x, iy, col, c0, cg, w) for col in range(xlo, xhi))


def spans(d):
    t, out = d["tile"], d["output"]
    for r0 in range(0, out["h"], t["rows"]):
        for q0 in range(0, out["w"], t["cols"]):
            yield r0, q0, min(t["rows"], out["h"] - r0), min(t["cols"], out["w"] - q0)


def expected_loads(d, engine, w, split):
    """The iterations of each LOAD event of layer d, in program order, by the rule."""
    kind, t, x = d["kind"], d["tile"], d["inputs"][0]
    geo = _conv_geometry(d) if kind in ("conv", "gemm") else d["geometry"]
    (kh, kw), (sh, sw), (dh, dw) = geo["kernel"], geo["strides"], geo["dilations"]
    pt, pl = geo["pads"][0], geo["pads"][1]
    s = itemsize(x["dtype"])
    out = []
    for r0, q0, nr, nc in spans(d):
        ya, xa = r0 * sh - pt, q0 * sw - pl
        hy, hx = halo_extent(nr, sh, dh, kh), halo_extent(nc, sw, dw, kw)
        halo = lambda c0, cn, two=False: paired_rows(x, list(range(ya, ya + hy)), list(range(xa, xa + hx)), c0, cn, w,
                                                     two)
        if kind in ("maxpool", "avgpool"):  # a split engine's rows in pairs (the odd through acts_b)
            out += [halo(c0, min(t["tm"], x["c"] - c0), split) for c0 in range(0, x["c"], t["tm"])]
            continue
        groups, cg, mg, k = geo["groups"], geo["cin_per_group"], geo["cout_per_group"], kh * kw
        if is_depthwise(geo):
            for o0 in range(0, groups * mg, t["tm"]):
                tmo = min(t["tm"], groups * mg - o0)
                ci0 = o0 // mg
                consts = sum(block_words(d["requant"][b], o0, tmo, w) for b in ("bias", "M", "shift"))  # with the load
                out.append(consts + halo(ci0, (o0 + tmo - 1) // mg + 1 - ci0) + block_words(d["weights"], o0 * k, tmo * k, w))
            continue
        sampled = sampled_input(d, geo)
        area = nr * nc if sampled else hy * hx
        resident = input_resident(d, geo, area, engine)
        tap = tap_parallel(d, engine)
        cs = None if tap else tiles_per_step(d, geo, engine) * t["tn"]
        for gi in range(groups):
            for o0 in range(0, mg, t["tm"]):
                tmo = min(t["tm"], mg - o0)
                consts = consts_its(d, gi * mg + o0, tmo, engine, w)
                base = (gi * mg * cg + o0 * cg) * k
                if tap:  # the constants, then the rows (split: in pairs) beside the weight run
                    rows = [tap_row_its(d, x, ya + py * sh + ky * dh, xa, hx, gi * cg, w)
                            for py in range(nr) for ky in range(kh)]
                    if split:
                        its = sum(max(rows[i:i + 2]) for i in range(0, len(rows), 2))
                    else:
                        its = sum(rows)
                    out.append(consts + max(its, weight_run_its(d["weights"], base, k * tmo * cg, w, split)))
                    continue
                for c0 in range(0, cg, cs):
                    cw = min(cs, cg - c0)
                    its = 0  # the input beside the weight run, after the constants
                    if not resident or o0 == 0:
                        if sampled:
                            rows, cols = [ya + i * sh for i in range(nr)], [xa + i * sw for i in range(nc)]
                        else:
                            rows, cols = list(range(ya, ya + hy)), list(range(xa, xa + hx))
                        its += paired_rows(x, rows, cols, gi * cg + c0, cw, w, split)
                    wts = weight_run_its(d["weights"], base + tmo * c0 * k, k * tmo * cw, w, split)
                    out.append((consts if c0 == 0 else 0) + max(its, wts))
    return out


def expected_layer_moves(d, engine, w):
    """Moves outside the stages: the layer's tables, its channels' M and shift with whole pixels, an
    average pool's per-position constants."""
    tables = [p["table"] for p in d["post"] if p["op"] == "lut"] + ([d["table"]] if d["kind"] == "lut" else [])
    its = sum(block_words(b, 0, b["count"], w) for b in tables)
    if d["kind"] in ("conv", "gemm") and whole_pixels(d, engine):
        its += sum(block_words(d["requant"][k], 0, d["output"]["c"], w) for k in ("M", "shift"))
    if d["kind"] == "avgpool":  # its per-position M and shift, a position an iteration
        its += d["output"]["h"] * d["output"]["w"]
    return its


# --- the programs -------------------------------------------------------------------------------------
def pools_graph():
    """A padded 3x3 convolution of 12 channels (dense halo, steps) with a lookup post stage, an average
    and a max pool, a depthwise convolution and a strided 1x1 one (sampled)."""
    r = np.random.default_rng(4)
    nodes = [conv("c3", "x", "w1", "a", pads=[1, 1, 1, 1]), helper.make_node("Sigmoid", ["a"], ["b"]),
             helper.make_node("AveragePool", ["b"], ["p"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             helper.make_node("MaxPool", ["p"], ["m"], kernel_shape=[2, 2], strides=[2, 2]),
             conv("dw", "m", "w2", "d", pads=[1, 1, 1, 1], group=10),
             conv("down", "d", "w3", "y", strides=[2, 2])]
    return make_model(nodes, {"x": [12, 9, 7]}, {"w1": weights_of(r, 10, 12, 3, 3), "w1_b": weights_of(r, 10),
                                                 "w2": weights_of(r, 10, 1, 3, 3), "w2_b": weights_of(r, 10),
                                                 "w3": weights_of(r, 6, 10, 1, 1), "w3_b": weights_of(r, 6)})


def sliced_taps():
    """Tap-parallel convolutions whose rows are no run: one of 3 channels read in place from a channel
    slice of an 8-channel tensor, and one of two groups of 4 channels (each group a part of a pixel)."""
    r = np.random.default_rng(6)
    nodes = [_ints("ax", 1), _ints("one", 1), _ints("s1", 1), _ints("s4", 4),
             conv("c1", "x", "w0", "a", pads=[1, 1, 1, 1]),
             helper.make_node("Slice", ["a", "s1", "s4", "ax", "one"], ["part"], name="part"),
             conv("c2", "part", "w1", "b", pads=[1, 1, 1, 1]),
             conv("g2", "a", "w2", "c", pads=[1, 1, 1, 1], group=2),
             helper.make_node("Concat", ["b", "c"], ["y"], axis=1, name="y")]
    return make_model(nodes, {"x": [3, 6, 5]}, {"w0": weights_of(r, 8, 3, 3, 3), "w0_b": weights_of(r, 8),
                                                "w1": weights_of(r, 5, 3, 3, 3), "w1_b": weights_of(r, 5),
                                                "w2": weights_of(r, 6, 4, 3, 3), "w2_b": weights_of(r, 6)})


CASES = {
    "taps": (sliced_taps, dict(tm=4, tn=3, tile=(2, 3)), 0),
    "taps-split": (sliced_taps, dict(tm=4, tn=3, tile=(2, 3)), 1),
    "pools": (pools_graph, dict(tm=4, tn=4, tile=(3, 4)), 0),
    "speed": (speed_graph, dict(tm=5, tn=4, tile=(3, 4)), 0),
    "speed-split": (speed_graph, dict(tm=5, tn=4, tile=(3, 4)), 1),
    "pools-split": (pools_graph, dict(tm=4, tn=4, tile=(3, 4)), 1),
    "slices": (_slices, dict(tm=3, tn=4), 0),
    "shufflenet": (lambda: shufflenet_v2(0.5, 32, classes=10), dict(tm=8, tn=8), 0),
}


def traced(case, w):
    from fpga_accel.sim.tiled_build import TracedCsim

    graph, build, split = CASES[case]
    qm, q = random_case(graph(), seed=3, n=1)
    program = build_program(qm, **build)
    outs, tr = TracedCsim(program, split=split, axi_bits=8 * w).trace(q)
    return qm, q, program, outs, tr, split


@pytest.mark.parametrize("w", [16, 64])
@pytest.mark.parametrize("case", list(CASES))
def test_load_iterations_are_bus_words(case, w):
    qm, q, program, outs, tr, split = traced(case, w)
    want = run_layers(qm, q, threads=1)
    for name, v in want.items():
        np.testing.assert_array_equal(outs[name], v, err_msg=name)
    ev = tr.events
    checked = set()
    for i, d in enumerate(program.layers):
        mine = ev[ev["layer"] == i]
        if d["kind"] in ("conv", "gemm", "maxpool", "avgpool"):
            got = mine["iterations"][mine["unit"] == LOAD].tolist()
            assert got == expected_loads(d, program.engine, w, split), (d["name"], w)
            assert int(mine["iterations"][mine["unit"] == LAYER].sum()) == expected_layer_moves(d, program.engine, w)
            x = d["inputs"][0]
            if tap_parallel(d, program.engine) and x["pixel_stride"] != d["geometry"]["cin_per_group"]:
                checked.add("tap-rows-by-pixel")
            checked.add(d["kind"] if d["kind"] != "conv" else
                        "depthwise" if is_depthwise(d["geometry"]) else
                        "tap" if tap_parallel(d, program.engine) else
                        "sampled" if sampled_input(d, d["geometry"]) else "halo")
    need = {"pools": {"halo", "avgpool", "maxpool", "depthwise", "sampled"}, "speed": {"tap", "sampled"},
            "slices": {"tap", "sampled"}, "taps": {"tap", "tap-rows-by-pixel"}, "shufflenet": {"tap", "maxpool", "depthwise", "sampled", "gemm"}}
    assert need[case.split("-")[0]] <= checked, checked
    if case.startswith("speed"):
        assert "resident" in modes(program)


def test_views_of_the_programs_are_the_kinds_the_rule_names():
    """The cases hold runs that start mid-word, a channel slice read in place, and channel strides > 1."""
    _, _, slices, *_ = traced("slices", 16)
    sliced = [d["inputs"][0] for d in slices.layers if d["inputs"][0]["pixel_stride"] > d["inputs"][0]["c"]]
    assert sliced and any(v["offset"] % 16 for v in sliced)  # a channel slice, starting mid-word
    _, _, shuffle, *_ = traced("shufflenet", 64)
    assert any(d["inputs"][0].get("channel_stride", 1) > 1 for d in shuffle.layers if d["kind"] == "conv")


def test_runs_are_an_element_loops():
    """The bus width changes the iterations, never the DDR runs: the trace's runs at W = 16 and 64
    equal each other's, event by event, and the integers too."""
    for case in ("speed-split", "pools"):
        *_, oa, a, _ = traced(case, 16)
        *_, ob, b, _ = traced(case, 64)
        assert np.array_equal(a.runs, b.runs), case
        assert np.array_equal(a.events["runs"], b.events["runs"]) and np.array_equal(a.events["unit"], b.events["unit"])
        assert not np.array_equal(a.events["iterations"], b.events["iterations"])  # the words differ
        for k in oa:
            np.testing.assert_array_equal(oa[k], ob[k])
