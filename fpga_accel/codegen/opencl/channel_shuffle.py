"""ChannelShuffle: the tensor as (outer, C, inner) around its channel axis; output channel o reads
input channel (o % G)·(C/G) + o / G."""
from __future__ import annotations

import numpy as np

from .c import numel
from .registry import emitter


@emitter("ChannelShuffle")
def emit_channel_shuffle(layer, ctx) -> str:
    shape, axis, g = ctx.out_shape, int(layer.config["axis"]), int(layer.config["group"])
    c, inner = int(shape[axis]), int(np.prod(shape[axis + 1:], dtype=np.int64))
    return (f"for (int i = 0; i < {numel(shape)}; i++) {{\n"
            f"    const int o = (i / {inner}) % {c};\n"
            f"    y[i] = x0[i + ((o % {g}) * {c // g} + o / {g} - o) * {inner}];\n"
            f"}}\n")
