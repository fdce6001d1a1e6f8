"""The tiled engine's program: per-layer descriptors over one weights arena and one activation arena.

A program is a JSON-able dict (``FORMAT``, ``VERSION``) plus one numpy array, the weights arena
(uint8 bytes; no pickle). :func:`build_program` (``tiled/build.py``) writes it from a quantised
model; :func:`check_program` validates every field of one read from elsewhere, type and bounds,
before anything is allocated from it, and names the layer and field it refuses.

Addresses are byte offsets. Activations of one image live in regions of the activation arena,
each aligned to ``engine.align`` bytes and disjoint from every other; a tensor is a *view*
``{region, offset, h, w, c, pixel_stride, dtype}`` and an optional ``channel_stride`` (1 when absent):
element (y, x, ch) is at ``offset + ((y·w + x)·pixel_stride + ch·channel_stride)·itemsize``, NHWC,
channels fastest. A concatenation is addressing: its inputs are views into its region at a channel
offset, with the concatenation's channel count as pixel stride; a channel slice is a view at a
channel offset; a channel shuffle of a concatenation puts the concatenation's inputs at interleaved
channels (a channel stride); a reshape (Flatten, ...) is the same bytes under another shape.
Constants (weights, bias, M, shift, lookup tables, ...) are *blocks* ``{offset, count, dtype}`` of
the weights arena, aligned and disjoint, in the order the engine reads them (see docs/tiled.md).

Layer kinds: ``conv`` (dense, grouped, depthwise), ``gemm``, ``add``, ``maxpool``, ``avgpool``,
``global_avgpool``, ``global_maxpool``, ``requant`` (requantisation only), ``lut`` and ``mul`` (the
product of two tensors, the second of the same shape or one 1×1×C channel gate). Each may
carry output-path stages ``post`` (a lookup table, a residual add) applied before the write.
"""
from __future__ import annotations

import itertools
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..quant.arith import MAX_ACC_BITS, MAX_SHIFT, MIN_SHIFT, MULT_BITS
from .tiles import buffer_needs, window_out

FORMAT = "fpga-accel-tiled-program"
VERSION = 1
KINDS = ("conv", "gemm", "add", "maxpool", "avgpool", "global_avgpool", "global_maxpool", "requant", "lut", "mul")
ACT_DTYPES = ("int8", "uint8", "int16", "uint16")
WEIGHT_DTYPES = ("int8", "int16")
ALIGN = 64  # bytes: one 512-bit memory word, the widest m_axi port the boards use

# Bounds on what a program may declare (checked before anything is allocated from it).
MAX_TILE = 1024  # Tm, Tn
MAX_BUFFER = 1 << 24  # elements of one on-chip buffer
MAX_OUT_LANES = 128  # the output path's lanes: at most a bus word's bytes (tiled/config.h)
MAX_ARENA = 1 << 36  # bytes (64 GiB: the largest card memory among the boards)
MAX_DIM = 1 << 16  # height, width
MAX_CHANNELS = 1 << 24  # a flattened feature map is one pixel of H·W·C channels
MAX_KERNEL = 64
MAX_LAYERS = 1 << 16
MAX_POST = 4
MAX_ZP = 1 << 16
MAX_NAME = 4096


class ProgramError(InputError):
    """A tiled-engine program that is malformed or does not fit its engine: names the layer and field."""


