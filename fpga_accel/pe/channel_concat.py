"""``channel_concat.h``: channel concatenation when the lanes do not divide the inputs' channels;
each input comes at lanes dividing its own channels, the output at the folding's lanes.

channel_concat : cycles/image = N_PIXELS·ITERS, ITERS the iterations of one pixel under the header's
                 rule (read a word while fewer than LANES elements wait, write a word when LANES
                 wait), computed here by running that rule; C/LANES (+1 at most) when the input words
                 are at least LANES wide. Per input lane one requantise product; a register queue of
                 LANES + max(A_LANES, B_LANES) − 1 elements.
"""
from __future__ import annotations

from .base import ProcessingElement, register
from .cost import Cost, requant_cost
from .stage import Port, Stage, ints


def input_lanes(c: int, lanes: int) -> int:
    """Lanes for an input of ``c`` channels in front of a ``lanes``-wide output: the smallest divisor
    of ``c`` that is at least ``lanes`` (so reading never limits the output's pace), or ``c``."""
    return next(d for d in range(min(lanes, c), c + 1) if c % d == 0)


def pixel_iterations(lanes: int, a_c: int, a_lanes: int, b_c: int, b_lanes: int) -> int:
    """Iterations of the header's loop for one pixel (its queue is empty at both ends)."""
    words = [a_lanes] * (a_c // a_lanes) + [b_lanes] * (b_c // b_lanes)
    held = iters = k = 0
    while k < len(words) or held:
        iters += 1
        if held < lanes and k < len(words):
            held, k = held + words[k], k + 1
        if held >= lanes:
            held -= lanes
    return iters


def channel_concat_stage(layer, a: Port, b: Port, out: Port, n_pixels: int, a_c: int, b_c: int, ra: dict,
                         rb: dict) -> Stage:
    cfg = {"N_PIXELS": n_pixels, "LANES": out.lanes,
           "A_C": a_c, "A_LANES": a.lanes, "A_BITS": a.bits, "A_SIGNED": a.signed, "A_ZP": int(ra["zero_points"][0]),
           "A_M": int(ra["multipliers"][0]), "A_SHIFT": int(ra["shift"]),
           "B_C": b_c, "B_LANES": b.lanes, "B_BITS": b.bits, "B_SIGNED": b.signed, "B_ZP": int(rb["zero_points"][0]),
           "B_M": int(rb["multipliers"][0]), "B_SHIFT": int(rb["shift"]),
           "OUT_BITS": out.bits, "OUT_ZP": int(ra["zp_out"]), "OUT_LO": int(ra["lo"]), "OUT_HI": int(ra["hi"])}
    described = ints(cfg)
    model = {k: described[k] for k in ("N_PIXELS", "LANES", "A_C", "A_LANES", "B_C", "B_LANES", "OUT_BITS")}
    model["IN_BITS"] = max(a.bits, b.bits)
    return Stage(layer, "channel_concat", model, [a, b], [out], cfg, header_params=described,
                 folding={"pe": out.lanes})


@register
class ChannelConcat(ProcessingElement):
    kind = "channel_concat"
    headers = ("channel_concat.h",)

    def cycles(self, p) -> int:
        return p["N_PIXELS"] * pixel_iterations(p["LANES"], p["A_C"], p["A_LANES"], p["B_C"], p["B_LANES"])

    def cost(self, p, board) -> Cost:
        widest = max(p["A_LANES"], p["B_LANES"])
        rq = requant_cost(p["A_LANES"] + p["B_LANES"], p["IN_BITS"] + 18, p["OUT_BITS"], board.dsp_port_bits)
        queue = (p["LANES"] + widest - 1) * p["OUT_BITS"]
        return Cost(dsp=rq.dsp, lut=100 + rq.lut + queue, ff=120 + rq.ff + queue)
