"""Write a tiled-engine :class:`~fpga_accel.tiled.program.Program` from a quantised model.

One descriptor per integer layer, except that

- a lookup table or a residual add whose input only it reads joins its producer's output path
  (``post``): the intermediate tensor is never written to DDR;
- a reshape (Flatten, Reshape, Squeeze, Unsqueeze) is the same bytes under another shape;
- a channel concatenation is addressing: an input whose requantisation to the output is the
  identity (same scale, zero point and type) is written by its producer straight into the
  concatenation's region at its channel offset; any other input gets a ``requant`` descriptor that
  writes it there.

Layers the engine has no form for are all reported at once (:class:`TiledUnsupportedError`).
"""
from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from ..errors import ModelError
from ..ops import lookup
from ..ops.family.bases import ReshapeInt
from ..quant.qtype import parse_qtype
from .program import ALIGN, FORMAT, MAX_POST, VERSION, WEIGHT_DTYPES, Program
from .tiles import buffer_needs, spans

DEFAULT_TM = 16
DEFAULT_TN = 16


def default_buffers(tm: int, tn: int) -> dict[str, int]:
    """On-chip buffer sizes (elements, one half of each double buffer) for a Tm × Tn array: weights
    for kernels up to 7×7, 32 Ki input and 16 Ki output elements."""
    return {"input": 1 << 15, "weight": 49 * tm * tn, "output": 1 << 14}


class TiledUnsupportedError(ModelError):
    """Layers of a quantised model the tiled engine cannot run; lists every one of them."""

    def __init__(self, problems: list[tuple[str, str, str]], model: str):
        self.problems = problems
        lines = [f"{model}: {len(problems)} layer(s) have no tiled-engine form:"]
        lines += [f"  - layer '{n}' ({op}): {why}" for n, op, why in problems]
        super().__init__("\n".join(lines))


def _hwc(shape) -> tuple[int, int, int] | None:
    s = [int(d) for d in shape[1:]]
    return {1: lambda: (1, 1, s[0]), 2: lambda: (1, s[0], s[1]), 3: lambda: tuple(s)}.get(len(s), lambda: None)()


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
    if t == "Concat" and layer.config["axis"] == len(shapes[-1]) - 1:
        return "concat", None
    return None, "no tiled-engine form yet (a later step runs such layers on the host between engine layers)"


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
        for o0, o1 in spans(mg, tm):
            for c0, c1 in spans(cg, tn):
                parts.append(wg[o0:o1, c0:c1].transpose(2, 3, 0, 1).reshape(-1))
    return np.concatenate(parts)


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


def _is_identity(r: dict, p_in, p_out) -> bool:
    """Whether a concat input's rescale maps every integer of its type to itself."""
    q = p_in.qtype
    return (len(r["multipliers"]) == 1 and r["multipliers"][0] == 1 << r["shift"] and r["zero_points"][0] == r["zp_out"]
            and r["lo"] <= q.min and r["hi"] >= q.max and q.dtype == p_out.qtype.dtype)


def build_program(qm, tm: int = DEFAULT_TM, tn: int = DEFAULT_TN, buffers: Mapping[str, int] | None = None,
                  tile: tuple[int, int] | None = None, align: int = ALIGN,
                  ddr_bytes_per_cycle: float | None = None) -> Program:
    """The program that runs ``qm`` (a :class:`~fpga_accel.quant.qmodel.QModel`) on a ``tm`` × ``tn``
    array with on-chip ``buffers`` (elements: ``input``, ``weight``, ``output``; default
    :func:`default_buffers`). Each layer's spatial tile is the largest up to ``tile`` = (rows, cols)
    (default: the whole output) whose halo, weights and accumulators fit the buffers, rows shrinking
    before columns. With ``ddr_bytes_per_cycle`` (the board's DDR bytes per engine cycle) a conv or
    gemm layer's tile is instead the one of :func:`tile_choices` that the cost model
    (:mod:`fpga_accel.tiled.cost`) gives the fewest cycles, ties to the larger tile: a smaller tile
    can keep its input on chip across Tm tiles where the largest cannot. Raises
    :class:`TiledUnsupportedError` listing every layer without a form."""
    bufs = dict(default_buffers(tm, tn) if buffers is None else buffers)
    kinds, problems = {}, []
    for i, lay in enumerate(qm.layers):
        kind, why = _classify(lay, qm)
        if kind is None:
            problems.append((lay.name, lay.op_type, why))
        kinds[i] = kind
    if problems:
        raise TiledUnsupportedError(problems, f"model '{qm.name}' on the tiled engine")
    plan = _Plan(qm, kinds)
    return plan.program(tm, tn, bufs, tile, align, ddr_bytes_per_cycle)


