"""``pool.h``: max / average pooling after a DEPTHWISE-order window, and global pooling.

window pools: cycles/image = OH·OW · CF · KH·KW      (CF = C/SIMD; the window's stream)
global pools: cycles/image = N_PIXELS · CF + CF
Logic per lane: a comparator (max) or an accumulator and a requantise product (average).
Memories: global pools keep CF words of SIMD running values.
The model sizes the accumulators of average pools by the tap count alone (:func:`model_acc_bits`).
"""
from __future__ import annotations

import math

import numpy as np

from ..quant.arith import signed_bits
from .base import ProcessingElement, register
from .cost import Cost, Memory, requant_cost
from .sliding_window import dims, pool_config
from .stage import Array, LoweringError, Port, Stage, ints, pick


def sum_bits(n: int, src: Port, zp: int) -> int:
    """Width of -n*zp + (partial sums of n inputs): the accumulator pool.h starts from -n*zp."""
    qmin = -(1 << (src.bits - 1)) if src.signed else 0
    qmax = (1 << (src.bits - 1)) - 1 if src.signed else (1 << src.bits) - 1
    return signed_bits(-n * zp + min(0, n * qmin), -n * zp + max(0, n * qmax)) + 1


def model_acc_bits(bits: int, n: int) -> int:
    """The model's accumulator for a sum of ``n`` inputs of ``bits``."""
    return bits + max(1, math.ceil(math.log2(n))) + 1


def max_pool_stage(layer, window: Stage, out: Port, g: dict) -> Stage:
    """The max over each window of ``window`` (the sliding window stage in front of it), whose
    parameters the model reads."""
    src = window.outputs[0]
    cfg = pool_config(g, src.lanes, src.bits)
    lo, hi = (-(1 << (src.bits - 1)), (1 << (src.bits - 1)) - 1) if src.signed else (0, (1 << src.bits) - 1)
    cfg.update({"IN_SIGNED": src.signed, "OUT_LO": lo, "OUT_HI": hi})
    return Stage(layer, "max_pool", dict(window.params), [src], [out], cfg, header_params=_described(cfg, g),
                 folding={"pe": src.lanes})


def avg_pool_stage(layer, window: Stage, out: Port, g: dict, config: dict, consts: dict) -> Stage:
    src = window.outputs[0]
    k = g["KH"] * g["KW"]
    table = {int(d): (int(m), int(s)) for d, m, s in consts["table"]}
    divisors = np.asarray(consts["divisors"]).reshape(g["OH"], g["OW"])
    include = None
    for flag in (True, False):  # which of pool.h's two divisor rules gives the layer's divisors
        if np.array_equal(divisors, _hls_divisors(g, flag)):
            include = flag
            break
    if include is None:
        raise LoweringError("its window divisors (ceil_mode overhang counted differently from padding) match "
                            "neither 'kernel size' nor 'taps inside the image'")
    m = [table.get(d, (0, 1))[0] for d in range(k + 1)]
    sh = [table.get(d, (0, 1))[1] for d in range(k + 1)]
    cfg = pool_config(g, src.lanes, src.bits)
    cfg.update({"IN_SIGNED": src.signed, "IN_ZP": int(config["zp_in"]),
                "ACC_BITS": sum_bits(k, src, int(config["zp_in"])), "OUT_BITS": out.bits,
                "OUT_ZP": int(config["zp_out"]), "OUT_LO": int(config["lo"]), "OUT_HI": int(config["hi"]),
                "COUNT_INCLUDE_PAD": include})
    arrays = [Array("m", "fa::mult_t", np.array(m, np.int64)), Array("shift", "fa::shift_t", np.array(sh, np.int64))]
    model = {**window.params, "ACC_BITS": model_acc_bits(src.bits, k), "OUT_BITS": int(out.bits)}
    return Stage(layer, "avg_pool", model, [src], [out], cfg, arrays=arrays, header_params=_described(cfg, g),
                 folding={"pe": src.lanes})


def _hls_divisors(g: dict, include_pad: bool) -> np.ndarray:
    """Divisor per output pixel as pool.h computes it (0 for a window on padding only)."""
    if include_pad:
        return np.full((g["OH"], g["OW"]), g["KH"] * g["KW"])

    def inside(n, k, s, d, pad, o):
        return sum(1 for t in range(k) if 0 <= o * s - pad + t * d < n)

    rows = [inside(g["IH"], g["KH"], g["SH"], g["DH"], g["PAD_T"], o) for o in range(g["OH"])]
    cols = [inside(g["IW"], g["KW"], g["SW"], g["DW"], g["PAD_L"], o) for o in range(g["OW"])]
    d = np.outer(rows, cols)
    return np.maximum(d, 1)  # the layer's divisor of an all-padding window is 1 (its sum is 0 either way)


