"""``pad.h``: constant padding of (at most) two adjacent axes of a tensor in stream order.

cycles/image = OUTER · (PAD_T + IH + PAD_B) · (PAD_L + IW + PAD_R) · C/LANES: one output word per
cycle. Logic: a word multiplexer and counters, no memory.
"""
from __future__ import annotations

import math

from .base import ProcessingElement, register
from .cost import Cost
from .stage import FoldingProblem, LoweringError, Port, Stage
from .stream_utils import copy_cost


def pad_stage(layer, src: Port, out: Port, in_shape, config: dict) -> Stage:
    """The tensor viewed as (outer, H, W, C) around the padded axes: H and W the padded axes (H of
    size 1 when one axis is padded), C the product of the axes after them, the PE run once per
    outer index (``reps`` = images x outer)."""
    pads = [tuple(int(v) for v in p) for p in config["pads"]]
    if config["mode"] != "constant":
        raise LoweringError(f"{config['mode']} padding has no processing element (constant padding only)")
    if any(b < 0 or e < 0 for b, e in pads):
        raise LoweringError(f"negative pads (cropping) {pads} have no processing element")
    shape = [int(d) for d in in_shape]
    padded = [d for d in range(1, len(shape)) if pads[d] != (0, 0)]
    if len(padded) > 2 or (len(padded) == 2 and padded[1] != padded[0] + 1):
        raise LoweringError(f"pads {pads} pad axes {padded}; the pad PE pads at most two adjacent axes")
    w = padded[-1] if padded else len(shape) - 1
    h = w - 1 if len(padded) == 2 else None
    c = math.prod(shape[w + 1:])
    if c % src.lanes:
        raise FoldingProblem(f"PE={src.lanes} does not divide the {c} elements after the padded axes")
    outer = math.prod(shape[1:h if h is not None else w])
    (pt, pb), (pl, pr) = (pads[h] if h is not None else (0, 0)), pads[w]
    cfg = {"IH": shape[h] if h is not None else 1, "IW": shape[w], "C": c, "LANES": src.lanes, "BITS": src.bits,
           "PAD_T": pt, "PAD_L": pl, "PAD_B": pb, "PAD_R": pr, "PAD_VALUE": int(config["value"])}
    return Stage(layer, "pad", dict(cfg, OUTER=outer), [src], [out], cfg, folding={"pe": src.lanes},
                 reps=f"n_images * {outer}" if outer > 1 else "n_images")


@register
class Pad(ProcessingElement):
    """The folder keeps it at one lane: its lanes must divide the elements after the padded axes,
    which the folder's rule (a divisor of the channels) does not guarantee."""

    kind = "pad"
    headers = ("pad.h",)
    lanes_fold = False

    def cycles(self, p) -> int:
        oh, ow = p["PAD_T"] + p["IH"] + p["PAD_B"], p["PAD_L"] + p["IW"] + p["PAD_R"]
        return p["OUTER"] * oh * ow * (p["C"] // p["LANES"])

    def cost(self, p, board) -> Cost:
        return copy_cost(p, board)