class _Plan:
    """Which layers fuse, where every tensor lives, then the descriptors."""

    COMPUTE = ("conv", "gemm", "add", "maxpool", "avgpool", "global_avgpool", "global_maxpool", "lut", "scale")

    def __init__(self, qm, kinds):
        self.qm, self.kinds = qm, kinds
        L = qm.layers
        self.producer = {o: i for i, lay in enumerate(L) for o in lay.outputs}
        readers: dict[str, list[int]] = {}
        for i, lay in enumerate(L):
            for t in lay.inputs:
                readers.setdefault(t, []).append(i)
        self.readers = readers
        outputs = {t.name for t in qm.outputs}
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

    def _place(self):
        """tensor -> (root tensor, channel offset); copies: [(position, tensor, target, rescale)]."""
        qm, L = self.qm, self.qm.layers
        place, copies = {}, []
        written = set(self.final.values())
        aliased = {L[i].inputs[0] for i in self.kinds if self.kinds[i] == "alias"}
        for i in reversed(range(len(L))):
            if self.kinds[i] != "concat":
                continue
            y = L[i].outputs[0]
            base, off = place.setdefault(y, (y, 0))
            for x, r in zip(L[i].inputs, L[i].config["rescales"]):
                p_in, p_out = qm.tensors[x].qparams, qm.tensors[y].qparams
                concat_out = self.producer.get(x) is not None and self.kinds[self.producer[x]] == "concat"
                if ((x in written or concat_out) and x not in place and x not in aliased
                        and _is_identity(r, p_in, p_out)):
                    place[x] = (base, off)
                else:
                    copies.append((i, x, (base, off), r))
                off += _hwc(qm.tensors[x].shape)[2]
        return place, copies

    def program(self, tm, tn, bufs, tile, align, per_cycle=None) -> Program:
        qm, L = self.qm, self.qm.layers
        place, copies = self._place()
        materialised = [t.name for t in qm.inputs]  # in the order they are written
        for i in range(len(L)):
            if self.kinds[i] in ("alias", "concat"):
                materialised.append(L[i].outputs[0])
            elif i in self.final:
                materialised.append(self.final[i])
        for t in dict.fromkeys(materialised):
            p = self.producer.get(t)
            if t in place:
                continue
            if p is not None and self.kinds[p] == "alias":
                src = L[p].inputs[0]
                base, off = place[src]
                if off or math.prod(qm.tensors[base].shape) != math.prod(qm.tensors[src].shape):
                    why = "reshapes a tensor stored inside a concatenation (not contiguous)"
                    raise TiledUnsupportedError([(L[p].name, L[p].op_type, why)], f"model '{qm.name}'")
                place[t] = (base, 0)
            else:
                place[t] = (t, 0)
        # regions: one per root tensor, in the order they are first written
        order = {t.name: -1 for t in qm.inputs}
        for t in materialised:
            order.setdefault(place[t][0], self._position(t))
        regions, region_of, pos = [], {}, 0
        for root in sorted({place[t][0] for t in materialised}, key=lambda r: (order.get(r, 0), r)):
            h, w, c = _hwc(qm.tensors[root].shape)
            size = h * w * c * qm.tensors[root].qparams.qtype.dtype.itemsize
            pos += -pos % align
            region_of[root] = len(regions)
            regions.append({"name": root, "offset": pos, "bytes": size})
            pos += size

        def view(t: str) -> dict:
            root, off = place[t]
            h, w, c = _hwc(qm.tensors[t].shape)
            dt = qm.tensors[t].qparams.qtype.dtype
            stride = _hwc(qm.tensors[root].shape)[2] if (h, w) == _hwc(qm.tensors[root].shape)[:2] else c
            r = regions[region_of[root]]
            return {"region": region_of[root], "offset": r["offset"] + off * dt.itemsize, "h": h, "w": w, "c": c,
                    "pixel_stride": stride, "dtype": dt.name}

        arena = _Weights(align)
        jobs = sorted([(i, 0, "layer", i) for i in self.final] + [(c[0], 1, "copy", n) for n, c in enumerate(copies)])
        layers = []
        for _, _, what, item in jobs:
            if what == "layer":
                desc = self._descriptor(item, view, arena, tm, tn)
            else:
                _, x, (base, off), r = copies[item]
                desc = self._copy(x, base, off, r, view, arena, tm, tn)
            _choose_tile(desc, bufs, tile)
            if per_cycle and desc["kind"] in ("conv", "gemm"):
                _fastest_tile(desc, bufs, per_cycle)
            layers.append(desc)
        data = {"format": FORMAT, "version": VERSION, "name": qm.name,
                "engine": {"tm": tm, "tn": tn, "input_buffer": bufs["input"], "weight_buffer": bufs["weight"],
                           "output_buffer": bufs["output"], "align": align},
                "weights_bytes": arena.pos, "activations_bytes": pos, "regions": regions,
                "tensors": [{"name": t, "shape": [int(d) for d in qm.tensors[t].shape[1:]], "view": view(t)}
                            for t in dict.fromkeys(materialised)],
                "inputs": [t.name for t in qm.inputs], "outputs": [t.name for t in qm.outputs], "layers": layers}
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

    def _copy(self, x, base, off, r, view, arena, tm, tn) -> dict:
        """A requant descriptor writing concat input ``x`` at channel ``off`` of ``base``'s region."""
        src = view(x)
        dst = dict(view(base))
        dst["offset"] += off * np.dtype(dst["dtype"]).itemsize
        dst["c"] = src["c"]
        ch = src["c"]
        return {"name": f"{x}#concat", "kind": "requant", "sources": [x], "inputs": [src], "output": dst,
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


def _engine(bufs: Mapping[str, int]) -> dict:
    """The buffer sizes as a program's ``engine`` section names them."""
    return {f"{k}_buffer": v for k, v in bufs.items()}


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


def _fastest_tile(desc: dict, bufs: Mapping[str, int], per_cycle: float) -> None:
    """Among the tiles of :func:`tile_choices` no larger than the largest that fits (chosen already),
    the one of fewest estimated cycles (ties: the larger)."""
    from .cost import layer_cycles

    t = desc["tile"]
    most = (t["rows"], t["cols"])
    best = (layer_cycles(desc, _engine(bufs), per_cycle), 0, most)
    for r, c in tile_choices(desc["output"]["h"], desc["output"]["w"]):
        if r > most[0] or c > most[1] or (r, c) == most:
            continue
        t["rows"], t["cols"] = r, c
        if all(n <= bufs[b] for b, n in buffer_needs(desc, _engine(bufs)).items()):
            cand = (layer_cycles(desc, _engine(bufs), per_cycle), -(r * c), (r, c))
            if cand[:2] < best[:2]:
                best = cand
    t["rows"], t["cols"] = best[2]
