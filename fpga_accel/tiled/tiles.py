"""Tile geometry shared by the tiled engine's executor, its cost model and the program checks.

Everything is in output coordinates first: a layer's output is cut into spatial tiles of
``rows`` × ``cols`` pixels (row-major) and channel tiles of ``tm``; an output span reads the
input span :func:`in_span` gives (its halo), clipped to the image by :func:`clipped`. What lies
outside the image is padding, made on chip, never read from DDR.
"""
from __future__ import annotations


def spans(n: int, step: int) -> list[tuple[int, int]]:
    """[start, stop) pieces of ``range(n)`` of ``step`` each, the last one short when ``step``
    does not divide ``n``."""
    return [(a, min(a + step, n)) for a in range(0, n, step)]


def in_span(o0: int, o1: int, stride: int, dil: int, k: int, pad: int) -> tuple[int, int]:
    """Input [a, b) that outputs [o0, o1) read along one axis (before clipping: a < 0 or b past
    the input are padding)."""
    return o0 * stride - pad, (o1 - 1) * stride - pad + (k - 1) * dil + 1


def clipped(a: int, b: int, size: int) -> tuple[int, int]:
    """[a, b) clipped to [0, size)."""
    return max(a, 0), max(min(b, size), max(a, 0))


def inside(o0: int, o1: int, stride: int, off: int, size: int) -> tuple[int, int]:
    """Outputs [a, b) of [o0, o1) whose input position ``o·stride + off`` lies in [0, size): those
    one tap (``off`` = its offset·dilation − pad) reads from DDR rather than from padding."""
    a = max(o0, -(off // stride) if off < 0 else 0)  # ceil(-off / stride)
    b = min(o1, (size - 1 - off) // stride + 1) if size - 1 - off >= 0 else o0
    return a, max(a, b)


def window_out(size: int, k: int, stride: int, dil: int, pad_begin: int, pad_end: int) -> int:
    """Output extent of a window op along one axis (floor mode; ceil overhang is in the pads)."""
    return (size + pad_begin + pad_end - (k - 1) * dil - 1) // stride + 1


def is_depthwise(geo: dict) -> bool:
    """A grouped convolution with one input channel per group runs in the array's depthwise mode
    (Tm channels side by side, Tn kernel taps at a time)."""
    return geo["groups"] > 1 and geo["cin_per_group"] == 1


def tap_parallel(desc: dict, engine: dict) -> bool:
    """Whether a dense convolution runs in tap-parallel mode: Tn (tap, channel) pairs a cycle instead of
    one tap's Tn channels, from an im2col input tile (each output pixel's KH·KW·cg values side by side),
    rows · cols · ⌈KH·KW·cg / Tn⌉ cycles per Tm tile — when that is fewer than dense mode's
    KH·KW · ⌈cg / Tn⌉ (a first layer's 3 channels, or channel counts Tn does not divide) and the
    im2col tile and the Tm tile's regrouped weights (⌈KH·KW·cg / Tn⌉ · Tm · Tn) fit the ``engine``'s
    input and weight buffers (``input_buffer``, ``weight_buffer``). The engine derives the mode from
    the same fields (tiled/checks.h); the builder chooses it by the tile it gives the layer."""
    if desc["kind"] != "conv":
        return False
    geo, t = desc["geometry"], desc["tile"]
    kh, kw = geo["kernel"]
    k, cg, tn = kh * kw, geo["cin_per_group"], t["tn"]
    groups = -(-(k * cg) // tn)
    return (not is_depthwise(geo) and k > 1 and groups < k * -(-cg // tn)
            and t["rows"] * t["cols"] * k * cg <= engine["input_buffer"]
            and groups * t["tm"] * tn <= engine["weight_buffer"])


def sampled_input(desc: dict, geo: dict) -> bool:
    """A dense 1×1 convolution or gemm loads only the pixels its outputs read (rows × cols of them; a
    strided one skips the rest), not the span between them (tiled/checks.h)."""
    return desc["kind"] in ("conv", "gemm") and not is_depthwise(geo) and list(geo["kernel"]) == [1, 1]


def tiles_per_step(desc: dict, geo: dict, engine: dict) -> int:
    """Tn tiles a dense step of a convolution or gemm (not tap-parallel, not depthwise; ``geo`` its
    geometry, a gemm's as a 1×1 convolution) loads at once: G consecutive Tn tiles of a group's
    channels, their input channels side by side in each pixel and their weight blocks as one run, the
    array running them in turn. G is the most the ``engine``'s input half (the full tile's input area,
    halo included, times the step's channels) and weight half (KH·KW·Tm times them) hold, all
    ⌈cg / Tn⌉ tiles when they fit — but half of them when that would make a convolution's spatial tile
    one step (one group, one Tm tile) and it has more than one tap: a lone step overlaps nothing, two
    overlap the second load with the first KH·KW products a pixel (a 1×1 step's products take about
    as long as a pixel's burst, and the whole rows it reads in one step are worth more) — then spread
    evenly over the steps that takes (tiled/checks.h, tiles_per_step)."""
    t = desc["tile"]
    (kh, kw), (sh, sw), (dh, dw) = geo["kernel"], geo["strides"], geo["dilations"]
    cg, tn = geo["cin_per_group"], t["tn"]
    nt = -(-cg // tn)
    if sampled_input(desc, geo):
        area = t["rows"] * t["cols"]
    else:
        area = halo_extent(t["rows"], sh, dh, kh) * halo_extent(t["cols"], sw, dw, kw)
    most = min(engine["input_buffer"] // area, engine["weight_buffer"] // (kh * kw * t["tm"]))
    g = max(1, nt if most >= cg else most // tn)
    if g >= nt > 1 and kh * kw > 1 and geo["groups"] == 1 and geo["cout_per_group"] <= t["tm"]:
        g = -(-nt // 2)
    steps = -(-nt // g)
    return -(-nt // steps)


def whole_pixels(desc: dict, engine: dict) -> bool:
    """Whether a dense or grouped convolution (or gemm) keeps all of a spatial tile's output channels on
    chip: when it has more than one Tm tile and more than one spatial tile, and rows · cols · c (the
    output's channels) fit the ``engine``'s ``output_buffer`` (one accumulator half). Its Tm tiles
    then accumulate side by side, and the output path writes each pixel's channels as one run (a
    whole row when they are all of the pixel's), reading the residual the same way, while the next
    spatial tile runs in the other half. One Tm tile writes whole pixels anyway, and one spatial tile
    would leave that output path nothing to overlap (tiled/checks.h, whole_pixels)."""
    kind, t, out = desc["kind"], desc["tile"], desc["output"]
    if kind not in ("conv", "gemm") or (kind == "conv" and is_depthwise(desc["geometry"])):
        return False
    groups = desc["geometry"]["groups"] if kind == "conv" else 1
    several = groups > 1 or out["c"] // groups > t["tm"]
    return (several and (t["rows"] < out["h"] or t["cols"] < out["w"])
            and t["rows"] * t["cols"] * out["c"] <= engine["output_buffer"])


def input_resident(desc: dict, geo: dict, area: int, engine: dict) -> bool:
    """Whether a dense spatial tile whose input tile (halo and padding included) is ``area`` pixels keeps all
    of a group's input channels on chip across its Tm tiles: when they fit one input half and the
    group has more than one Tm tile. Its first Tm tile then reads the input, the others none
    (tiled/conv.h, input_resident)."""
    return (not tap_parallel(desc, engine) and not is_depthwise(geo) and geo["cout_per_group"] > desc["tile"]["tm"]
            and area * geo["cin_per_group"] <= engine["input_buffer"])


def halo_extent(n_out: int, stride: int, dil: int, k: int) -> int:
    """Input rows (or columns) an ``n_out``-long output span reads, halo included."""
    return (n_out - 1) * stride + (k - 1) * dil + 1


def buffer_needs(desc: dict, engine: dict) -> dict[str, int]:
    """Elements of the input, weight and output buffers one tile of ``desc`` occupies (one half of each
    double buffer) on an engine with these ``input_buffer`` and ``weight_buffer`` (which decide
    whether a convolution is tap-parallel)."""
    kind, t = desc["kind"], desc["tile"]
    tm, tn, rows, cols = t["tm"], t["tn"], t["rows"], t["cols"]
    geo = desc.get("geometry", {})
    if kind in ("conv", "maxpool", "avgpool"):
        kh, kw = geo["kernel"]
        sh, sw = geo["strides"]
        dh, dw = geo["dilations"]
        area = halo_extent(rows, sh, dh, kh) * halo_extent(cols, sw, dw, kw)
        if tap_parallel(desc, engine):
            k = kh * kw
            return {"input": rows * cols * k * geo["cin_per_group"], "weight": -(-(k * geo["cin_per_group"]) // tn) * tm * tn,
                    "output": rows * cols * tm}
        if kind == "conv" and not is_depthwise(geo):
            if sampled_input(desc, geo):
                area = rows * cols
            return {"input": area * tn, "weight": kh * kw * tm * tn, "output": rows * cols * tm}
        return {"input": area * tm, "weight": kh * kw * tm if kind == "conv" else 0, "output": rows * cols * tm}
    if kind == "gemm":
        return {"input": rows * cols * tn, "weight": tm * tn, "output": rows * cols * tm}
    if kind in ("global_avgpool", "global_maxpool"):
        return {"input": rows * cols * tm, "weight": 0, "output": tm}
    return {"input": rows * cols * tm, "weight": 0, "output": rows * cols * tm}  # add, requant, lut
