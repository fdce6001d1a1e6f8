"""``pad.h``: constant padding of (at most) two adjacent axes of a tensor in stream order."""
from __future__ import annotations

import math

from ..stage import FoldingProblem, LoweringError, Port, Stage


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
    return Stage(layer, "pad", [src], [out], cfg, params=dict(cfg, OUTER=outer), folding={"pe": src.lanes},
                 reps=f"n_images * {outer}" if outer > 1 else "n_images")
