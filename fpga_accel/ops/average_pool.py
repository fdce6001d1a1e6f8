import numpy as np

from ..emulator.windows import pad_nhwc, padded, window_taps, windows
from ..pe import pool
from ..quant import rescale
from ..quant.qmodel import QLayer
from .base import Example, register
from .family.attrs import FUSED_CLIP, apply_clip, from_nchw, require_nhwc, shape_to_nchw, to_nchw
from .family.pooling import POOL_ATTRS, WindowPool, int_pool_config, overhang, pool_geometry


def window_counts(node, x_spatial, geo) -> np.ndarray:
    """Divisor of each output (1, 1, *out): the taps that see the input, plus, with
    count_include_pad, those on explicit (or auto) padding — never those on ceil_mode's overhang."""
    pads, strides, dil, kernel, out = geo
    n = len(kernel)
    extra = overhang(x_spatial, pads, strides, dil, kernel, out)
    counted = 1.0 if node.attrs["count_include_pad"] else 0.0
    mask = padded(np.ones((1, 1, *x_spatial)), pads, [0] * n, counted)
    mask = padded(mask, [0] * 2 * n, extra, 0.0)
    return windows(mask, kernel, strides, dil, out).sum(axis=tuple(range(-n, 0)))


@register
class AveragePool(WindowPool):
    """Mean over each window, dividing by the taps counted as ONNX / onnxruntime do."""

    op_type = "AveragePool"
    notes = "1D/2D/3D, kernel_shape, strides, pads, auto_pad, ceil_mode, count_include_pad, dilations"
    attrs = {**POOL_ATTRS, "count_include_pad": 0, **FUSED_CLIP}

    def run(self, node, inputs):
        x = to_nchw(node, inputs[0])
        win, geo = self.pooled(node, x, 0)
        n = len(geo[3])
        total = win.sum(axis=tuple(range(-n, 0)), dtype=np.float64)
        # a window on padding alone (possible with dilations) averages nothing: 0, as onnxruntime
        y = total / np.maximum(window_counts(node, x.shape[2:], geo), 1)
        return [from_nchw(node, apply_clip(node, y)).astype(x.dtype, copy=False)]

    def quantize(self, node, ctx):
        """Window sum of the centred integers (padding and ceil_mode's overhang hold zp_in, so they add
        0), requantised by s_in / (s_out · d) with d each output's divisor exactly as ``run`` counts
        it (quant.rescale.pool_constants; a window on padding alone gets d = 1 and a sum of 0)."""
        require_nhwc(node)
        x, y = node.inputs[0], node.outputs[0]
        p_in, p_out = ctx.act(x), ctx.act(y)
        config = int_pool_config(node, ctx)
        xs = shape_to_nchw(node, ctx.g.shape(x))
        d = np.maximum(window_counts(node, xs[2:], pool_geometry(node, xs))[0, 0], 1).astype(np.int64)
        pc = rescale.pool_constants(p_in, p_out, d, clip=node.attrs.get("clip"), name=node.name)
        table = sorted(pc.table.items())
        config.update({"zp_in": pc.zp_in, "zp_out": pc.zp_out, "lo": pc.lo, "hi": pc.hi})
        consts = {"divisors": d[..., None], "table": np.array([(k, M, s) for k, (M, s) in table], np.int64)}
        return QLayer(node.name, self.op_type, [x], [y], config, consts)

    def run_int(self, layer, inputs):
        c = layer.config
        x = pad_nhwc(inputs[0], c["pads"], c["zp_in"])
        sums = None
        for tap in window_taps(x, c["kernel"], c["strides"], c["dilations"], c["out_shape"][1:-1]):
            sums = tap.astype(np.int64) if sums is None else sums + tap
        sums -= int(np.prod(c["kernel"])) * c["zp_in"]  # every tap, padding included, was q − zp_in + zp_in
        pc = rescale.PoolRescale({int(d): (int(M), int(s)) for d, M, s in layer.consts["table"]}, c["zp_in"],
                                 c["zp_out"], c["lo"], c["hi"])
        return rescale.average(sums, layer.consts["divisors"], pc, name=layer.name)

    lowering = "sliding_window + avg_pool"

    def lower(self, layer, ctx):
        """Window padded with the zero point, then sum and requantise per divisor."""
        c = layer.config
        return self.lower_window(layer, ctx, c["zp_in"],
                                 lambda win, out, g: pool.avg_pool_stage(layer.name, win, out, g, c, layer.consts))

    def macs(self, node, graph):
        """Accumulations per image: one per window tap (the same in either layout)."""
        y = graph.shape(node.outputs[0])
        return int(np.prod(y[1:])) * int(np.prod(node.attrs["kernel_shape"]))

    def examples(self):
        r = np.random.default_rng(4)
        f = lambda *s: r.standard_normal(s).astype(np.float32)
        k2 = {"kernel_shape": [2, 2]}
        k3 = {"kernel_shape": [3, 3]}
        inc = {"count_include_pad": 1}
        return [
            Example({**k2, "strides": [2, 2]}, [f(2, 3, 8, 8)], name="k2s2"),
            Example({**k3, "pads": [1, 2, 0, 1]}, [f(1, 2, 6, 7)], name="pads"),
            Example({**k3, "pads": [1, 2, 0, 1], **inc}, [f(1, 2, 6, 7)], name="pads_include"),
            Example({**k3, "strides": [2, 2], "auto_pad": "SAME_UPPER"}, [f(1, 2, 7, 8)], name="same_upper"),
            Example({**k2, "auto_pad": "SAME_LOWER", **inc}, [f(1, 2, 5, 6)], name="same_lower_include"),
            Example({**k3, "strides": [2, 2], "auto_pad": "VALID"}, [f(1, 2, 8, 7)], name="valid"),
            Example({**k3, "strides": [2, 2], "ceil_mode": 1}, [f(1, 2, 8, 9)], name="ceil"),
            # the overhang past the explicit pads is not counted even with count_include_pad
            Example({**k3, "strides": [2, 2], "pads": [1, 1, 1, 1], "ceil_mode": 1, **inc}, [f(1, 2, 8, 9)],
                    name="ceil_pads_include"),
            Example({**k3, "strides": [3, 3], "pads": [1, 1, 1, 1], "ceil_mode": 1, **inc}, [f(1, 3, 2, 2)],
                    name="ceil_last_window_on_pad"),
            Example({**k2, "dilations": [2, 2], "strides": [1, 2], "pads": [1, 1, 1, 1], **inc}, [f(1, 2, 7, 8)],
                    opset=19, name="dilations_include"),
            Example({**k3, "dilations": [2, 1], "strides": [2, 2], "ceil_mode": 1}, [f(1, 2, 9, 8)], opset=19,
                    name="dilations_ceil"),
            Example({"kernel_shape": [3], "strides": [2], "pads": [1, 1], **inc}, [f(2, 3, 11)], name="1d"),
            Example({"kernel_shape": [2, 2, 2], "strides": [2, 1, 2], "ceil_mode": 1}, [f(1, 2, 5, 5, 5)], name="3d"),
        ]
