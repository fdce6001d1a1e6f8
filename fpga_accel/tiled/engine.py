"""The tiled engine's reference executor: runs a :class:`~fpga_accel.tiled.program.Program` over numpy
arenas the way the hardware engine does, and gives the contract's integers bit for bit.

Two byte arrays stand for DDR: the weights arena (the program's) and the activation arena (one
image). Every read and write goes through :class:`Arena`, which counts the bytes per layer, so the
cost model's DDR figures can be checked against what the loops actually move. The loop order of a
convolution (docs/tiled.md):

    for each spatial tile (rows × cols of the output, row-major)
      for each group, for each output-channel tile (Tm)
        accumulator tile ← bias                                   (acc_bits wide)
        for each input-channel tile (Tn)                          (depthwise mode: none)
          input tile with halo ← activation arena (padding made on chip, never read)
          weight block (group, Tm tile, Tn tile) ← weights arena
          accumulator += the tile's window products
        output path: requantise, clamp, lookup table / residual add (residual tile read), write

A dense or grouped convolution whose spatial tile holds all of its output channels in one accumulator
half (tiles.whole_pixels) keeps the tile's requantised Tm tiles and runs the output path once for the
whole spatial tile, reading the layer's M and shift once. Pools and elementwise layers use the same
spatial tiles with Tm channels at a time. The hardware
loads G consecutive Tn tiles a step (tiles.tiles_per_step): the same bytes, and the same partial sums
checked after every Tn tile, so the executor walks them one at a time.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

import numpy as np

from ..errors import InputError
from ..quant import arith
from . import pixel_access
from .program import Program, ProgramError, channel_stride, dtype_range
from .segments import plan_steps, run_steps
from .tiles import (clipped, in_span, input_resident, inside, is_depthwise, sampled_input, spans, tap_parallel,
                    whole_pixels)

#: largest activation arena the executor allocates unless told otherwise (bytes)
MAX_ACTIVATION_BYTES = 1 << 31


class Arena:
    """A byte array standing for one DDR arena; reads and writes are counted per ``layer``."""

    def __init__(self, data: np.ndarray):
        self.buf = data
        self.layer: int | str = "host"
        self.reads: dict = defaultdict(int)
        self.writes: dict = defaultdict(int)

    def block(self, blk: dict, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Elements [start, stop) of a weights-arena block, as int64."""
        dt = np.dtype(blk["dtype"])
        stop = blk["count"] if stop is None else stop
        a = self.buf[blk["offset"] + start * dt.itemsize:blk["offset"] + stop * dt.itemsize].view(dt)
        self.reads[self.layer] += a.nbytes
        return a.astype(np.int64)

    def _nd(self, view: dict, y0: int, y1: int, x0: int, x1: int, c0: int, c1: int) -> np.ndarray:
        dt = np.dtype(view["dtype"])
        isz, ps, cs = dt.itemsize, view["pixel_stride"], channel_stride(view)
        off = view["offset"] + ((y0 * view["w"] + x0) * ps + c0 * cs) * isz
        return np.ndarray((y1 - y0, x1 - x0, c1 - c0), dt, buffer=self.buf, offset=off,
                          strides=(view["w"] * ps * isz, ps * isz, cs * isz))

    def read(self, view: dict, y0: int, y1: int, x0: int, x1: int, c0: int, c1: int) -> np.ndarray:
        """Pixels [y0, y1) × [x0, x1), channels [c0, c1) of a view, as int64."""
        a = self._nd(view, y0, y1, x0, x1, c0, c1)
        self.reads[self.layer] += a.nbytes
        return a.astype(np.int64)

    def read_strided(self, view: dict, y0: int, ny: int, sy: int, x0: int, nx: int, sx: int, c0: int,
                     c1: int) -> np.ndarray:
        """``ny`` × ``nx`` pixels from (y0, x0), every ``sy`` rows and ``sx`` columns, channels [c0, c1),
        as int64: one tap of an im2col input tile."""
        dt = np.dtype(view["dtype"])
        isz, ps, cs = dt.itemsize, view["pixel_stride"], channel_stride(view)
        off = view["offset"] + ((y0 * view["w"] + x0) * ps + c0 * cs) * isz
        a = np.ndarray((ny, nx, c1 - c0), dt, buffer=self.buf, offset=off,
                       strides=(sy * view["w"] * ps * isz, sx * ps * isz, cs * isz))
        self.reads[self.layer] += a.nbytes
        return a.astype(np.int64)

    def write(self, view: dict, y0: int, x0: int, c0: int, values: np.ndarray) -> None:
        lo, hi = dtype_range(view["dtype"])
        if values.size and (int(values.min()) < lo or int(values.max()) > hi):
            raise ProgramError(f"tiled program: layer {self.layer}: results {int(values.min())}..{int(values.max())} "
                               f"do not fit the output's {view['dtype']} (its clamp bounds are wrong)")
        r, c, n = values.shape
        dst = self._nd(view, y0, y0 + r, x0, x0 + c, c0, c0 + n)
        dst[...] = values
        self.writes[self.layer] += dst.nbytes


