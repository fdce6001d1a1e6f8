"""Write a tiled-engine :class:`~fpga_accel.tiled.program.Program` from a quantised model.

One descriptor per integer layer, except that

- a lookup table or a residual add whose input only it reads joins its producer's output path
  (``post``): the intermediate tensor is never written to DDR;
- a reshape (Flatten, Reshape, Squeeze, Unsqueeze) is the same bytes under another shape;
- a channel slice (Slice, and Split made into slices) is a view of its source at a channel offset
  (and step): no descriptor; when a concatenation places the slice, its source is placed around it;
- a channel shuffle of a concatenation read by it alone is addressing: each input of the
  concatenation is written (or, being a slice, placed) at interleaved channels of the shuffle's
  output, a view with a channel stride; so ShuffleNetV2's split → branch → concat → shuffle chain
  needs no copy (every slot of a region has one writer, checked; a placement that would give a slot
  two writers is a copy instead);
- a product of two tensors (Mul), the second of the same shape or a 1×1×C channel gate
  (squeeze-excitation), is a ``mul`` descriptor;
- a channel concatenation is addressing: an input whose requantisation to the output is the
  identity (same scale, zero point and type) is written by its producer straight into the
  concatenation's region at its channel offset; any other input gets a ``requant`` descriptor that
  writes it there.

A layer the engine has no form for (LRN, ...) is a host step between engine segments
(tiled/segments.py); layers that cannot be one either (a tensor the activation arena cannot hold)
are all reported at once (:class:`TiledUnsupportedError`).
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..errors import ModelError
from ..ops import lookup
from ..ops.family.bases import ReshapeInt
from ..quant.host_float import is_host_float
from ..quant.qtype import parse_qtype
from .placement import Placement
from .placement import hwc as _hwc
from .program import ALIGN, FORMAT, MAX_POST, VERSION, WEIGHT_DTYPES, Program
from .segments import host_step_record
from .tiles import buffer_needs

DEFAULT_TM = 16
DEFAULT_TN = 16


def default_buffers(tm: int, tn: int) -> dict[str, int]:
    """On-chip buffer sizes (elements, one half of each double buffer) for a Tm × Tn array: weights
    for kernels up to 7×7, 32 Ki input and 16 Ki output elements."""
    return {"input": 1 << 15, "weight": 49 * tm * tn, "output": 1 << 14}


class TiledUnsupportedError(ModelError):
    """Layers of a quantised model that run neither on the tiled engine nor as host steps between its
    segments; lists every one of them."""

    def __init__(self, problems: list[tuple[str, str, str]], model: str):
        self.problems = problems
        lines = [f"{model}: {len(problems)} layer(s) run neither on the engine nor on the host between its segments:"]
        lines += [f"  - layer '{n}' ({op}): {why}" for n, op, why in problems]
        super().__init__("\n".join(lines))


def _classify(layer, qm) -> tuple[str | None, str | None]:
    """(kind, None) or (None, why not)."""
    op = lookup(layer.op_type, layer.domain)
    if op is None:
        return None, "op unknown to this fpga-accel"
    shapes = [qm.tensors[t].shape for t in (*layer.inputs, *layer.outputs)]
    if any(_hwc(s) is None or s[0] != 1 for s in shapes):
        return None, "a tensor of rank above 4 (the engine addresses H × W × C)"
    if isinstance(op, ReshapeInt):
        return "alias", None
    t, k = layer.op_type, layer.consts
    if len(layer.outputs) != 1:
        return None, "more than one output"
    if t == "Conv":
        return "conv", None
    if t in ("Gemm", "MatMul") and np.ndim(k.get("weights")) == 2:
        return "gemm", None
    if t in ("Add", "Sub", "Sum"):
        if "offset" in k:
            return None, "a constant term (fold it into the preceding bias)"
        if any(tuple(qm.tensors[i].shape) != tuple(shapes[-1]) for i in layer.inputs):
            return None, "broadcasting between inputs of different shapes"
        return "add", None
    if t in ("MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool"):
        return {"MaxPool": "maxpool", "AveragePool": "avgpool", "GlobalAveragePool": "global_avgpool",
                "GlobalMaxPool": "global_maxpool"}[t], None
    if "lut" in k and len(layer.inputs) == 1:
        return "lut", None
    if t in ("Mul", "Div") and set(k) == {"sign", "M", "shift"}:
        if any(n > 1 for n in np.shape(k["M"])[:-1]):
            return None, "a constant that varies along an axis other than the channels"
        return "scale", None
    if t == "Mul" and len(layer.inputs) == 2 and "M" in layer.config:  # two computed tensors
        a, b = (_hwc(s) for s in shapes[:2])
        if _hwc(shapes[-1]) not in (a, b) or not (a == b or a[:2] == (1, 1) or b[:2] == (1, 1)):
            return None, "broadcasting other than a 1x1xC channel gate"
        return "mul", None
    if t == "Concat" and layer.config["axis"] == len(shapes[-1]) - 1:
        return "concat", None
    if t == "Slice":
        ranges, rank = layer.config["ranges"], len(shapes[0])
        cut = [d for d, r in enumerate(ranges) if d and tuple(r) != (0, int(shapes[0][d]), 1)]
        if cut not in ([], [rank - 1]) or ranges[-1][2] < 1:
            return None, "a slice of other axes than the channels, or backwards"
        return "slice", None
    if t == "ChannelShuffle" and layer.config["axis"] == len(shapes[0]) - 1:
        return "shuffle", None
    return None, "no tiled-engine form"


def _shuffle_problem(i: int, qm, kinds: dict) -> str | None:
    """Why channel shuffle ``i`` cannot be addressing (None: it can): its input must be a channel
    concatenation read by the shuffle alone, each of whose inputs lies in one group of channels, so
    that each is written at interleaved channels of the shuffle's output."""
    lay = qm.layers[i]
    cat = lay.inputs[0]
    p = next((j for j, q in enumerate(qm.layers) if cat in q.outputs), None)
    readers = [j for j, q in enumerate(qm.layers) if cat in q.inputs]
    if p is None or kinds.get(p) != "concat" or readers != [i] or cat in {t.name for t in qm.outputs}:
        return "its input is not a channel concatenation read by the shuffle alone"
    c, g = _hwc(qm.tensors[cat].shape)[2], lay.config["group"]
    start = 0
    for x in qm.layers[p].inputs:
        n = _hwc(qm.tensors[x].shape)[2]
        if start // (c // g) != (start + n - 1) // (c // g):
            return f"concatenation input '{x}' spans two of its {g} groups of channels"
        start += n
    return None


