import numpy as np

from ..pe.pool import global_avg_stage
from ..pe.stage import vectors
from ..quant import rescale
from ..quant.qmodel import QLayer
from .base import Example, Op, register
from .family.attrs import (
    FUSED_CLIP,
    LAYOUT,
    apply_clip,
    from_nchw,
    require_nhwc,
    shape_from_nchw,
    shape_to_nchw,
    to_nchw,
)
from .family.bases import channel_lanes


class GlobalPool(Op):
    """Reduce every spatial axis to 1 (the result keeps the input's rank and layout)."""

    attrs = dict(LAYOUT)

    def check(self, node, graph):
        problems = super().check(node, graph)
        rank = len(graph.shape(node.inputs[0]))
        if rank not in (3, 4, 5):
            problems.append(f"only 1D, 2D and 3D inputs are supported (input rank {rank})")
        return problems

    def infer(self, node, graph):
        x = graph.info(node.inputs[0])
        xs = shape_to_nchw(node, x.shape)
        return [(shape_from_nchw(node, (*xs[:2], *[1] * (len(xs) - 2))), x.dtype)]

    def run(self, node, inputs):
        x = to_nchw(node, inputs[0])
        y = self.reduce(x, tuple(range(2, x.ndim)))
        return [from_nchw(node, apply_clip(node, y)).astype(x.dtype, copy=False)]

    def reduce(self, x: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
        raise NotImplementedError


@register
class GlobalAveragePool(GlobalPool):
    op_type = "GlobalAveragePool"
    notes = "mean over all spatial positions, 1D/2D/3D"
    attrs = {**LAYOUT, **FUSED_CLIP}

    def reduce(self, x, axes):
        return x.mean(axis=axes, keepdims=True, dtype=np.float64)

    def quantize(self, node, ctx):
        """Sum of the centred integers over all positions, requantised by s_in / (s_out · H·W)
        (quant.rescale.pool_constants), fused clip as the clamp."""
        require_nhwc(node)
        x, y = node.inputs[0], node.outputs[0]
        p_in, p_out = ctx.act(x), ctx.act(y)
        d = int(np.prod(ctx.g.shape(x)[1:-1]))
        pc = rescale.pool_constants(p_in, p_out, [d], clip=node.attrs.get("clip"), name=node.name)
        M, shift = pc.table[d]
        config = {"divisor": d, "M": M, "shift": shift, "zp_in": pc.zp_in, "zp_out": pc.zp_out, "lo": pc.lo,
                  "hi": pc.hi}
        return QLayer(node.name, self.op_type, [x], [y], config)

    def run_int(self, layer, inputs):
        c = layer.config
        x = inputs[0]
        d = c["divisor"]
        sums = x.sum(axis=tuple(range(1, x.ndim - 1)), keepdims=True, dtype=np.int64) - d * c["zp_in"]
        pc = rescale.PoolRescale({d: (c["M"], c["shift"])}, c["zp_in"], c["zp_out"], c["lo"], c["hi"])
        return rescale.average(sums, np.array(d), pc, name=layer.name)

    lowering = "global_avg_pool"

    def lower(self, layer, ctx):
        x, y = layer.inputs[0], layer.outputs[0]
        xs = ctx.shape(x)
        lanes = channel_lanes(ctx, xs)
        return [global_avg_stage(layer.name, ctx.port(x, lanes), ctx.port(y, lanes), vectors(xs), xs[-1],
                                 layer.config)]

    def macs(self, node, graph):
        """Accumulations per image: one per input element (the same in either layout)."""
        return int(np.prod(graph.shape(node.inputs[0])[1:]))

    def examples(self):
        r = np.random.default_rng(5)
        f = lambda *s: r.standard_normal(s).astype(np.float32)
        return [Example({}, [f(2, 3, 5, 6)], name="2d"), Example({}, [f(1, 4, 9)], name="1d"),
                Example({}, [f(1, 2, 3, 4, 5)], name="3d")]
