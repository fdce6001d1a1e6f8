"""Each QLayer as the PE stages the code generator builds from it, for any folding.

The stages come from the op's own ``lower()`` (fpga_accel/ops, the code generator's lowering),
run with the folding under study; each code generator stage becomes a cost-model stage holding
the parameters its model reads (:data:`_KEYS`). Two cost-model parameters are the model's own:
the accumulator width of average pools (sized by the tap count) and of residual adds (the
layer's ``acc_bits``). Pad is modelled as a one-element-per-cycle reorder. Layers the code
generator cannot lower are still priced: a grouped convolution as one MVAU over each group's
columns, anything else as a whole-tensor reorder. Width converters between layers are added by
the folder, which knows both sides' lanes.

A :class:`LayerPlan` knows its fold space: ``pe`` must divide ``pe_dim`` (output channels, or the
channels of a lane-parallel layer), ``simd`` must divide ``simd_dim`` (input channels of a
convolution, the reduction length of a dense layer).
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from ..codegen.pe import sliding_window as sw
from ..codegen.stage import LowerContext, LoweringError, Port
from ..errors import FpgaAccelError
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


_WINDOW = ("IH", "IW", "C", "KH", "KW", "SH", "SW", "DH", "DW", "PAD_T", "PAD_L", "PAD_B", "PAD_R", "SIMD", "BITS",
          "PAD_VALUE", "DEPTHWISE")
_ELTWISE = ("IN_BITS", "OUT_BITS", "N_WORDS", "LANES")
# the cost-model parameters of each code generator stage kind, in the manifest's order
_KEYS = {
    "sliding_window": _WINDOW,
    "mvau": ("MW", "MH", "SIMD", "PE", "N_VECTORS", "IN_BITS", "W_BITS", "ACC_BITS", "OUT_BITS"),
    "depthwise": ("C", "PE", "K", "N_VECTORS", "IN_BITS", "W_BITS", "ACC_BITS", "OUT_BITS"),
    "global_max_pool": ("N_PIXELS", "C", "BITS", "SIMD"),
    "global_avg_pool": ("N_PIXELS", "C", "BITS", "ACC_BITS", "OUT_BITS", "SIMD"),
    "add": ("IN_BITS", "OUT_BITS", "N_INPUTS", "ACC_BITS", "N_WORDS", "LANES"),
    "scale": _ELTWISE, "product": _ELTWISE, "lut": _ELTWISE,
    "concat": ("N_PIXELS", "IN_BITS", "OUT_BITS", "A_C", "B_C", "LANES"),
    "reorder": ("N", "LANES", "BITS", "BUFFER"),
}
_DENSE_MVAU = ("MW", "MH", "N_VECTORS", "IN_BITS", "W_BITS", "ACC_BITS", "OUT_BITS", "SIMD", "PE")
_PASSTHROUGH = "moves no data: the stream passes through"
_REORDER = "no library PE yet: modelled as one element per cycle"


def plan_layer(layer, qm) -> LayerPlan:
    """The :class:`LayerPlan` of ``layer`` (a QLayer of ``qm``), from its op's ``lower()``."""
    try:
        stages = _lower(layer, qm, 1, 1)
    except FpgaAccelError:  # no processing element: price it anyway
        return _grouped_conv(layer, qm) or _reorder(layer, qm, layer.op_type != "Pad")
    kinds = [s.kind for s in stages]
    if set(kinds) <= {"rename"}:
        return LayerPlan(layer.name, layer.op_type, "none", note=_PASSTHROUGH)
    if "pad" in kinds:
        return _reorder(layer, qm, False)

    def build(pe, simd):
        return _translate(layer, qm, _lower(layer, qm, pe, simd))
    if "mvau" in kinds:
        p = stages[0].params  # the window's channels when there is one, else the matrix width
        return LayerPlan(layer.name, layer.op_type, "mvau", pe_dim=stages[-1].params["MH"],
                         simd_dim=p["C"] if kinds[0] == "sliding_window" else p["MW"], build=build)
    pe_dim = math.gcd(*(_shape(qm, t)[-1] for t in layer.inputs)) if layer.op_type == "Concat" \
        else _shape(qm, layer.outputs[0])[-1]
    return LayerPlan(layer.name, layer.op_type, "pe", pe_dim=pe_dim, build=build)


def _lower(layer, qm, pe: int, simd: int) -> list:
    from ..ops import lookup

    op = lookup(layer.op_type, layer.domain)
    if op is None:
        raise LoweringError(f"op {layer.op_type} is not known to this fpga-accel")
    return op.lower(layer, LowerContext(qm, {"pe": pe, "simd": simd}))