# --- reading fields, with checks ------------------------------------------------------------------
class _Fields:
    """Typed, bounded reads of one part of a program; every error names ``where`` and the field."""

    def __init__(self, where: str, prefix: str = ""):
        self.where, self.prefix = where, prefix

    def sub(self, key: str) -> _Fields:
        """The fields of the object at ``key``, named ``key.field`` in errors."""
        return _Fields(self.where, f"{self.prefix}{key}.")

    def fail(self, key: str, value: Any, why: str) -> ProgramError:
        shown = repr(value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        return ProgramError(f"tiled program: {self.where}: field '{self.prefix}{key}' = {shown} {why}")

    def obj(self, d: Any, key: str) -> dict:
        v = d.get(key) if isinstance(d, dict) else None
        if not isinstance(v, dict):
            raise self.fail(key, v, "must be an object")
        return v

    def int(self, d: dict, key: str, lo: int, hi: int) -> int:
        v = d.get(key)
        if isinstance(v, bool) or not isinstance(v, int):
            raise self.fail(key, v, "must be an integer")
        if not lo <= v <= hi:
            raise self.fail(key, v, f"must be in {lo}..{hi}")
        return v

    def ints(self, d: dict, key: str, n: int, lo: int, hi: int) -> list[int]:
        v = d.get(key)
        if not isinstance(v, list) or len(v) != n:
            raise self.fail(key, v, f"must be a list of {n} integers")
        for i in range(n):
            self.int({f"{key}[{i}]": v[i]}, f"{key}[{i}]", lo, hi)
        return v

    def str(self, d: dict, key: str, choices: tuple[str, ...] | None = None) -> str:
        v = d.get(key)
        if not isinstance(v, str) or len(v) > MAX_NAME:
            raise self.fail(key, v, f"must be a string of at most {MAX_NAME} characters")
        if choices is not None and v not in choices:
            raise self.fail(key, v, f"must be one of {', '.join(choices)}")
        return v

    def list(self, d: dict, key: str, lo: int, hi: int) -> list:
        v = d.get(key)
        if not isinstance(v, list) or not lo <= len(v) <= hi:
            raise self.fail(key, v, f"must be a list of {lo}..{hi} items")
        return v


def itemsize(dtype: str) -> int:
    return np.dtype(dtype).itemsize


def channel_stride(view: dict) -> int:
    """Elements between two channels of a pixel (1: contiguous; absent means 1)."""
    return view.get("channel_stride", 1)


def view_bytes(view: dict) -> tuple[int, int]:
    """[first, end) byte range a view touches."""
    last = (view["h"] * view["w"] - 1) * view["pixel_stride"] + (view["c"] - 1) * channel_stride(view) + 1
    return view["offset"], view["offset"] + last * itemsize(view["dtype"])


def dtype_range(dtype: str) -> tuple[int, int]:
    info = np.iinfo(np.dtype(dtype))
    return int(info.min), int(info.max)


# --- the checks -------------------------------------------------------------------------------
def check_program(d: Any, weights: Any) -> None:
    """Raise a :class:`ProgramError` naming the part and field unless ``d`` (the JSON-able program)
    and ``weights`` (the weights arena) form a valid program: known format and version, every
    field of the right type and within its bounds, every view inside its region, every region and
    block aligned, inside its arena and disjoint, every layer's shapes consistent with its kind,
    every tile within the declared buffers, every requantisation constant within the contract's
    ranges."""
    top = _Fields("program")
    if not isinstance(d, dict):
        raise ProgramError(f"tiled program: must be a JSON object, got {type(d).__name__}")
    if d.get("format") != FORMAT:
        raise top.fail("format", d.get("format"), f"must be {FORMAT!r}")
    if d.get("version") != VERSION:
        raise top.fail("version", d.get("version"), f"is not a version this fpga-accel reads (it reads {VERSION})")
    top.str(d, "name")
    eng = top.obj(d, "engine")
    e = _Fields("engine")
    e.int(eng, "tm", 1, MAX_TILE)
    e.int(eng, "tn", 1, MAX_TILE)
    for key in ("input_buffer", "weight_buffer", "output_buffer"):
        e.int(eng, key, 1, MAX_BUFFER)
    if "out_lanes" in eng:  # the output path's lanes (absent: a bus word's)
        lanes = e.int(eng, "out_lanes", 1, MAX_OUT_LANES)
        if lanes & (lanes - 1):
            raise e.fail("out_lanes", lanes, "must be a power of two")
    align = e.int(eng, "align", 1, 4096)
    if align & (align - 1):
        raise e.fail("align", align, "must be a power of two")
    wbytes = top.int(d, "weights_bytes", 0, MAX_ARENA)
    abytes = top.int(d, "activations_bytes", 0, MAX_ARENA)
    if not isinstance(weights, np.ndarray) or weights.dtype != np.uint8 or weights.shape != (wbytes,):
        got = f"{weights.dtype} {weights.shape}" if isinstance(weights, np.ndarray) else type(weights).__name__
        raise ProgramError(f"tiled program: the weights arena must be a uint8 array of weights_bytes = {wbytes} "
                           f"bytes, got {got}")
    regions = top.list(d, "regions", 0, MAX_LAYERS * 4)
    spans_ = []
    for i, r in enumerate(regions):
        f = _Fields(f"region {i}")
        if not isinstance(r, dict):
            raise f.fail("region", r, "must be an object")
        f.str(r, "name")
        off = f.int(r, "offset", 0, abytes)
        size = f.int(r, "bytes", 1, abytes)
        if off % align:
            raise f.fail("offset", off, f"is not aligned to {align} bytes")
        if off + size > abytes:
            raise f.fail("bytes", size, f"runs past the activation arena ({off} + {size} > {abytes})")
        spans_.append((off, off + size, f"region {i}"))
    _disjoint(spans_, "activation arena")
    tensors = top.list(d, "tensors", 0, MAX_LAYERS * 4)
    names = set()
    for i, t in enumerate(tensors):
        f = _Fields(f"tensor {i}")
        if not isinstance(t, dict):
            raise f.fail("tensor", t, "must be an object")
        name = f.str(t, "name")
        f = _Fields(f"tensor {i} '{name}'")
        shape = f.list(t, "shape", 1, 4)
        f.ints(t, "shape", len(shape), 1, MAX_CHANNELS * MAX_DIM)
        v = _view(f, t, "view", regions)
        if math.prod(shape) != v["h"] * v["w"] * v["c"]:
            raise f.fail("shape", shape, f"has {math.prod(shape)} elements, its view {v['h']}x{v['w']}x{v['c']}")
        names.add(name)
    for key in ("inputs", "outputs"):
        for i, n in enumerate(top.list(d, key, 1, 1024)):
            if n not in names:
                raise top.fail(f"{key}[{i}]", n, "names no tensor of the program")
    blocks: list[tuple[int, int, str]] = []
    layers = top.list(d, "layers", 0, MAX_LAYERS)
    for i, lay in enumerate(layers):
        _check_layer(i, lay, eng, regions, wbytes, weights, blocks)
    _disjoint(blocks, "weights arena")


def _disjoint(spans_: list[tuple[int, int, str]], arena: str) -> None:
    s = sorted(spans_)
    for (a0, a1, an), (b0, b1, bn) in itertools.pairwise(s):
        if b0 < a1:
            raise ProgramError(f"tiled program: {an} [{a0}, {a1}) and {bn} [{b0}, {b1}) overlap in the {arena}")


def _view(f: _Fields, d: dict, key: str, regions: list) -> dict:
    v = f.obj(d, key)
    f = f.sub(key)
    r = f.int(v, "region", 0, max(len(regions) - 1, 0))
    if not regions:
        raise f.fail("region", r, "names a region, but the program has none")
    f.int(v, "h", 1, MAX_DIM)
    f.int(v, "w", 1, MAX_DIM)
    c = f.int(v, "c", 1, MAX_CHANNELS)
    cs = f.int(v, "channel_stride", 1, MAX_CHANNELS) if "channel_stride" in v else 1
    f.int(v, "pixel_stride", (c - 1) * cs + 1, MAX_CHANNELS)
    dt = f.str(v, "dtype", ACT_DTYPES)
    off = f.int(v, "offset", 0, MAX_ARENA)
    if off % itemsize(dt):
        raise f.fail("offset", off, f"is not a multiple of the {dt} element size")
    lo, hi = regions[r]["offset"], regions[r]["offset"] + regions[r]["bytes"]
    first, end = view_bytes(v)
    if first < lo or end > hi:
        raise f.fail("offset", off, f"gives bytes [{first}, {end}), outside its region {r} [{lo}, {hi})")
    return v


def _block(f: _Fields, d: dict, key: str, count: int, dtypes: tuple[str, ...], wbytes: int, align: int,
           weights: np.ndarray, blocks: list) -> np.ndarray:
    b = f.obj(d, key)
    name = f"{f.where} {f.prefix}{key}"
    f = f.sub(key)
    dt = f.str(b, "dtype", dtypes)
    n = f.int(b, "count", count, count)
    off = f.int(b, "offset", 0, MAX_ARENA)
    if off % align:
        raise f.fail("offset", off, f"is not aligned to {align} bytes")
    end = off + n * itemsize(dt)
    if end > wbytes:
        raise f.fail("offset", off, f"gives bytes [{off}, {end}), past the weights arena ({wbytes} bytes)")
    blocks.append((off, end, name))
    return weights[off:end].view(np.dtype(dt))


def _values(f: _Fields, key: str, a: np.ndarray, lo: int, hi: int) -> None:
    if a.size and (int(a.min()) < lo or int(a.max()) > hi):
        raise f.fail(key, f"{int(a.min())}..{int(a.max())}", f"must hold values in {lo}..{hi}")


def _check_layer(i: int, lay: Any, eng: dict, regions: list, wbytes: int, weights: np.ndarray, blocks: list) -> None:
    f = _Fields(f"layer {i}")
    if not isinstance(lay, dict):
        raise f.fail("layer", lay, "must be an object")
    f = _Fields(f"layer {i} '{f.str(lay, 'name')}'")
    kind = f.str(lay, "kind", KINDS)
    f.list(lay, "sources", 1, 16)
    ins = f.list(lay, "inputs", 1, 64)
    views = [_view(f, {f"inputs[{k}]": x}, f"inputs[{k}]", regions) for k, x in enumerate(ins)]
    out = _view(f, lay, "output", regions)
    t, tf = f.obj(lay, "tile"), f.sub("tile")
    tf.int(t, "tm", 1, eng["tm"])
    tf.int(t, "tn", 1, eng["tn"])
    align = eng["align"]

    def blk(ff: _Fields, src: dict, key: str, n: int, dts: tuple[str, ...]) -> np.ndarray:
        return _block(ff, src, key, n, dts, wbytes, align, weights, blocks)

    want = {"add": range(2, 65), "mul": range(2, 3)}.get(kind, range(1, 2))
    if len(views) not in want:
        raise f.fail("inputs", f"{len(views)} views", f"is the wrong number of inputs for a {kind} layer")
    x = views[0]
    geo, gf = lay.get("geometry"), f.sub("geometry")
    rq, rf = lay.get("requant"), f.sub("requant")
    if kind in ("conv", "gemm", "maxpool", "avgpool"):
        geo = f.obj(lay, "geometry")
    if kind in ("conv", "gemm", "add", "avgpool", "global_avgpool", "requant", "mul"):
        rq = f.obj(lay, "requant")
        rf.int(rq, "zp_out", -MAX_ZP, MAX_ZP)
        lo, hi = rf.int(rq, "lo", -MAX_ZP, MAX_ZP), rf.int(rq, "hi", -MAX_ZP, MAX_ZP)
        if lo > hi:
            raise rf.fail("lo", lo, f"is above requant.hi = {hi}")
    if kind in ("conv", "maxpool", "avgpool"):
        kh, kw = gf.ints(geo, "kernel", 2, 1, MAX_KERNEL)
        sh, sw = gf.ints(geo, "strides", 2, 1, MAX_KERNEL)
        dh, dw = gf.ints(geo, "dilations", 2, 1, MAX_KERNEL)
        pads = gf.ints(geo, "pads", 4, 0, MAX_KERNEL * MAX_KERNEL)
        oh, ow = window_out(x["h"], kh, sh, dh, pads[0], pads[2]), window_out(x["w"], kw, sw, dw, pads[1], pads[3])
        if (out["h"], out["w"]) != (oh, ow):
            raise f.fail("output", f"{out['h']}x{out['w']}", f"must be {oh}x{ow} for its input and window")
    if kind == "conv":
        g = gf.int(geo, "groups", 1, MAX_CHANNELS)
        cg = gf.int(geo, "cin_per_group", 1, MAX_CHANNELS)
        mg = gf.int(geo, "cout_per_group", 1, MAX_CHANNELS)
        if x["c"] != g * cg or out["c"] != g * mg:
            raise gf.fail("groups", g, f"does not give the {x['c']} input and {out['c']} output channels")
        blk(f, lay, "weights", g * mg * cg * kh * kw, WEIGHT_DTYPES)
    if kind == "gemm":
        if (x["h"], x["w"]) != (out["h"], out["w"]):
            raise f.fail("output", f"{out['h']}x{out['w']}", f"must be {x['h']}x{x['w']} like the input")
        blk(f, lay, "weights", out["c"] * x["c"], WEIGHT_DTYPES)
    if kind in ("conv", "gemm"):
        gf.int(geo, "zp_in", *dtype_range(x["dtype"]))
        acc = rf.int(rq, "acc_bits", 2, MAX_ACC_BITS)
        _values(rf, "bias", blk(rf, rq, "bias", out["c"], ("int32", "int64")), -(1 << (acc - 1)), (1 << (acc - 1)) - 1)
        _values(rf, "M", blk(rf, rq, "M", out["c"], ("int32",)), 0, (1 << MULT_BITS) - 1)
        _values(rf, "shift", blk(rf, rq, "shift", out["c"], ("int8",)), MIN_SHIFT, MAX_SHIFT)
    if kind == "maxpool":
        gf.int(geo, "pad_value", *dtype_range(x["dtype"]))
    if kind == "avgpool":
        rf.int(rq, "zp_in", *dtype_range(x["dtype"]))
        _values(rf, "M", blk(rf, rq, "M", oh * ow, ("int32",)), 0, (1 << MULT_BITS) - 1)
        _values(rf, "shift", blk(rf, rq, "shift", oh * ow, ("int8",)), MIN_SHIFT, MAX_SHIFT)
    if kind in ("global_avgpool", "global_maxpool") and (out["h"], out["w"], out["c"]) != (1, 1, x["c"]):
        raise f.fail("output", f"{out['h']}x{out['w']}x{out['c']}", f"must be 1x1x{x['c']}")
    if kind == "global_avgpool":
        rf.int(rq, "divisor", x["h"] * x["w"], x["h"] * x["w"])
        rf.int(rq, "zp_in", *dtype_range(x["dtype"]))
        rf.int(rq, "M", 0, (1 << MULT_BITS) - 1)
        rf.int(rq, "shift", MIN_SHIFT, MAX_SHIFT)
    if kind == "add":
        rf.ints(rq, "multipliers", len(views), -(1 << MULT_BITS) + 1, (1 << MULT_BITS) - 1)
        rf.ints(rq, "zero_points", len(views), -MAX_ZP, MAX_ZP)
        rf.int(rq, "shift", MIN_SHIFT, MAX_SHIFT)
    if kind == "requant":
        rf.int(rq, "zp_in", -MAX_ZP, MAX_ZP)
        blk(rf, rq, "pre", x["c"], ("int32",))
        _values(rf, "M", blk(rf, rq, "M", x["c"], ("int32",)), 0, (1 << MULT_BITS) - 1)
        _values(rf, "shift", blk(rf, rq, "shift", x["c"], ("int8",)), MIN_SHIFT, MAX_SHIFT)
    if kind == "lut":
        _lut(f, lay, out["dtype"], lambda key, n, dts: blk(f, lay, key, n, dts))
    if kind == "mul":  # (a - za)·(b - zb), requantised; b of a's shape or a 1×1×C channel gate
        rf.ints(rq, "zero_points", 2, -MAX_ZP, MAX_ZP)
        rf.int(rq, "M", 0, (1 << MULT_BITS) - 1)
        rf.int(rq, "shift", MIN_SHIFT, MAX_SHIFT)
    for k, v in enumerate(views[1:], 1):
        if kind == "mul" and (v["h"], v["w"], v["c"]) == (1, 1, x["c"]):
            continue
        if (v["h"], v["w"], v["c"]) != (x["h"], x["w"], x["c"]):
            gate = f" or 1x1x{x['c']}" if kind == "mul" else ""
            raise f.fail(f"inputs[{k}]", f"{v['h']}x{v['w']}x{v['c']}", f"must be {x['h']}x{x['w']}x{x['c']}{gate}")
    if kind in ("add", "requant", "lut", "mul") and (x["h"], x["w"], x["c"]) != (out["h"], out["w"], out["c"]):
        raise f.fail("output", f"{out['h']}x{out['w']}x{out['c']}", f"does not fit the input {x['h']}x{x['w']}x{x['c']}")
    adds = 0
    for k, p in enumerate(f.list(lay, "post", 0, MAX_POST)):
        pf = _Fields(f"{f.where} post[{k}]")
        if not isinstance(p, dict):
            raise pf.fail("post", p, "must be an object")
        if pf.str(p, "op", ("lut", "add")) == "lut":
            _lut(pf, p, None, lambda key, n, dts, pf=pf, p=p: blk(pf, p, key, n, dts))
            continue
        adds += 1
        if adds > 1:  # an output-path lane has one residual adder (tiled/output_path.h)
            raise pf.fail("op", "add", "is a second residual add; the output path takes one")
        r = _view(pf, p, "residual", regions)
        if (r["h"], r["w"], r["c"]) != (out["h"], out["w"], out["c"]):
            raise pf.fail("residual", f"{r['h']}x{r['w']}x{r['c']}", "must have the output's shape")
        pf.int(p, "self_index", 0, 1)
        pf.ints(p, "multipliers", 2, -(1 << MULT_BITS) + 1, (1 << MULT_BITS) - 1)
        pf.ints(p, "zero_points", 2, -MAX_ZP, MAX_ZP)
        pf.int(p, "shift", MIN_SHIFT, MAX_SHIFT)
        pf.int(p, "zp_out", -MAX_ZP, MAX_ZP)
        if pf.int(p, "lo", -MAX_ZP, MAX_ZP) > pf.int(p, "hi", -MAX_ZP, MAX_ZP):
            raise pf.fail("lo", p["lo"], f"is above hi = {p['hi']}")
    h, w = (x["h"], x["w"]) if kind in ("global_avgpool", "global_maxpool") else (out["h"], out["w"])
    tf.int(t, "rows", 1, h)
    tf.int(t, "cols", 1, w)
    for buf, n in buffer_needs(lay, eng).items():
        if n > eng[f"{buf}_buffer"]:
            raise f.fail("tile", f"{t['rows']}x{t['cols']} rows x cols, Tm {t['tm']}, Tn {t['tn']}",
                         f"needs {n} elements of the {buf} buffer, larger than the engine's {eng[f'{buf}_buffer']}")


def _lut(f: _Fields, d: dict, out_dtype: str | None, blk) -> None:
    entries = f.int(d, "entries", 4, 1 << 16)
    if entries & (entries - 1):
        raise f.fail("entries", entries, "must be a power of two (2^N for N-bit inputs)")
    f.int(d, "in_min", -(1 << 15), 0)
    dt = f.obj(d, "table").get("dtype")
    if out_dtype is not None and dt != out_dtype:
        raise f.fail("table.dtype", dt, f"must be the output's dtype {out_dtype}")
    blk("table", entries, ACT_DTYPES)


# --- the program as an object ---------------------------------------------------------------------
class Program:
    """A checked program: ``data`` (the JSON-able dict) and ``weights`` (the uint8 weights arena)."""

    def __init__(self, data: dict, weights: np.ndarray):
        check_program(data, weights)
        self.data = data
        self.weights = weights

    @property
    def layers(self) -> list[dict]:
        return self.data["layers"]

    @property
    def engine(self) -> dict:
        return self.data["engine"]

    def tensor(self, name: str) -> dict:
        for t in self.data["tensors"]:
            if t["name"] == name:
                return t
        raise KeyError(name)

    def to_dict(self) -> tuple[dict, dict[str, np.ndarray]]:
        """(JSON-able dict, {"weights": arena}) — what :meth:`from_dict` reads back."""
        return json.loads(json.dumps(self.data)), {"weights": self.weights}

    @staticmethod
    def from_dict(data: Any, arrays: Any) -> Program:
        """Check and wrap a program read from elsewhere (raises :class:`ProgramError`)."""
        if not isinstance(arrays, dict) or "weights" not in arrays:
            raise ProgramError("tiled program: the arrays must hold 'weights' (the weights arena)")
        return Program(data, arrays["weights"])

    def save(self, folder: str | os.PathLike) -> Path:
        """Write ``program.json`` and ``program.npz`` (no pickle) into ``folder``."""
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        (out / "program.json").write_text(json.dumps(self.data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        np.savez(out / "program.npz", weights=self.weights)
        return out

    @staticmethod
    def load(folder: str | os.PathLike, max_json_bytes: int = 64 << 20, max_weights_bytes: int = 4 << 30) -> Program:
        """Read and check what :meth:`save` wrote; the JSON and the weights arena are bounded in size
        before they are read."""
        folder = Path(folder)
        js = folder / "program.json"
        size = js.stat().st_size
        if size > max_json_bytes:
            raise ProgramError(f"tiled program: {js} is {size} bytes, more than {max_json_bytes}")
        try:
            data = json.loads(js.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            raise ProgramError(f"tiled program: {js} is not JSON ({e})") from None
        want = data.get("weights_bytes") if isinstance(data, dict) else None
        if isinstance(want, bool) or not isinstance(want, int) or not 0 <= want <= max_weights_bytes:
            raise ProgramError(f"tiled program: field 'weights_bytes' = {want!r} must be an integer in "
                               f"0..{max_weights_bytes}")
        return Program.from_dict(data, {"weights": _read_arena(folder / "program.npz", want)})


def _read_arena(path: Path, nbytes: int) -> np.ndarray:
    """The 'weights' array of ``path`` (an .npz), its header checked to be uint8 of ``nbytes``
    before the data is read."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as z:
            if z.namelist() != ["weights.npy"]:
                raise ProgramError(f"tiled program: {path} must hold 'weights' only, has {z.namelist()[:8]}")
            with z.open("weights.npy") as f:
                version = np.lib.format.read_magic(f)
                read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
                shape, _, dtype = read(f)
                if dtype != np.uint8 or shape != (nbytes,):
                    raise ProgramError(f"tiled program: {path}: the weights arena must be uint8 of weights_bytes = "
                                       f"{nbytes} bytes, its header says {dtype} {shape}")
                data = f.read(nbytes + 1)
    except (OSError, ValueError, zipfile.BadZipFile) as e:
        raise ProgramError(f"tiled program: cannot read {path} ({e})") from None
    if len(data) != nbytes:
        raise ProgramError(f"tiled program: {path}: the weights arena has {len(data)} bytes, not {nbytes}")
    return np.frombuffer(data, np.uint8).copy()
