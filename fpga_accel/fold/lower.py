"""Each QLayer as the PE stages the code generator builds from it, for any folding.

Conv (group 1) → sliding_window + mvau; depthwise Conv → sliding_window + depthwise; Gemm /
MatMul → mvau; MaxPool / AveragePool → sliding_window + max_pool / avg_pool; global pools →
global_max_pool / global_avg_pool; Add / Sub / Sum → add; Mul / Div by a constant → scale; Mul
of two tensors → product; Concat → concat; LUT activations → lut; Reshape-like layers move no
data (no stage); Pad / Transpose → reorder. Width converters between layers are added by the
folder, which knows both sides' lanes.

A :class:`LayerPlan` knows its fold space: ``pe`` must divide ``pe_dim`` (output channels, or the
channels of a lane-parallel layer), ``simd`` must divide ``simd_dim`` (input channels of a
convolution, the reduction length of a dense layer).
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from ..quant.qtype import parse_qtype
from .pe import Stage


def divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


@dataclass
class LayerPlan:
    """How one QLayer folds: ``kind`` is "mvau" (pe x simd), "pe" (pe only) or "none"."""

    name: str
    op: str
    kind: str
    pe_dim: int = 1
    simd_dim: int = 1
    build: Callable[[int, int], list[Stage]] = field(default=lambda pe, simd: [], repr=False)
    note: str = ""

    def folds(self) -> list[dict[str, int]]:
        if self.kind == "mvau":
            return [{"pe": p, "simd": s} for p in divisors(self.pe_dim) for s in divisors(self.simd_dim)]
        if self.kind == "pe":
            return [{"pe": p} for p in divisors(self.pe_dim)]
        return [{}]

    def stages(self, fold: dict[str, int]) -> list[Stage]:
        return self.build(int(fold.get("pe", 1)), int(fold.get("simd", 1)))

    def in_lanes(self, fold: dict[str, int]) -> int | None:
        """Elements per word this layer reads (None: it passes its producer's words through)."""
        if self.kind == "mvau":
            return int(fold.get("simd", 1))
        return int(fold.get("pe", 1)) if self.kind == "pe" else None

    def out_lanes(self, fold: dict[str, int]) -> int | None:
        return int(fold.get("pe", 1)) if self.kind in ("mvau", "pe") else None

    def check(self, fold: dict[str, int]) -> str | None:
        """Why ``fold`` is not a valid folding of this layer (None when it is)."""
        allowed = {"mvau": {"pe", "simd"}, "pe": {"pe"}, "none": set()}[self.kind]
        extra = set(fold) - allowed
        if extra:
            return f"keys {sorted(extra)} do not apply to this layer (it takes {sorted(allowed) or 'no folding'})"
        for key, dim, what in (("pe", self.pe_dim, "output channels"), ("simd", self.simd_dim, "input columns")):
            if key in fold:
                v = fold[key]
                if not isinstance(v, int) or isinstance(v, bool) or v < 1 or dim % v:
                    return f"{key}={v!r} must be a positive divisor of {dim} ({what}): one of {divisors(dim)}"
        return None


def elems(shape) -> int:
    return int(math.prod(int(d) for d in shape[1:]))


def plan_layer(layer, qm) -> LayerPlan:
    """The :class:`LayerPlan` of ``layer`` (a QLayer of ``qm``)."""
    builder = _BUILDERS.get(layer.op_type)
    if builder is None:
        if "lut" in layer.consts:
            builder = _lut
        elif set(layer.config) <= {"out_shape"} and not layer.consts:
            builder = _passthrough
        else:
            builder = _generic
    return builder(layer, qm)


# --- helpers -------------------------------------------------------------------------------------
def _bits(qm, tensor: str) -> int:
    return qm.tensors[tensor].qparams.qtype.bits


def _shape(qm, tensor: str) -> tuple[int, ...]:
    return tuple(int(d) for d in qm.tensors[tensor].shape)


def _window(layer, qm, simd: int, depthwise: bool, pad_value: int = 0) -> Stage:
    c = layer.config
    ins = _shape(qm, layer.inputs[0])
    k, s, d, pads = list(c["kernel"]), list(c["strides"]), list(c["dilations"]), list(c["pads"])
    if len(k) == 1:  # 1-D: a window over a single row
        ih, iw, ch = 1, ins[1], ins[2]
        k, s, d, pads = [1] + k, [1] + s, [1] + d, [0, pads[0], 0, pads[1]]
    else:
        ih, iw, ch = ins[1], ins[2], ins[3]
    p = {"IH": ih, "IW": iw, "C": ch, "KH": k[0], "KW": k[1], "SH": s[0], "SW": s[1], "DH": d[0], "DW": d[1],
         "PAD_T": pads[0], "PAD_L": pads[1], "PAD_B": pads[2], "PAD_R": pads[3], "SIMD": simd,
         "BITS": _bits(qm, layer.inputs[0]), "PAD_VALUE": pad_value, "DEPTHWISE": depthwise}
    return Stage(layer.name, "sliding_window", p)


def _identity(p) -> bool:
    """A 1x1, stride-1, unpadded window is the input stream itself: no sliding_window stage."""
    return (p["KH"], p["KW"], p["SH"], p["SW"], p["PAD_T"], p["PAD_L"], p["PAD_B"], p["PAD_R"]) == \
        (1, 1, 1, 1, 0, 0, 0, 0)


def _channels(qm, tensor: str) -> int:
    return _shape(qm, tensor)[-1]


# --- builders, one per lowering --------------------------------------------------------------------
def _conv(layer, qm) -> LayerPlan:
    c, w = layer.config, layer.consts["weights"]
    if len(c["kernel"]) > 2:
        return _generic(layer, qm)
    m, cg, g = int(w.shape[0]), int(w.shape[1]), int(c["group"])
    ch = _channels(qm, layer.inputs[0])
    out = _shape(qm, layer.outputs[0])
    n_vec = elems(out) // m
    kk = int(math.prod(c["kernel"]))
    wq = parse_qtype(c["weight_qtype"])
    common = {"IN_BITS": _bits(qm, layer.inputs[0]), "W_BITS": wq.bits, "ACC_BITS": c["acc_bits"],
              "OUT_BITS": _bits(qm, layer.outputs[0])}
    if g == ch and m == ch and cg == 1:
        def build(pe, simd):
            return [_window(layer, qm, pe, True, c["zp_in"]),
                    Stage(layer.name, "depthwise", {"C": ch, "PE": pe, "K": kk, "N_VECTORS": n_vec, **common})]
        return LayerPlan(layer.name, layer.op_type, "pe", pe_dim=ch, build=build)
    note = "" if g == 1 else f"grouped convolution (group {g}) modelled as one MVAU over each group's columns"

    def build(pe, simd):
        win = _window(layer, qm, simd, False, c["zp_in"])
        mv = Stage(layer.name, "mvau", {"MW": kk * cg, "MH": m, "SIMD": simd, "PE": pe, "N_VECTORS": n_vec, **common})
        return [mv] if _identity(win.params) else [win, mv]
    return LayerPlan(layer.name, layer.op_type, "mvau", pe_dim=m, simd_dim=cg if g > 1 else ch, build=build,
                     note=note)


def _dense(layer, qm) -> LayerPlan:
    c = layer.config
    k, n = int(c["in_features"]), int(c["out_features"])
    n_vec = elems(_shape(qm, layer.outputs[0])) // n
    p = {"MW": k, "MH": n, "N_VECTORS": n_vec, "IN_BITS": _bits(qm, layer.inputs[0]),
         "W_BITS": parse_qtype(c["weight_qtype"]).bits, "ACC_BITS": c["acc_bits"],
         "OUT_BITS": _bits(qm, layer.outputs[0])}
    return LayerPlan(layer.name, layer.op_type, "mvau", pe_dim=n, simd_dim=k,
                     build=lambda pe, simd: [Stage(layer.name, "mvau", {**p, "SIMD": simd, "PE": pe})])


def _window_pool(layer, qm) -> LayerPlan:
    c = layer.config
    ch = _channels(qm, layer.inputs[0])
    bits = _bits(qm, layer.inputs[0])
    is_max = layer.op_type == "MaxPool"
    kk = int(math.prod(c["kernel"]))
    extra = {} if is_max else {"ACC_BITS": bits + max(1, math.ceil(math.log2(kk))) + 1,
                               "OUT_BITS": _bits(qm, layer.outputs[0])}

    def build(pe, simd):
        win = _window(layer, qm, pe, True, c.get("pad_value", c.get("zp_in", 0)))
        return [win, Stage(layer.name, "max_pool" if is_max else "avg_pool", {**win.params, **extra})]
    return LayerPlan(layer.name, layer.op_type, "pe", pe_dim=ch, build=build)


def _global_pool(layer, qm) -> LayerPlan:
    ins = _shape(qm, layer.inputs[0])
    ch, bits = ins[-1], _bits(qm, layer.inputs[0])
    n_px = elems(ins) // ch
    is_max = layer.op_type == "GlobalMaxPool"
    p = {"N_PIXELS": n_px, "C": ch, "BITS": bits}
    if not is_max:
        p.update(ACC_BITS=bits + max(1, math.ceil(math.log2(n_px))) + 1, OUT_BITS=_bits(qm, layer.outputs[0]))
    kind = "global_max_pool" if is_max else "global_avg_pool"
    return LayerPlan(layer.name, layer.op_type, "pe", pe_dim=ch,
                     build=lambda pe, simd: [Stage(layer.name, kind, {**p, "SIMD": pe})])


def _elementwise(kind: str, layer, qm, extra: dict) -> LayerPlan:
    out = _shape(qm, layer.outputs[0])
    ch, n = out[-1], elems(out)
    p = {"IN_BITS": max(_bits(qm, t) for t in layer.inputs), "OUT_BITS": _bits(qm, layer.outputs[0]), **extra}
    return LayerPlan(layer.name, layer.op_type, "pe", pe_dim=ch,
                     build=lambda pe, simd: [Stage(layer.name, kind, {**p, "N_WORDS": n // pe, "LANES": pe})])


def _add(layer, qm) -> LayerPlan:
    c = layer.config
    return _elementwise("add", layer, qm, {"N_INPUTS": len(c.get("multipliers", [1, 1])),
                                           "ACC_BITS": int(c.get("acc_bits", 24))})


def _mul(layer, qm) -> LayerPlan:
    return _elementwise("scale" if len(layer.inputs) == 1 else "product", layer, qm, {})


def _lut(layer, qm) -> LayerPlan:
    return _elementwise("lut", layer, qm, {})


def _concat(layer, qm) -> LayerPlan:
    out = _shape(qm, layer.outputs[0])
    if layer.config.get("axis") != len(out) - 1:
        return _generic(layer, qm)
    chans = [_channels(qm, t) for t in layer.inputs]
    p = {"N_PIXELS": elems(out) // out[-1], "IN_BITS": max(_bits(qm, t) for t in layer.inputs),
         "OUT_BITS": _bits(qm, layer.outputs[0])}

    def build(pe, simd):  # a chain of two-input concats, each adding the next input's channels
        return [Stage(layer.name, "concat", {**p, "A_C": sum(chans[:i]), "B_C": chans[i], "LANES": pe})
                for i in range(1, len(chans))]
    return LayerPlan(layer.name, layer.op_type, "pe", pe_dim=math.gcd(*chans), build=build)


def _transpose(layer, qm) -> LayerPlan:
    """Moving only axes of size 1 keeps the stream's element order (a rename); any other
    permutation needs a buffer."""
    shape, perm = _shape(qm, layer.inputs[0]), layer.config["perm"]
    moved = [d for d in perm if shape[d] != 1]
    return _passthrough(layer, qm) if moved == sorted(moved) else _reorder(layer, qm, True)


def _passthrough(layer, qm) -> LayerPlan:
    return LayerPlan(layer.name, layer.op_type, "none", note="moves no data: the stream passes through")


def _reorder(layer, qm, buffer: bool) -> LayerPlan:
    n = max(elems(_shape(qm, layer.inputs[0])), elems(_shape(qm, layer.outputs[0])))
    p = {"N": n, "LANES": 1, "BITS": _bits(qm, layer.outputs[0]), "BUFFER": buffer}
    return LayerPlan(layer.name, layer.op_type, "pe", pe_dim=1,
                     build=lambda pe, simd: [Stage(layer.name, "reorder", p)],
                     note="no library PE yet: modelled as one element per cycle" + (" through a whole-tensor "
                                                                                     "buffer" if buffer else ""))


def _generic(layer, qm) -> LayerPlan:
    return _reorder(layer, qm, True)


_BUILDERS = {
    "Conv": _conv, "Gemm": _dense, "MatMul": _dense,
    "MaxPool": _window_pool, "AveragePool": _window_pool,
    "GlobalMaxPool": _global_pool, "GlobalAveragePool": _global_pool,
    "Add": _add, "Sub": _add, "Sum": _add, "Mul": _mul, "Div": _mul, "Concat": _concat,
    "Pad": lambda layer, qm: _reorder(layer, qm, False), "Transpose": _transpose,
}