def _translate(layer, qm, stages) -> list[Stage]:
    """The code generator's stages of ``layer`` as cost-model stages."""
    out, window = [], None
    in_bits = max((_bits(qm, t) for t in layer.inputs), default=0)
    for s in stages:
        p, kind = dict(s.params), s.kind
        if kind == "sliding_window":
            p["DEPTHWISE"] = bool(p["DEPTHWISE"])
            window = _pick(kind, p)
        elif kind in ("max_pool", "avg_pool"):  # the window's parameters (+ the average's widths)
            extra = {} if kind == "max_pool" else {"ACC_BITS": _acc(p["BITS"], p["KH"] * p["KW"]),
                                                   "OUT_BITS": p["OUT_BITS"]}
            out.append(Stage(layer.name, kind, {**window, **extra}))
            continue
        elif kind == "global_avg_pool":
            p["ACC_BITS"] = _acc(p["BITS"], p["N_PIXELS"])
        elif kind == "mul":
            kind = "product"
        elif kind == "add":
            p.update(N_INPUTS=2, ACC_BITS=int(layer.config.get("acc_bits", 24)))
        if kind in ("add", "product", "concat"):
            p["IN_BITS"] = in_bits
        if kind == "scale":
            p["N_WORDS"] = p["N_PIXELS"] * p["C"] // p["LANES"]
        keys = _DENSE_MVAU if kind == "mvau" and layer.op_type in ("Gemm", "MatMul") else _KEYS[kind]
        out.append(Stage(layer.name, kind, _pick(kind, p, keys)))
    return out


def _pick(kind, p, keys=None) -> dict:
    return {k: p[k] for k in keys or _KEYS[kind]}


def _acc(bits: int, n: int) -> int:
    """The cost model's accumulator for a sum of ``n`` inputs of ``bits``."""
    return bits + max(1, math.ceil(math.log2(n))) + 1


def _bits(qm, tensor: str) -> int:
    return qm.tensors[tensor].qparams.qtype.bits


def _shape(qm, tensor: str) -> tuple[int, ...]:
    return tuple(int(d) for d in qm.tensors[tensor].shape)


def _grouped_conv(layer, qm) -> LayerPlan | None:
    """A grouped convolution (no PE yet): the code generator's window + one MVAU over each
    group's columns. None for any other layer, or a window the line buffer cannot make."""
    c = layer.config
    if layer.op_type != "Conv" or len(c["kernel"]) > 2 or c["group"] == 1:
        return None
    w, x, y = layer.consts["weights"], layer.inputs[0], layer.outputs[0]
    m, cg, g = int(w.shape[0]), int(w.shape[1]), int(c["group"])
    try:
        geo = sw.geometry(c, _shape(qm, x))
    except FpgaAccelError:
        return None
    n_vec = elems(_shape(qm, y)) // m
    common = {"IN_BITS": _bits(qm, x), "W_BITS": parse_qtype(c["weight_qtype"]).bits, "ACC_BITS": c["acc_bits"],
              "OUT_BITS": _bits(qm, y)}
    xq = qm.tensors[x].qparams.qtype

    def build(pe, simd):
        win = sw.window_stage(layer.name, Port(x, simd, xq.bits, xq.signed), f"{y}#window", geo, c["zp_in"], False)
        mv = Stage(layer.name, "mvau", {"MW": geo["KH"] * geo["KW"] * cg, "MH": m, "SIMD": simd, "PE": pe,
                                        "N_VECTORS": n_vec, **common})
        return [mv] if sw.is_identity(geo) else _translate(layer, qm, [win]) + [mv]
    return LayerPlan(layer.name, layer.op_type, "mvau", pe_dim=m, simd_dim=cg, build=build,
                     note=f"grouped convolution (group {g}) modelled as one MVAU over each group's columns")


def _reorder(layer, qm, buffer: bool) -> LayerPlan:
    n = max(elems(_shape(qm, layer.inputs[0])), elems(_shape(qm, layer.outputs[0])))
    p = {"N": n, "LANES": 1, "BITS": _bits(qm, layer.outputs[0]), "BUFFER": buffer}
    return LayerPlan(layer.name, layer.op_type, "pe", pe_dim=1,
                     build=lambda pe, simd: [Stage(layer.name, "reorder", p)],
                     note=_REORDER + (" through a whole-tensor buffer" if buffer else ""))
