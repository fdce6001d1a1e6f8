import numpy as np

from ..pe.pool import global_max_stage
from ..pe.stage import vectors
from ..quant.qmodel import QLayer
from .base import Example, register
from .family.attrs import require_nhwc
from .family.bases import channel_lanes
from .global_average_pool import GlobalPool


@register
class GlobalMaxPool(GlobalPool):
    op_type = "GlobalMaxPool"
    notes = "max over all spatial positions, 1D/2D/3D"

    def reduce(self, x, axes):
        return x.max(axis=axes, keepdims=True)

    passthrough_q = True  # max commutes with the monotone quantisation: same scale in and out

    def quantize(self, node, ctx):
        require_nhwc(node)
        return QLayer(node.name, self.op_type, [node.inputs[0]], [node.outputs[0]])

    def run_int(self, layer, inputs):
        x = inputs[0]
        return x.max(axis=tuple(range(1, x.ndim - 1)), keepdims=True)

    lowering = "global_max_pool"

    def lower(self, layer, ctx):
        x, y = layer.inputs[0], layer.outputs[0]
        xs = ctx.shape(x)
        lanes = channel_lanes(ctx, xs)
        return [global_max_stage(layer.name, ctx.port(x, lanes), ctx.port(y, lanes), vectors(xs), xs[-1])]

    def examples(self):
        r = np.random.default_rng(6)
        f = lambda *s: r.standard_normal(s).astype(np.float32)
        return [Example({}, [f(2, 3, 5, 6)], name="2d"), Example({}, [f(1, 4, 9)], name="1d"),
                Example({}, [f(1, 2, 3, 4, 5)], name="3d")]