def global_max_stage(layer, src: Port, out: Port, n_pixels: int, c: int) -> Stage:
    lo, hi = (-(1 << (src.bits - 1)), (1 << (src.bits - 1)) - 1) if src.signed else (0, (1 << src.bits) - 1)
    cfg = {"N_PIXELS": n_pixels, "C": c, "SIMD": src.lanes, "BITS": src.bits, "IN_SIGNED": src.signed,
           "OUT_LO": lo, "OUT_HI": hi}
    described = ints(cfg)
    return Stage(layer, "global_max_pool", pick(described, ("N_PIXELS", "C", "BITS", "SIMD")), [src], [out], cfg,
                 header_params=described, folding={"pe": src.lanes})


def global_avg_stage(layer, src: Port, out: Port, n_pixels: int, c: int, config: dict) -> Stage:
    cfg = {"N_PIXELS": n_pixels, "C": c, "SIMD": src.lanes, "BITS": src.bits, "IN_SIGNED": src.signed,
           "IN_ZP": int(config["zp_in"]), "ACC_BITS": sum_bits(n_pixels, src, int(config["zp_in"])),
           "OUT_BITS": out.bits, "OUT_ZP": int(config["zp_out"]), "OUT_LO": int(config["lo"]),
           "OUT_HI": int(config["hi"])}
    scalars = [f"fa::mult_t({int(config['M'])})", f"fa::shift_t({int(config['shift'])})"]
    described = ints(cfg)
    model = dict(pick(described, ("N_PIXELS", "C", "BITS")), ACC_BITS=model_acc_bits(src.bits, n_pixels),
                 OUT_BITS=described["OUT_BITS"], SIMD=described["SIMD"])
    return Stage(layer, "global_avg_pool", model, [src], [out], cfg, scalars=scalars, header_params=described,
                 folding={"pe": src.lanes})


def _described(cfg, g):
    return ints(dict(cfg, OH=g["OH"], OW=g["OW"]))


def _window_cycles(p) -> int:
    d = dims(p)
    return d["OH"] * d["OW"] * d["CF"] * p["KH"] * p["KW"]


def _max_cost(p, board) -> Cost:
    return Cost(lut=80 + 2 * p["SIMD"] * p["BITS"], ff=100 + 2 * p["SIMD"] * p["BITS"])


def _avg_cost(p, board) -> Cost:
    rq = requant_cost(p["SIMD"], p["ACC_BITS"], p["OUT_BITS"], board.dsp_port_bits)
    return Cost(dsp=rq.dsp, lut=100 + p["SIMD"] * p["ACC_BITS"] + rq.lut,
                ff=120 + p["SIMD"] * p["ACC_BITS"] + rq.ff)


def _global_cycles(p) -> int:
    cf = p["C"] // p["SIMD"]
    return p["N_PIXELS"] * cf + cf


class _WindowPool(ProcessingElement):
    headers = ("pool.h",)

    def cycles(self, p) -> int:
        return _window_cycles(p)

    def first_out(self, p) -> int:
        return p["KH"] * p["KW"] * (p["C"] // p["SIMD"])


@register
class MaxPool(_WindowPool):
    kind = "max_pool"

    def cost(self, p, board) -> Cost:
        return _max_cost(p, board)


@register
class AvgPool(_WindowPool):
    kind = "avg_pool"

    def cost(self, p, board) -> Cost:
        return _avg_cost(p, board)


class _GlobalPool(ProcessingElement):
    headers = ("pool.h",)

    def cycles(self, p) -> int:
        return _global_cycles(p)

    def first_out(self, p) -> int:
        return _global_cycles(p)

    def input_slack(self, p, interval: int) -> int:
        # an image's CF result words are written in CF cycles that read nothing, while the producer
        # goes on writing the next image's N_PIXELS·CF words evenly over ``interval`` cycles
        cf = p["C"] // p["SIMD"]
        return math.ceil(cf * p["N_PIXELS"] * cf / interval)

    def output_burst(self, p) -> int:
        return p["C"] // p["SIMD"]  # the CF result words, back to back once the image is read


@register
class GlobalMaxPool(_GlobalPool):
    kind = "global_max_pool"

    def cost(self, p, board) -> Cost:
        c = _max_cost(p, board)
        c.memories = [Memory("buffer", p["C"] // p["SIMD"], p["SIMD"] * p["BITS"])]
        return c


@register
class GlobalAvgPool(_GlobalPool):
    kind = "global_avg_pool"

    def cost(self, p, board) -> Cost:
        c = _avg_cost(p, board)
        c.memories = [Memory("buffer", p["C"] // p["SIMD"], p["SIMD"] * p["ACC_BITS"])]
        return c