class _Weights:
    """The weights arena being written: aligned blocks, in order."""

    def __init__(self, align: int):
        self.align, self.parts, self.pos = align, [], 0

    def add(self, values, dtype: str) -> dict:
        a = np.ascontiguousarray(np.asarray(values).reshape(-1))
        b = a.astype(dtype)
        if not np.array_equal(b, a):
            raise ModelError(f"a constant block does not fit {dtype}")
        pad = -self.pos % self.align
        self.parts.append(np.zeros(pad, np.uint8))
        self.pos += pad
        block = {"offset": self.pos, "count": int(b.size), "dtype": dtype}
        self.parts.append(b.view(np.uint8))
        self.pos += b.nbytes
        return block

    def array(self) -> np.ndarray:
        return np.concatenate(self.parts) if self.parts else np.zeros(0, np.uint8)


def _spatial(c: dict) -> tuple[list, list, list, list]:
    """(kernel, strides, dilations, pads [t, l, b, r]) in 2-D; a 1-D window is one row high."""
    k, s, d, p = list(c["kernel"]), list(c["strides"]), list(c["dilations"]), list(c["pads"])
    if len(k) == 1:
        return [1, *k], [1, *s], [1, *d], [0, p[0], 0, p[1]]
    return k, s, d, p


def conv_weight_order(w: np.ndarray, groups: int, tm: int, tn: int) -> np.ndarray:
    """Weights (M, C/g, KH, KW) in the order the engine reads them. Dense and grouped: per group,
    per output tile (Tm), per input tile (Tn), a block [KH][KW][m][c]; depthwise: [m][KH·KW]."""
    m, cg = w.shape[:2]
    if groups > 1 and cg == 1:
        return w.reshape(m, -1)
    mg = m // groups
    parts = []
    for g in range(groups):
        wg = w[g * mg:(g + 1) * mg]
        whole = mg - mg % tm
        if whole:  # the whole Tm tiles at once: per tile its blocks in a row
            parts.append(_tm_rows(wg[:whole].reshape(whole // tm, tm, *wg.shape[1:]), tn).reshape(-1))
        if whole < mg:
            parts.append(_tm_rows(wg[whole:][None], tn).reshape(-1))
    return np.concatenate(parts)


def _tm_rows(t: np.ndarray, tn: int) -> np.ndarray:
    """Per Tm tile of ``t`` (tiles, m, C, KH, KW): its Tn tiles' blocks [KH][KW][m][c] in a row."""
    n, m, c, kh, kw = t.shape
    whole = c - c % tn
    rows = []
    if whole:
        blocks = t[:, :, :whole].reshape(n, m, whole // tn, tn, kh, kw).transpose(0, 2, 4, 5, 1, 3)
        rows.append(blocks.reshape(n, -1))
    if whole < c:
        rows.append(t[:, :, whole:].transpose(0, 3, 4, 1, 2).reshape(n, -1))
    return np.concatenate(rows, axis=1)


def _requant(layer, arena: _Weights, m: int) -> dict:
    c, k = layer.config, layer.consts
    bias = np.broadcast_to(np.asarray(k["bias"], np.int64), (m,))
    wide = c["acc_bits"] > 32
    return {"bias": arena.add(bias, "int64" if wide else "int32"),
            "M": arena.add(np.broadcast_to(k["M"], (m,)), "int32"),
            "shift": arena.add(np.broadcast_to(k["shift"], (m,)), "int8"),
            "zp_out": int(c["zp_out"]), "lo": int(c["lo"]), "hi": int(c["hi"]), "acc_bits": int(c["acc_bits"])}


def _lut_fields(layer, arena: _Weights, out_dtype: str) -> dict:
    qt = parse_qtype(layer.config["in_qtype"])
    return {"table": arena.add(layer.consts["lut"], out_dtype), "entries": qt.levels, "in_min": qt.min}


def build_program(qm, tm: int = DEFAULT_TM, tn: int = DEFAULT_TN, buffers: Mapping[str, int] | None = None,
                  tile: tuple[int, int] | None = None, align: int = ALIGN, host_layers=(),
                  ddr_bytes_per_cycle=None, out_lanes: int = 0) -> Program:
    """The program that runs ``qm`` (a :class:`~fpga_accel.quant.qmodel.QModel`) on a ``tm`` × ``tn``
    array with on-chip ``buffers`` (elements: ``input``, ``weight``, ``output``; default
    :func:`default_buffers`). Each layer's spatial tile is the largest up to ``tile`` = (rows, cols)
    (default: the whole output) whose halo, weights and accumulators fit the buffers, rows shrinking
    before columns. With ``ddr_bytes_per_cycle`` (the board's DDR bytes per engine cycle, or its
:func:`~fpga_accel.tiled.cost.ddr_rates` with a Zynq board's HP port) a conv or
    gemm layer's tile is instead the one of :func:`tile_choices` that the cost model
    (:mod:`fpga_accel.tiled.cost`) gives the fewest cycles, ties to the larger tile: a smaller tile
    can keep its input on chip across Tm tiles where the largest cannot. A layer without an engine
    form, or named in ``host_layers``, runs on the host between engine segments (tiled/segments.py).
    Raises :class:`TiledUnsupportedError` listing every layer that can run neither on the engine nor
    on the host."""
    bufs = dict(default_buffers(tm, tn) if buffers is None else buffers)
    forced = _check_host_layers(qm, host_layers)
    kinds, problems, why_host = {}, [], {}
    for i, lay in enumerate(qm.layers):
        kind, why = (None, "a float op between hardware nodes") if is_host_float(lay) else _classify(lay, qm)
        if kind == "shuffle":
            why = _shuffle_problem(i, qm, kinds)
            kind = None if why else kind
        if kind is None or lay.name in forced:  # between engine segments, if the arena can hold its tensors
            trouble = _host_problem(lay, qm)
            if trouble:
                problems.append((lay.name, lay.op_type, (f"{why or 'sent to the host'}, and it cannot run on the "
                                                         f"host between engine layers either: {trouble}")))
            kind, why_host[i] = "host", why or "sent to the host (host_layers)"
        kinds[i] = kind
    if problems:
        raise TiledUnsupportedError(problems, f"model '{qm.name}' on the tiled engine")
    plan = _Plan(qm, kinds, why_host)
    return plan.program(tm, tn, bufs, tile, align, ddr_bytes_per_cycle, out_lanes)


def _check_host_layers(qm, names) -> set[str]:
    names = set(names or ())
    unknown = sorted(names - {lay.name for lay in qm.layers})
    if unknown:
        raise ModelError(f"host layers {unknown[:8]} are not integer layers of model '{qm.name}'; its layers are "
                         f"{[lay.name for lay in qm.layers][:12]}{' ...' if len(qm.layers) > 12 else ''}")
    return names


def _host_problem(layer, qm) -> str | None:
    """Why ``layer`` cannot be a host step between engine segments (None: it can)."""
    op = lookup(layer.op_type, layer.domain)
    if op is None or not (op.has_int() or is_host_float(layer)):
        return "the op has no integer reference"
    if len(layer.outputs) != 1:
        return f"it has {len(layer.outputs)} outputs (a host step writes one tensor)"
    for t in (*layer.inputs, *layer.outputs):
        s = qm.tensors[t].shape
        if _hwc(s) is None or s[0] != 1:
            return f"its tensor '{t}' of shape {tuple(s)} has no place in the activation arena (H x W x C, batch 1)"
    return None


class _Plan:
    """Which layers fuse, where every tensor lives, then the descriptors."""

    COMPUTE = ("conv", "gemm", "add", "maxpool", "avgpool", "global_avgpool", "global_maxpool", "lut", "scale", "mul")

    def __init__(self, qm, kinds, why_host=None):
        self.qm, self.kinds, self.why_host = qm, kinds, why_host or {}
        L = qm.layers
        self.producer = {o: i for i, lay in enumerate(L) for o in lay.outputs}
        readers: dict[str, list[int]] = {}
        for i, lay in enumerate(L):
            for t in lay.inputs:
                readers.setdefault(t, []).append(i)
        self.readers = readers
        outputs = {t.name for t in qm.outputs}
        # concatenations a channel shuffle turns into addressing: never materialised themselves
        self.folded = {self.producer[L[i].inputs[0]] for i in kinds if kinds[i] == "shuffle"}
        self.root = {}  # fused layer -> the layer whose descriptor carries it
        self.post: dict[int, list[tuple[int, int]]] = {}  # root -> [(fused layer, self index)]
        self.final = {}  # root -> the tensor its descriptor writes
        for i, lay in enumerate(L):
            if kinds[i] in self.COMPUTE:
                self.final[i] = lay.outputs[0]
            if kinds[i] not in ("lut", "add") or (kinds[i] == "add" and len(lay.inputs) != 2):
                continue
            order = sorted(range(len(lay.inputs)), key=lambda k: -self.producer.get(lay.inputs[k], -1))
            for k in order:
                t = lay.inputs[k]
                p = self.producer.get(t)
                if p is None or kinds[p] not in self.COMPUTE or readers.get(t) != [i] or t in outputs:
                    continue
                r = self.root.get(p, p)
                stages = self.post.setdefault(r, [])
                if len(stages) >= MAX_POST or (kinds[i] == "add" and any(kinds[j] == "add" for j, _ in stages)):
                    continue
                if kinds[i] == "add" and self._position(lay.inputs[1 - k]) >= r:
                    continue  # the residual is written after the descriptor that would read it
                stages.append((i, k))
                self.root[i] = r
                self.final[r] = lay.outputs[0]
                del self.final[i]
                break

    def _position(self, t: str) -> int:
        """The layer whose descriptor writes ``t`` (-1: a hardware input)."""
        p = self.producer.get(t)
        return -1 if p is None else self.root.get(p, p)

    def program(self, tm, tn, bufs, tile, align, per_cycle=None, out_lanes: int = 0) -> Program:
        qm, L = self.qm, self.qm.layers
        place, materialised, slots, copies = Placement(qm, self.kinds, self.producer, self.final, self.folded).solve()
        # regions: one per root tensor, in the order they are first written
        order = {t.name: -1 for t in qm.inputs}
        for t in materialised:
            order.setdefault(place[t][0], self._position(t))
        regions, region_of, pos = [], {}, 0
        for root in sorted({place[t][0] for t in materialised} | {c[2][0] for c in copies},
                           key=lambda r: (order.get(r, 0), r)):
            h, w, _ = _hwc(qm.tensors[root].shape)
            size = h * w * slots[root] * qm.tensors[root].qparams.qtype.dtype.itemsize
            pos += -pos % align
            region_of[root] = len(regions)
            regions.append({"name": root, "offset": pos, "bytes": size})
            pos += size

        def view_at(where: tuple, h: int, w: int, c: int, dt) -> dict:
            root, off, cs = where
            stride = slots[root] if (h, w) == _hwc(qm.tensors[root].shape)[:2] else c
            r = regions[region_of[root]]
            v = {"region": region_of[root], "offset": r["offset"] + off * dt.itemsize, "h": h, "w": w, "c": c,
                 "pixel_stride": stride, "dtype": dt.name}
            if cs != 1:
                v["channel_stride"] = cs
            return v

        def view(t: str) -> dict:
            return view_at(place[t], *_hwc(qm.tensors[t].shape), qm.tensors[t].qparams.qtype.dtype)

        arena = _Weights(align)
        hosts = [(i, 0, "host", i) for i in self.kinds if self.kinds[i] == "host"]
        jobs = sorted([(i, 0, "layer", i) for i in self.final] + [(c[0], 1, "copy", n) for n, c in enumerate(copies)]
                      + hosts)
        layers, steps = [], []
        for _, _, what, item in jobs:
            if what == "host":
                steps.append({"host": host_step_record(L[item], self.why_host[item], arena.add)})
                continue
            if not steps or "engine" not in steps[-1]:
                steps.append({"engine": [len(layers), len(layers)]})
            steps[-1]["engine"][1] += 1
            if what == "layer":
                desc = self._descriptor(item, view, arena, tm, tn)
            else:
                _, (x, first, step), where, n, r, _ = copies[item]
                src = dict(view(x))
                cs = src.get("channel_stride", 1)
                src.update(offset=src["offset"] + first * cs * np.dtype(src["dtype"]).itemsize, c=n)
                if cs * step != 1:
                    src["channel_stride"] = cs * step
                dst = view_at(where, src["h"], src["w"], n, qm.tensors[where[0]].qparams.qtype.dtype)
                desc = self._copy(x, src, dst, r, arena, tm, tn)
            _choose_tile(desc, bufs, tile)
            if per_cycle and desc["kind"] in ("conv", "gemm"):
                _fastest_tile(desc, bufs, per_cycle, out_lanes)
            layers.append(desc)
        data = {"format": FORMAT, "version": VERSION, "name": qm.name,
                "engine": {"tm": tm, "tn": tn, "input_buffer": bufs["input"], "weight_buffer": bufs["weight"],
                           "output_buffer": bufs["output"], "align": align, **_lanes(out_lanes)},
                "weights_bytes": arena.pos, "activations_bytes": pos, "regions": regions,
                "tensors": [{"name": t, "shape": [int(d) for d in qm.tensors[t].shape[1:]], "view": view(t)}
                            for t in dict.fromkeys(materialised)],
                "inputs": [t.name for t in qm.inputs], "outputs": [t.name for t in qm.outputs], "layers": layers}
        if hosts:
            data["steps"] = steps
        return Program(data, arena.array())

    def _descriptor(self, i: int, view, arena: _Weights, tm: int, tn: int) -> dict:
        lay, kind = self.qm.layers[i], self.kinds[i]
        c, k = lay.config, lay.consts
        out = view(self.final[i])
        x = view(lay.inputs[0])
        d = {"name": lay.name, "kind": kind, "sources": [lay.name], "inputs": [x], "output": out,
             "tile": {"tm": tm, "tn": tn, "rows": 1, "cols": 1}}
        if kind == "conv":
            kernel, strides, dil, pads = _spatial(c)
            w = k["weights"]
            m, cg = w.shape[:2]
            g = int(c["group"])
            d["geometry"] = {"kernel": kernel, "strides": strides, "dilations": dil, "pads": pads, "groups": g,
                             "cin_per_group": int(cg), "cout_per_group": int(m // g), "zp_in": int(c["zp_in"])}
            d["weights"] = arena.add(conv_weight_order(w.reshape(m, cg, *kernel), g, tm, tn), _wdtype(w))
            d["requant"] = _requant(lay, arena, m)
        elif kind == "gemm":
            w = k["weights"]
            d["geometry"] = {"zp_in": int(c["zp_in"])}
            d["weights"] = arena.add(conv_weight_order(w[:, :, None, None], 1, tm, tn), _wdtype(w))
            d["requant"] = _requant(lay, arena, w.shape[0])
        elif kind in ("maxpool", "avgpool"):
            kernel, strides, dil, pads = _spatial(c)
            d["geometry"] = {"kernel": kernel, "strides": strides, "dilations": dil, "pads": pads}
            if kind == "maxpool":
                d["geometry"]["pad_value"] = int(c.get("pad_value", np.iinfo(np.dtype(x["dtype"])).min))
            else:
                table = {int(dv): (int(M), int(s)) for dv, M, s in k["table"]}
                div = np.asarray(k["divisors"]).reshape(-1)
                d["requant"] = {"M": arena.add([table[int(v)][0] for v in div], "int32"),
                                "shift": arena.add([table[int(v)][1] for v in div], "int8"), "zp_in": int(c["zp_in"]),
                                "zp_out": int(c["zp_out"]), "lo": int(c["lo"]), "hi": int(c["hi"])}
        elif kind == "global_avgpool":
            d["requant"] = {key: int(c[key]) for key in ("divisor", "M", "shift", "zp_in", "zp_out", "lo", "hi")}
        elif kind == "add":
            d["inputs"] = [view(t) for t in lay.inputs]
            d["requant"] = {"multipliers": [int(v) for v in c["multipliers"]],
                            "zero_points": [int(v) for v in c["zero_points"]],
                            **{key: int(c[key]) for key in ("shift", "zp_out", "lo", "hi")}}
        elif kind == "mul":  # the map first, a 1x1xC channel gate second (the product commutes)
            gate = int(_hwc(self.qm.tensors[lay.inputs[0]].shape) != _hwc(self.qm.tensors[lay.outputs[0]].shape))
            d["inputs"] = [view(lay.inputs[gate]), view(lay.inputs[1 - gate])]
            zps = [int(v) for v in c["zero_points"]]
            d["requant"] = {"zero_points": [zps[gate], zps[1 - gate]],
                            **{key: int(c[key]) for key in ("M", "shift", "zp_out", "lo", "hi")}}
        elif kind == "lut":
            d.update(_lut_fields(lay, arena, self.qm.tensors[lay.outputs[0]].qparams.qtype.dtype.name))
        elif kind == "scale":
            ch = x["c"]
            d["kind"] = "requant"
            d["requant"] = {"pre": arena.add(np.broadcast_to(np.asarray(k["sign"]).reshape(-1), (ch,)), "int32"),
                            "M": arena.add(np.broadcast_to(np.asarray(k["M"]).reshape(-1), (ch,)), "int32"),
                            "shift": arena.add(np.broadcast_to(np.asarray(k["shift"]).reshape(-1), (ch,)), "int8"),
                            **{key: int(c[key]) for key in ("zp_in", "zp_out", "lo", "hi")}}
        d["post"] = []
        for j, self_index in self.post.get(i, []):
            fl = self.qm.layers[j]
            if self.kinds[j] == "lut":
                dt = self.qm.tensors[fl.outputs[0]].qparams.qtype.dtype.name
                d["post"].append({"op": "lut", "source": fl.name, **_lut_fields(fl, arena, dt)})
            else:
                fc = fl.config
                d["post"].append({"op": "add", "source": fl.name, "residual": view(fl.inputs[1 - self_index]),
                                  "self_index": self_index, "multipliers": [int(v) for v in fc["multipliers"]],
                                  "zero_points": [int(v) for v in fc["zero_points"]],
                                  **{key: int(fc[key]) for key in ("shift", "zp_out", "lo", "hi")}})
            d["sources"].append(fl.name)
        return d

    def _copy(self, x, src, dst, r, arena, tm, tn) -> dict:
        """A requant descriptor writing (channels of) ``x``, read through view ``src``, to view
        ``dst``: a concatenation input or a slice that must be rescaled or cannot be placed in place."""
        ch = src["c"]
        return {"name": f"{x}#copy", "kind": "requant", "sources": [x], "inputs": [src], "output": dst,
                "tile": {"tm": tm, "tn": tn, "rows": 1, "cols": 1},
                "requant": {"pre": arena.add(np.full(ch, r["multipliers"][0]), "int32"),
                            "M": arena.add(np.ones(ch, np.int64), "int32"),
                            "shift": arena.add(np.full(ch, r["shift"]), "int8"), "zp_in": int(r["zero_points"][0]),
                            "zp_out": int(r["zp_out"]), "lo": int(r["lo"]), "hi": int(r["hi"])},
                "post": []}


def _wdtype(w: np.ndarray) -> str:
    name = np.dtype(w.dtype).name
    if name not in WEIGHT_DTYPES:
        raise ModelError(f"weights of dtype {name}: the tiled engine takes signed 8- or 16-bit weights")
    return name


def _engine(bufs: Mapping[str, int], out_lanes: int = 0) -> dict:
    """The buffer sizes (and the output path's lanes) as a program's ``engine`` section names them."""
    return {**{f"{k}_buffer": v for k, v in bufs.items()}, **_lanes(out_lanes)}


def _lanes(out_lanes: int) -> dict:
    """The engine's ``out_lanes`` when given (0: none named, the output path a bus word's lanes)."""
    return {"out_lanes": int(out_lanes)} if out_lanes else {}


def _choose_tile(desc: dict, bufs: Mapping[str, int], cap: tuple[int, int] | None) -> None:
    """The largest rows × cols (up to ``cap``) whose tile fits every buffer; rows shrink first."""
    x, out = desc["inputs"][0], desc["output"]
    h, w = (x["h"], x["w"]) if desc["kind"] in ("global_avgpool", "global_maxpool") else (out["h"], out["w"])
    rows, cols = (min(h, cap[0]), min(w, cap[1])) if cap else (h, w)
    t = desc["tile"]

    def fits(r, c):
        t["rows"], t["cols"] = r, c
        return all(n <= bufs[b] for b, n in buffer_needs(desc, _engine(bufs)).items())

    while rows > 1 and not fits(rows, cols):
        rows = max(1, min(rows - 1, rows * 3 // 4))
    while cols > 1 and not fits(rows, cols):
        cols = max(1, min(cols - 1, cols * 3 // 4))
    if not fits(rows, cols):
        need = buffer_needs(desc, _engine(bufs))
        raise ModelError(f"layer '{desc['name']}' ({desc['kind']}): even a 1x1 tile needs {need} elements of the "
                         f"input / weight / output buffers, more than the engine's {dict(bufs)}; use larger buffers "
                         f"or a smaller Tm / Tn")
    t["rows"], t["cols"] = rows, cols


def tile_choices(h: int, w: int) -> list[tuple[int, int]]:
    """Spatial tiles tried against the cost model: ⌈h / a⌉ rows for up to 16 row tiles a, by the
    whole width or half of it."""
    rows = sorted({-(-h // a) for a in range(1, min(h, 16) + 1)}, reverse=True)
    cols = sorted({w, -(-w // 2)}, reverse=True)
    return [(r, c) for r in rows for c in cols]


def _fastest_tile(desc: dict, bufs: Mapping[str, int], per_cycle, out_lanes: int = 0) -> None:
    """Among the tiles of :func:`tile_choices` no larger than the largest that fits (chosen already),
    the one of fewest estimated cycles (ties: the larger)."""
    from .cost import layer_cycles

    t = desc["tile"]
    most = (t["rows"], t["cols"])
    engine = _engine(bufs, out_lanes)
    best = (layer_cycles(desc, engine, per_cycle), 0, most)
    for r, c in tile_choices(desc["output"]["h"], desc["output"]["w"]):
        if r > most[0] or c > most[1] or (r, c) == most:
            continue
        t["rows"], t["cols"] = r, c
        if all(n <= bufs[b] for b, n in buffer_needs(desc, _engine(bufs)).items()):
            cand = (layer_cycles(desc, engine, per_cycle), -(r * c), (r, c))
            if cand[:2] < best[:2]:
                best = cand
    t["rows"], t["cols"] = best[2]
