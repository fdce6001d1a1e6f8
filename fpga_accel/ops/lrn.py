import math

import numpy as np

from ..pe.lrn import lrn_stage
from ..pe.stage import vectors
from ..quant import arith
from ..quant.qmodel import QLayer
from .base import Example, Op, register
from .family.attrs import LAYOUT, from_nchw, require_nhwc, to_nchw
from .family.bases import channel_lanes

#: entries of the factor table: the windowed sum of squares is rounded to this many bits first
TABLE_BITS = 10
#: the factor table's entries are below 2^FACTOR_BITS (one DSP operand)
FACTOR_BITS = 16


def window_sums(v: np.ndarray, size: int) -> np.ndarray:
    """Sum of ``v`` over channels c − ⌊(size−1)/2⌋ .. c + ⌈(size−1)/2⌉ (clipped), along the last axis."""
    lo = (size - 1) // 2
    c = v.shape[-1]
    p = np.concatenate([np.zeros((*v.shape[:-1], 1), v.dtype), np.cumsum(v, axis=-1)], axis=-1)
    first = np.maximum(np.arange(c) - lo, 0)
    last = np.minimum(np.arange(c) - lo + size - 1, c - 1)
    return p[..., last + 1] - p[..., first]


def lrn_constants(attrs: dict, p_in, p_out, name: str) -> dict:
    """The integer LRN: y = requantize((q − zp)·T[idx(S)], M, shift) with S the windowed sum of the
    centred squares, idx(S) = min((S + 2^(k−1)) >> k, 2^TABLE_BITS − 1) and
    T[i] = round(2^F · (bias + alpha/size · s_in² · i·2^k)^(−beta)), F the largest with every
    T below 2^FACTOR_BITS; M / 2^shift ≈ s_in / (s_out · 2^F)."""
    q = p_in.qtype
    zp = int(p_in.zero_point)
    size, alpha, beta, bias = int(attrs["size"]), float(attrs["alpha"]), float(attrs["beta"]), float(attrs["bias"])
    reach = max(abs(q.min - zp), abs(q.max - zp))
    s_max = size * reach * reach
    k = max(0, s_max.bit_length() - TABLE_BITS)
    sums = np.arange(1 << TABLE_BITS, dtype=np.float64) * (1 << k)
    factor = (bias + alpha / size * float(p_in.scale) ** 2 * sums) ** -beta
    f_bits = FACTOR_BITS - 1 - math.floor(math.log2(factor.max()))
    table = np.round(np.ldexp(factor, f_bits)).astype(np.int64)
    M, shift = arith.requant_multiplier(float(p_in.scale) / (float(p_out.scale) * 2.0 ** f_bits), name=name)
    return {"size": size, "zp_in": zp, "idx_shift": k, "M": M, "shift": shift, "zp_out": int(p_out.zero_point),
            "lo": p_out.qtype.min, "hi": p_out.qtype.max, "s_bits": max(1, s_max.bit_length()), "table": table}


@register
class LRN(Op):
    """Local response normalisation across channels (AlexNet, GoogLeNet):
    y = x / (bias + alpha/size · Σ x²)^beta over ``size`` neighbouring channels."""

    op_type = "LRN"
    notes = ("across channels; in hardware the windowed sum of squares indexes a 2^10-entry table of "
             "(bias + alpha/size·sum)^−beta")
    attrs = {**LAYOUT, "alpha": 1e-4, "beta": 0.75, "bias": 1.0, "size": None}

    def check(self, node, graph):
        problems = super().check(node, graph)
        if node.attrs["size"] is None or int(node.attrs["size"]) < 1:
            problems.append("attribute 'size' (a positive number of channels) is required")
        return problems

    def infer(self, node, graph):
        x = graph.info(node.inputs[0])
        return [(x.shape, x.dtype)]

    def run(self, node, inputs):
        a = node.attrs
        x = np.moveaxis(to_nchw(node, inputs[0]).astype(np.float64), 1, -1)
        d = (a["bias"] + a["alpha"] / a["size"] * window_sums(x * x, int(a["size"]))) ** a["beta"]
        return [from_nchw(node, np.moveaxis(x / d, -1, 1)).astype(inputs[0].dtype)]

    def quantize(self, node, ctx):
        require_nhwc(node)
        x, y = node.inputs[0], node.outputs[0]
        c = lrn_constants(node.attrs, ctx.act(x), ctx.act(y), node.name)
        table = c.pop("table")
        return QLayer(node.name, self.op_type, [x], [y], c, {"table": table})

    def run_int(self, layer, inputs):
        c = layer.config
        xc = np.asarray(inputs[0]).astype(np.int64) - c["zp_in"]
        s = window_sums(xc * xc, c["size"])
        table = layer.consts["table"]
        idx = np.minimum((s + ((1 << c["idx_shift"]) >> 1)) >> c["idx_shift"], table.size - 1)
        return arith.requantize(xc * table[idx], c["M"], c["shift"], c["zp_out"], c["lo"], c["hi"], name=layer.name)

    lowering = "lrn"

    def lower(self, layer, ctx):
        x, y = layer.inputs[0], layer.outputs[0]
        shape = ctx.shape(x)
        lanes = channel_lanes(ctx, shape)
        return [lrn_stage(layer.name, ctx.port(x, lanes), ctx.port(y, lanes), vectors(shape), int(shape[-1]),
                          layer.config, layer.consts["table"])]

    def examples(self):
        r = np.random.default_rng(77)
        x = r.standard_normal((2, 7, 3, 4)).astype(np.float32) * 3
        return [Example({"size": 5, "alpha": 1e-3, "beta": 0.75, "bias": 2.0}, [x], name="alexnet"),
                Example({"size": 3, "alpha": 0.5, "beta": 0.3, "bias": 1.0}, [x], name="strong"),
                Example({"size": 9}, [x], name="window_wider_than_channels_defaults")]
