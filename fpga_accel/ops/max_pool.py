import numpy as np

from ..emulator.windows import lowest, pad_nhwc, window_taps
from ..pe import pool
from ..quant.qmodel import QLayer
from .base import Example, register
from .family.attrs import from_nchw, require_nhwc, to_nchw
from .family.pooling import POOL_ATTRS, WindowPool, int_pool_config


@register
class MaxPool(WindowPool):
    """Max over each window; padding is the lowest value of the type, so it never wins."""

    op_type = "MaxPool"
    notes = "1D/2D/3D, kernel_shape, strides, pads, auto_pad, dilations, ceil_mode; no Indices output"
    attrs = POOL_ATTRS
    ignored_attrs = ("storage_order",)  # only changes the Indices output, which is rejected

    def run(self, node, inputs):
        x = to_nchw(node, inputs[0])
        win, (*_, kernel, _out) = self.pooled(node, x, lowest(x.dtype))
        y = win.max(axis=tuple(range(-len(kernel), 0)))
        return [from_nchw(node, y).astype(x.dtype, copy=False)]

    passthrough_q = True  # max commutes with the monotone quantisation: same scale in and out

    def quantize(self, node, ctx):
        require_nhwc(node)
        config = int_pool_config(node, ctx)
        # padding is the type's lowest integer, as the float op pads with the lowest float: it never wins,
        # and a window on padding alone gives qmin, the quantised value of the float result
        config["pad_value"] = ctx.act(node.inputs[0]).qtype.min
        return QLayer(node.name, self.op_type, [node.inputs[0]], [node.outputs[0]], config)

    def run_int(self, layer, inputs):
        x = inputs[0]
        return max_windows(x, layer.config, layer.config.get("pad_value", np.iinfo(x.dtype).min))

    lowering = "sliding_window + max_pool"

    def lower(self, layer, ctx):
        """Window padded with the type minimum, then the max."""
        return self.lower_window(layer, ctx, layer.config["pad_value"],
                                 lambda win, out, g: pool.max_pool_stage(layer.name, win, out, g))

    def examples(self):
        r = np.random.default_rng(3)
        f = lambda *s: r.standard_normal(s).astype(np.float32)
        k2 = {"kernel_shape": [2, 2]}
        k3 = {"kernel_shape": [3, 3]}
        return [
            Example({**k2, "strides": [2, 2]}, [f(2, 3, 8, 8)], name="k2s2"),
            Example({**k3, "strides": [2, 2], "pads": [1, 0, 1, 2]}, [f(1, 2, 7, 6)], name="pads"),
            Example({**k3, "strides": [2, 2], "auto_pad": "SAME_UPPER"}, [f(1, 2, 7, 8)], name="same_upper"),
            Example({**k2, "auto_pad": "SAME_LOWER"}, [f(1, 2, 5, 6)], name="same_lower"),
            Example({**k3, "strides": [2, 2], "auto_pad": "VALID"}, [f(1, 2, 8, 7)], name="valid"),
            Example({**k3, "strides": [2, 2], "ceil_mode": 1}, [f(1, 2, 8, 9)], name="ceil"),
            # ceil would add a window starting in the end padding: onnxruntime drops it
            Example({"kernel_shape": [2, 2], "strides": [2, 2], "pads": [1, 1, 1, 1], "ceil_mode": 1},
                    [f(1, 1, 5, 4)], name="ceil_last_window"),
            Example({"kernel_shape": [1, 1], "strides": [2, 2], "ceil_mode": 1}, [f(1, 1, 2, 2)], name="ceil_reduce"),
            Example({**k2, "dilations": [2, 3], "strides": [1, 2]}, [f(1, 2, 7, 9)], name="dilations"),
            Example({**k3, "dilations": [2, 2], "strides": [2, 2], "pads": [1, 1, 1, 1], "ceil_mode": 1},
                    [f(1, 2, 8, 8)], name="dilations_ceil_pads"),
            Example({**k2, "strides": [2, 2], "storage_order": 1}, [f(1, 2, 4, 4)], name="storage_order"),
            Example({"kernel_shape": [3], "strides": [2], "pads": [1, 1]}, [f(2, 3, 11)], name="1d"),
            Example({"kernel_shape": [2, 2, 2], "strides": [2, 1, 2]}, [f(1, 2, 4, 5, 6)], name="3d"),
            Example({**k3, "pads": [1, 1, 1, 1]}, [r.integers(-128, 128, (1, 2, 5, 5)).astype(np.int8)], name="int8"),
            Example({**k2, "strides": [2, 2]}, [r.integers(0, 256, (1, 2, 6, 6)).astype(np.uint8)], name="uint8"),
        ]


def max_windows(x: np.ndarray, config, pad_value) -> np.ndarray:
    """The max over every window of a MaxPool layer's ``config`` of the channels-last ``x`` (any
    dtype: the emulator also pools accumulators), padded with ``pad_value``.

    A window is a product of one range per axis, so the max runs axis by axis, outermost first: its
    taps are then long contiguous rows, and each pass leaves less for the next."""
    given = x
    x = pad_nhwc(x, config["pads"], pad_value)
    kernel, strides, dil, out = config["kernel"], config["strides"], config["dilations"], config["out_shape"][1:-1]
    for d in range(len(kernel)):
        if kernel[d] == 1 and strides[d] == 1 and x.shape[1 + d] == out[d]:
            continue
        taps = window_taps(x, [kernel[d] if a == d else 1 for a in range(len(kernel))],
                           [strides[d] if a == d else 1 for a in range(len(kernel))],
                           [dil[d] if a == d else 1 for a in range(len(kernel))],
                           [out[d] if a == d else x.shape[1 + a] for a in range(len(kernel))])
        y = next(taps).copy()
        for tap in taps:
            np.maximum(y, tap, out=y)
        x = y
    return x if x is not given else x.copy()


def every_window_has_input(config) -> bool:
    """Whether every window of a MaxPool layer's ``config`` covers at least one input pixel (none
    lies on padding alone), so that padding below every input value never decides a max."""
    kernel, strides, dil, pads = config["kernel"], config["strides"], config["dilations"], config["pads"]
    n = len(kernel)
    size, out = config["in_shape"][1:1 + n], config["out_shape"][1:1 + n]

    def covered(d):  # without padding every window starts on an input pixel, the last one included
        if pads[d] == 0 and pads[d + n] == 0:
            return (out[d] - 1) * strides[d] < size[d]
        return all(any(0 <= i * strides[d] - pads[d] + t * dil[d] < size[d] for t in range(kernel[d]))
                   for i in range(out[d]))

    return all(covered(d) for d in range(n))
