"""eltwise.h: residual add, lookup-table activation, channel concat; and the elementwise scale
and product layers (Mul / Div by a constant, Mul of two tensors) built the same way.

add     : cycles/image = N_WORDS; per lane one product per input ((q − zp)·M), shared shift.
lut     : cycles/image = N_WORDS, plus 2^IN_BITS per call to copy the table into one ROM per lane.
concat  : cycles/image = N_PIXELS·(A_C + B_C)/LANES; per lane one product (each word's rescale).
scale   : cycles/image = N_WORDS; per lane one requantise product.
product : cycles/image = N_WORDS; per lane the a·b product and its requantise product.
"""
from __future__ import annotations

from ..resources import Cost, Memory, dsps_per_product, requant_cost
from ._model import pe_model


def _words(p) -> int:
    return p["N_WORDS"]


def _add_cost(p, board) -> Cost:
    lanes, n_in = p["LANES"], p.get("N_INPUTS", 2)
    per = dsps_per_product(p["IN_BITS"] + 1, 18, board.dsp_port_bits)
    return Cost(dsp=lanes * n_in * per, lut=80 + lanes * (n_in * p["ACC_BITS"] + 2 * p["OUT_BITS"]),
                ff=100 + lanes * (n_in * p["ACC_BITS"] + p["OUT_BITS"]))


def _lut_cost(p, board) -> Cost:
    lanes = p["LANES"]
    return Cost(lut=60 + lanes * p["OUT_BITS"], ff=80 + lanes * (p["IN_BITS"] + p["OUT_BITS"]),
                memories=[Memory("table", 2 ** p["IN_BITS"], p["OUT_BITS"], lanes)])


def _concat_cycles(p) -> int:
    return p["N_PIXELS"] * (p["A_C"] + p["B_C"]) // p["LANES"]


def _concat_cost(p, board) -> Cost:
    rq = requant_cost(p["LANES"], p["IN_BITS"] + 18, p["OUT_BITS"], board.dsp_port_bits)
    return Cost(dsp=rq.dsp, lut=100 + rq.lut, ff=120 + rq.ff)


def _scale_cost(p, board) -> Cost:
    rq = requant_cost(p["LANES"], p["IN_BITS"] + 1, p["OUT_BITS"], board.dsp_port_bits)
    return Cost(dsp=rq.dsp, lut=60 + rq.lut, ff=80 + rq.ff)


def _product_cost(p, board) -> Cost:
    lanes = p["LANES"]
    rq = requant_cost(lanes, 2 * p["IN_BITS"] + 2, p["OUT_BITS"], board.dsp_port_bits)
    dsp = lanes * dsps_per_product(p["IN_BITS"] + 1, p["IN_BITS"] + 1, board.dsp_port_bits)
    return Cost(dsp=dsp + rq.dsp, lut=60 + rq.lut, ff=80 + lanes * 2 * p["IN_BITS"] + rq.ff)


KINDS = (
    pe_model("add", _words, _add_cost),
    pe_model("lut", _words, _lut_cost, setup=lambda p: 2 ** p["IN_BITS"]),
    pe_model("concat", _concat_cycles, _concat_cost),
    pe_model("scale", _words, _scale_cost),
    pe_model("product", _words, _product_cost),
)
