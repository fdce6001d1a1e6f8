"""Elementwise ops of one input (Relu, Clip, Sigmoid, Tanh, LeakyRelu, ...): a table over the
input's integers, ``y = lut[q − qmin]``."""
from __future__ import annotations

from ...ops import all_ops
from ...ops.family.bases import Unary
from ...quant.qtype import parse_qtype
from .c import numel
from .registry import emitter

#: every op whose integer form is the table of ops.family.bases.Unary (Relu, Sigmoid, Tanh, ...)
LUT_OPS = tuple(sorted(op.op_type for op in all_ops() if isinstance(op, Unary) and op.has_int() and not op.domain))


@emitter(*LUT_OPS)
def emit_lut(layer, ctx) -> str:
    qmin = parse_qtype(layer.config["in_qtype"]).min
    table = ctx.const("lut", layer.consts["lut"])
    return f"for (int i = 0; i < {numel(ctx.out_shape)}; i++) y[i] = ({ctx.out_ctype}){table}[x0[i] - ({qmin})];\n"