class TiledEngine:
    """One program loaded: its weights arena and an activation arena for one image."""

    def __init__(self, program: Program, max_activation_bytes: int = MAX_ACTIVATION_BYTES):
        self.program = program
        need = program.data["activations_bytes"]
        if need > max_activation_bytes:
            raise ProgramError(f"tiled program: its activation arena needs {need} bytes, more than the "
                               f"{max_activation_bytes} this executor allocates; pass max_activation_bytes")
        self.weights = Arena(program.weights)
        self.acts = Arena(np.zeros(need, np.uint8))
        self.views = {t["name"]: t for t in program.data["tensors"]}
        # engine segments and host steps (tiled/segments.py); a device runs one segment per call
        self.steps = plan_steps(program)
        self.active = (0, len(program.layers))

    # --- host side --------------------------------------------------------------------------------
    def run(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Integers in (per hardware input, batch first), integers out (per hardware output), one
        image after another through the whole program."""
        d = self.program.data
        xs, n = {}, None
        for name in d["inputs"]:
            t = self.views[name]
            if name not in inputs:
                raise InputError(f"raw input '{name}' is missing; the program's inputs are {d['inputs']}")
            x = np.asarray(inputs[name])
            lo, hi = dtype_range(t["view"]["dtype"])
            if x.dtype.kind not in "iu" or tuple(x.shape[1:]) != tuple(t["shape"]):
                raise InputError(f"raw input '{name}' must be integers of shape (N, {', '.join(map(str, t['shape']))}); "
                                 f"got {x.dtype} {x.shape}")
            if x.size and (int(x.min()) < lo or int(x.max()) > hi):
                raise InputError(f"raw input '{name}' has values outside {t['view']['dtype']}")
            if n is not None and x.shape[0] != n:
                raise InputError(f"raw inputs have different batch sizes ({n} and {x.shape[0]})")
            xs[name], n = x, x.shape[0]
        outs = {name: [] for name in d["outputs"]}
        for i in range(n or 0):
            for name, x in xs.items():
                self._set("host", self.weights, self.acts)
                v = self.views[name]["view"]
                self.acts.write(v, 0, 0, 0, x[i].reshape(v["h"], v["w"], v["c"]).astype(np.int64))
            run_steps(self)
            for name, got in outs.items():
                got.append(self.tensor(name))
        return {name: np.stack(v) if v else np.zeros((0, *self.views[name]["shape"])) for name, v in outs.items()}

    def _run_layers(self) -> None:
        """The layers of the current segment (``active``: all of them unless the program has host
        steps), in order, over the arenas."""
        first, end = self.active
        for k, desc in enumerate(self.program.data["layers"][first:end], first):
            self._set(k, self.weights, self.acts)
            getattr(self, "_" + desc["kind"])(desc)

    def tensor(self, name: str) -> np.ndarray:
        """A materialised tensor of the image last run, in its dtype and shape (a host read)."""
        t = self.views[name]
        v = t["view"]
        self._set("host", self.weights, self.acts)
        return self.acts.read(v, 0, v["h"], 0, v["w"], 0, v["c"]).astype(v["dtype"]).reshape(t["shape"])

    @staticmethod
    def _set(layer, *arenas):
        for a in arenas:
            a.layer = layer

    # --- pieces of every layer --------------------------------------------------------------------
    def _halo(self, view, ya, yb, xa, xb, c0, c1, pad) -> np.ndarray:
        """The input tile [ya, yb) × [xa, xb) (halo included) of channels [c0, c1): the part inside
        the image read from the arena, the rest ``pad``."""
        tile = np.full((yb - ya, xb - xa, c1 - c0), pad, np.int64)
        y0, y1 = clipped(ya, yb, view["h"])
        x0, x1 = clipped(xa, xb, view["w"])
        if y1 > y0 and x1 > x0:
            tile[y0 - ya:y1 - ya, x0 - xa:x1 - xa] = self.acts.read(view, y0, y1, x0, x1, c0, c1)
        return tile

    def _tiles(self, desc):
        out, t = desc["output"], desc["tile"]
        for r0, r1 in spans(out["h"], t["rows"]):
            for q0, q1 in spans(out["w"], t["cols"]):
                yield r0, r1, q0, q1

    def _luts(self, desc) -> list:
        return [self.weights.block(p["table"]) if p["op"] == "lut" else None for p in desc["post"]]

    def _finish(self, desc, y, luts, r0, r1, q0, q1, m0, m1, pixels: bool = False) -> None:
        """The output path after the layer's own requantisation: lookup tables and a residual add in
        the order of ``post``, then the write; ``pixels``: written pixel by pixel as the pixel units
        do (tiled/pixels.h: a channel-strided pixel may be rewritten as its whole span)."""
        for p, table in zip(desc["post"], luts):
            if p["op"] == "lut":
                y = _lookup(table, y, p["in_min"], desc["name"])
            else:
                res = self.acts.read(p["residual"], r0, r1, q0, q1, m0, m1)
                qs = [y, res] if p["self_index"] == 0 else [res, y]
                acc = sum((q - z) * m for q, z, m in zip(qs, p["zero_points"], p["multipliers"]))
                y = arith.requantize(acc, 1, p["shift"], p["zp_out"], p["lo"], p["hi"], name=desc["name"])
        self.acts.write(desc["output"], r0, q0, m0, y)
        if pixels:
            out, n = desc["output"], m1 - m0
            read, written = pixel_access.write_bytes(out, n)
            self.acts.reads[self.acts.layer] += (r1 - r0) * (q1 - q0) * read
            self.acts.writes[self.acts.layer] += (r1 - r0) * (q1 - q0) * (written - n * np.dtype(out["dtype"]).itemsize)

    def _pixels(self, view, y0, y1, x0, x1, c0, c1) -> np.ndarray:
        """A tile read pixel by pixel as the pixel units do (tiled/pixels.h: a channel-strided pixel
        may be read as its whole span): counted so."""
        a = self.acts.read(view, y0, y1, x0, x1, c0, c1)
        n = c1 - c0
        extra = pixel_access.read_bytes(view, n) - n * np.dtype(view["dtype"]).itemsize
        self.acts.reads[self.acts.layer] += (y1 - y0) * (x1 - x0) * extra
        return a

    # --- layers -----------------------------------------------------------------------------------
    def _conv(self, desc, geo=None):
        geo = geo or desc["geometry"]
        x, rq = desc["inputs"][0], desc["requant"]
        tm, tn = desc["tile"]["tm"], desc["tile"]["tn"]
        kh, kw = geo["kernel"]
        sh, sw = geo["strides"]
        dh, dw = geo["dilations"]
        g, cg, mg = geo["groups"], geo["cin_per_group"], geo["cout_per_group"]
        k, zp, acc_bits = kh * kw, geo["zp_in"], rq["acc_bits"]
        luts = self._luts(desc)
        # whole pixels: a spatial tile's channels all kept, written pixel by pixel; M and shift read once
        whole = not is_depthwise(geo) and whole_pixels(desc, self.program.engine)
        held = (self.weights.block(rq["M"]), self.weights.block(rq["shift"])) if whole else None
        for r0, r1, q0, q1 in self._tiles(desc):
            ya, yb = in_span(r0, r1, sh, dh, kh, geo["pads"][0])
            xa, xb = in_span(q0, q1, sw, dw, kw, geo["pads"][1])
            nr, nc = r1 - r0, q1 - q0

            def taps(tile, nr=nr, nc=nc):
                for ky in range(kh):
                    for kx in range(kw):
                        yield ky, kx, tile[ky * dh:ky * dh + (nr - 1) * sh + 1:sh, kx * dw:kx * dw + (nc - 1) * sw + 1:sw]

            if is_depthwise(geo):
                for o0, o1 in spans(g * mg, tm):
                    ci0, ci1 = o0 // mg, (o1 - 1) // mg + 1
                    tile = self._halo(x, ya, yb, xa, xb, ci0, ci1, zp)
                    w = self.weights.block(desc["weights"], o0 * k, o1 * k).reshape(o1 - o0, kh, kw)
                    acc = np.broadcast_to(self.weights.block(rq["bias"], o0, o1), (nr, nc, o1 - o0)).copy()
                    sel = np.arange(o0, o1) // mg - ci0
                    for n, (ky, kx, patch) in enumerate(taps(tile)):
                        acc += patch[..., sel] * w[:, ky, kx]
                        if (n + 1) % tn == 0 or n + 1 == k:  # Tn taps a cycle
                            _check_acc(acc, acc_bits, desc["name"])
                    self._requant_out(desc, acc, luts, r0, r1, q0, q1, o0, o1)
                continue
            tap_par = tap_parallel(desc, self.program.engine)
            sampled = sampled_input(desc, geo)
            area = (r1 - r0) * (q1 - q0) if sampled else (yb - ya) * (xb - xa)
            resident = input_resident(desc, geo, area, self.program.engine)
            ys = np.empty((nr, nc, g * mg), np.int64) if whole else None
            for gi in range(g):
                kept = {}  # a resident input's channel tiles, read with the group's first Tm tile
                for o0, o1 in spans(mg, tm):
                    m0, m1 = gi * mg + o0, gi * mg + o1
                    acc = np.broadcast_to(self.weights.block(rq["bias"], m0, m1), (nr, nc, m1 - m0)).copy()
                    if tap_par:  # one im2col input tile, formed on chip from the input rows its taps span
                        rows = self._tap_rows(x, geo, r0, r1, q0, q1, gi * cg, (gi + 1) * cg)
                        w = np.concatenate([  # the Tm tile's blocks [KH][KW][m][c], one per Tn tile
                            self.weights.block(desc["weights"], b, b + k * (o1 - o0) * (c1 - c0)).reshape(kh, kw, o1 - o0, c1 - c0)
                            for c0, c1 in spans(cg, tn) for b in [(gi * mg * cg + o0 * cg + (o1 - o0) * c0) * k]], axis=3)
                        for ky in range(kh):
                            for kx in range(kw):
                                patch = rows[ky][:, kx * dw:kx * dw + (nc - 1) * sw + 1:sw]
                                acc += _dot(patch, w[ky, kx])
                        _check_acc(acc, acc_bits, desc["name"])
                        self._requant_out(desc, acc, luts, r0, r1, q0, q1, m0, m1, held, ys)
                        continue
                    for c0, c1 in spans(cg, tn):
                        if c0 not in kept:
                            if sampled:  # the pixels a 1x1 convolution reads, nothing between them
                                tile = self._tap(x, geo, r0, r1, q0, q1, 0, 0, gi * cg + c0, gi * cg + c1)
                            else:
                                tile = self._halo(x, ya, yb, xa, xb, gi * cg + c0, gi * cg + c1, zp)
                            if resident:
                                kept[c0] = tile
                        tile = kept.get(c0, tile)
                        base = (gi * mg * cg + o0 * cg + (o1 - o0) * c0) * k
                        w = self.weights.block(desc["weights"], base, base + k * (o1 - o0) * (c1 - c0))
                        w = w.reshape(kh, kw, o1 - o0, c1 - c0)
                        if sampled:
                            acc += _dot(tile, w[0, 0])
                            _check_acc(acc, acc_bits, desc["name"])
                            continue
                        for ky, kx, patch in taps(tile):
                            acc += _dot(patch, w[ky, kx])
                        _check_acc(acc, acc_bits, desc["name"])
                    self._requant_out(desc, acc, luts, r0, r1, q0, q1, m0, m1, held, ys)
            if whole:  # the output path of the whole spatial tile
                self._finish(desc, ys, luts, r0, r1, q0, q1, 0, g * mg)

    def _tap_rows(self, x, geo, r0, r1, q0, q1, c0, c1) -> np.ndarray:
        """A tap-parallel tile's input as tap_load reads it: for each kernel row and output row, the
        input row's columns the tile's taps span, inside the image, one contiguous read; as
        (KH, rows, span, channels), padding zp_in (never read)."""
        (kh, kw), (sh, sw), (dh, dw), pads = geo["kernel"], geo["strides"], geo["dilations"], geo["pads"]
        xa, span = q0 * sw - pads[1], (q1 - q0 - 1) * sw + (kw - 1) * dw + 1
        lo, hi = max(0, xa), min(x["w"], xa + span)
        out = np.full((kh, r1 - r0, span, c1 - c0), geo["zp_in"], np.int64)
        for r in range(r0, r1):  # tap_load's order: output row, then kernel row
            for ky in range(kh):
                iy = r * sh - pads[0] + ky * dh
                if 0 <= iy < x["h"] and hi > lo:
                    out[ky, r - r0, lo - xa:hi - xa] = self.acts.read(x, iy, iy + 1, lo, hi, c0, c1)[0]
        return out

    def _tap(self, x, geo, r0, r1, q0, q1, ky, kx, c0, c1) -> np.ndarray:
        """Tap (ky, kx) of an im2col input tile: output pixels [r0, r1) × [q0, q1), the input each
        reads through that tap (padding zp_in, never read)."""
        (sh, sw), (dh, dw), pads = geo["strides"], geo["dilations"], geo["pads"]
        patch = np.full((r1 - r0, q1 - q0, c1 - c0), geo["zp_in"], np.int64)
        oy, ox = ky * dh - pads[0], kx * dw - pads[1]
        a, b = inside(r0, r1, sh, oy, x["h"])
        c, d = inside(q0, q1, sw, ox, x["w"])
        if b > a and d > c:
            patch[a - r0:b - r0, c - q0:d - q0] = self.acts.read_strided(x, a * sh + oy, b - a, sh, c * sw + ox, d - c,
                                                                         sw, c0, c1)
        return patch

    def _gemm(self, desc):
        x, out = desc["inputs"][0], desc["output"]
        self._conv(desc, {"kernel": [1, 1], "strides": [1, 1], "dilations": [1, 1], "pads": [0, 0, 0, 0], "groups": 1,
                          "cin_per_group": x["c"], "cout_per_group": out["c"], "zp_in": desc["geometry"]["zp_in"]})

    def _requant_out(self, desc, acc, luts, r0, r1, q0, q1, m0, m1, held=None, whole=None):
        """Requantise output channels [m0, m1) of a tile and send them down the output path; ``held``: the
        layer's M and shift, read once, and ``whole``: the spatial tile's results, where they wait for
        its output path (whole pixels)."""
        rq = desc["requant"]
        if held is None:
            M, shift = self.weights.block(rq["M"], m0, m1), self.weights.block(rq["shift"], m0, m1)
        else:
            M, shift = held[0][m0:m1], held[1][m0:m1]
        y = arith.requantize(acc, M, shift, rq["zp_out"], rq["lo"], rq["hi"], name=desc["name"])
        if whole is not None:
            whole[..., m0:m1] = y
            return
        self._finish(desc, y, luts, r0, r1, q0, q1, m0, m1)

    def _window_pool(self, desc):
        geo, x, out = desc["geometry"], desc["inputs"][0], desc["output"]
        kh, kw = geo["kernel"]
        sh, sw = geo["strides"]
        dh, dw = geo["dilations"]
        avg = desc["kind"] == "avgpool"
        rq = desc.get("requant")
        pad = rq["zp_in"] if avg else geo["pad_value"]
        luts = self._luts(desc)
        for r0, r1, q0, q1 in self._tiles(desc):
            ya, yb = in_span(r0, r1, sh, dh, kh, geo["pads"][0])
            xa, xb = in_span(q0, q1, sw, dw, kw, geo["pads"][1])
            nr, nc = r1 - r0, q1 - q0
            if avg:  # per-position constants, once per spatial tile (a row segment at a time)
                rows = range(r0, r1)
                M = np.stack([self.weights.block(rq["M"], r * out["w"] + q0, r * out["w"] + q1) for r in rows])
                shift = np.stack([self.weights.block(rq["shift"], r * out["w"] + q0, r * out["w"] + q1) for r in rows])
            for c0, c1 in spans(x["c"], desc["tile"]["tm"]):
                tile = self._halo(x, ya, yb, xa, xb, c0, c1, pad)
                patches = [tile[ky * dh:ky * dh + (nr - 1) * sh + 1:sh, kx * dw:kx * dw + (nc - 1) * sw + 1:sw]
                           for ky in range(kh) for kx in range(kw)]
                if avg:
                    s = sum(patches) - kh * kw * rq["zp_in"]
                    y = arith.requantize(s, M[..., None], shift[..., None], rq["zp_out"], rq["lo"], rq["hi"],
                                         name=desc["name"])
                else:
                    y = np.maximum.reduce(patches)
                self._finish(desc, y, luts, r0, r1, q0, q1, c0, c1, pixels=True)

    _maxpool = _avgpool = _window_pool

    def _global_pool(self, desc):
        x, t = desc["inputs"][0], desc["tile"]
        avg = desc["kind"] == "global_avgpool"
        luts = self._luts(desc)
        for c0, c1 in spans(x["c"], t["tm"]):
            acc = None
            for r0, r1 in spans(x["h"], t["rows"]):
                for q0, q1 in spans(x["w"], t["cols"]):
                    v = self._pixels(x, r0, r1, q0, q1, c0, c1)
                    part = v.sum(axis=(0, 1)) if avg else v.max(axis=(0, 1))
                    acc = part if acc is None else (acc + part if avg else np.maximum(acc, part))
            acc = acc.reshape(1, 1, -1)
            if avg:
                rq = desc["requant"]
                acc = arith.requantize(acc - rq["divisor"] * rq["zp_in"], rq["M"], rq["shift"], rq["zp_out"], rq["lo"],
                                       rq["hi"], name=desc["name"])
            self._finish(desc, acc, luts, 0, 1, 0, 1, c0, c1, pixels=True)

    _global_avgpool = _global_maxpool = _global_pool

    def _elementwise(self, desc):
        rq, kind = desc.get("requant"), desc["kind"]
        luts = self._luts(desc)
        table = self.weights.block(desc["table"]) if kind == "lut" else None
        for r0, r1, q0, q1 in self._tiles(desc):
            for c0, c1 in spans(desc["output"]["c"], desc["tile"]["tm"]):
                qs = [self._pixels(v, r0, r1, q0, q1, c0, c1) for v in desc["inputs"]]
                if kind == "add":
                    acc = sum((q - z) * m for q, z, m in zip(qs, rq["zero_points"], rq["multipliers"]))
                    y = arith.requantize(acc, 1, rq["shift"], rq["zp_out"], rq["lo"], rq["hi"], name=desc["name"])
                elif kind == "requant":
                    pre = self.weights.block(rq["pre"], c0, c1)
                    M, shift = self.weights.block(rq["M"], c0, c1), self.weights.block(rq["shift"], c0, c1)
                    y = arith.requantize((qs[0] - rq["zp_in"]) * pre, M, shift, rq["zp_out"], rq["lo"], rq["hi"],
                                         name=desc["name"])
                else:
                    y = _lookup(table, qs[0], desc["in_min"], desc["name"])
                self._finish(desc, y, luts, r0, r1, q0, q1, c0, c1, pixels=True)

    _add = _requant = _lut = _elementwise

    def _mul(self, desc):
        """(a - za)·(b - zb) requantised with one M and shift; b of a's shape, or a 1×1×C channel gate
        read once per output tile (squeeze-excitation)."""
        rq, (a, b) = desc["requant"], desc["inputs"]
        gate = (b["h"], b["w"]) != (a["h"], a["w"])
        za, zb = rq["zero_points"]
        luts = self._luts(desc)
        for r0, r1, q0, q1 in self._tiles(desc):
            for c0, c1 in spans(desc["output"]["c"], desc["tile"]["tm"]):
                g = self._pixels(b, 0, 1, 0, 1, c0, c1) if gate else None
                qa = self._pixels(a, r0, r1, q0, q1, c0, c1)
                qb = g if gate else self._pixels(b, r0, r1, q0, q1, c0, c1)
                y = arith.requantize((qa - za) * (qb - zb), rq["M"], rq["shift"], rq["zp_out"], rq["lo"], rq["hi"],
                                     name=desc["name"])
                self._finish(desc, y, luts, r0, r1, q0, q1, c0, c1, pixels=True)


#: a float64 sum of products is exact while it stays below 2^53: 16-bit activations times 16-bit
#: weights are below 2^31 each, so up to 2^22 channels a dot product
_EXACT_FLOAT_TERMS = 1 << 22


def _dot(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """x @ w.T of integer arrays (activations of at most 16 bits, weights of at most 16), exactly: in
    float64 through BLAS where every sum stays below 2^53, else in int64 (numpy's int64 matmul has no
    BLAS and is the executor's slowest step)."""
    if x.shape[-1] <= _EXACT_FLOAT_TERMS:
        return (x.astype(np.float64) @ w.T.astype(np.float64)).astype(np.int64)
    return x @ w.T


def _check_acc(acc: np.ndarray, bits: int, name: str) -> None:
    """The accumulator tile is ``bits`` wide in hardware: a partial sum outside it is a broken contract."""
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    if acc.size and (int(acc.min()) < lo or int(acc.max()) > hi):
        raise ProgramError(f"tiled program: layer '{name}': a partial sum {int(acc.min())}..{int(acc.max())} "
                           f"overflows its {bits}-bit accumulator (acc_bits is wrong for these weights)")


def _lookup(table: np.ndarray, q: np.ndarray, in_min: int, name: str) -> np.ndarray:
    idx = q - in_min
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= table.size):
        raise ProgramError(f"tiled program: layer '{name}': lookup table index {int(idx.min())}..{int(idx.max())} "
                           f"outside its {table.size} entries")
    return table[idx]


def run_program(program: Program, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """:meth:`TiledEngine.run` on a fresh engine."""
    return TiledEngine(program).run(inputs)
