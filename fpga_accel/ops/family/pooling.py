"""The base of MaxPool and AveragePool and their window geometry (no op lives here).

Both pools see their input as NCHW-style ``(N, C, *spatial)`` (NHWC nodes are viewed through
:func:`~fpga_accel.ops.family.attrs.to_nchw`), 1D, 2D or 3D.
"""
from __future__ import annotations

import numpy as np

from ...emulator.windows import padded, windows
from ...pe import sliding_window as sw
from ..base import Op
from .attrs import LAYOUT, shape_from_nchw, shape_to_nchw, spatial_pads, window_out
from .bases import channel_lanes

#: ONNX attributes common to MaxPool and AveragePool, with their defaults
POOL_ATTRS = {"auto_pad": "NOTSET", "ceil_mode": 0, "dilations": None, "kernel_shape": None,
              "pads": None, "strides": None, **LAYOUT}


def pool_geometry(node, x_shape):
    """(pads, strides, dilations, kernel, out_spatial) of a pooling node; ``x_shape`` NCHW-style."""
    n_sp = len(x_shape) - 2
    a = node.attrs
    kernel = [int(k) for k in a["kernel_shape"]]
    strides = [int(s) for s in a.get("strides") or [1] * n_sp]
    dil = [int(d) for d in a.get("dilations") or [1] * n_sp]
    ceil = bool(a.get("ceil_mode", 0))
    pads = [int(p) for p in spatial_pads(node, x_shape[2:], kernel, strides, dil)]
    out = [window_out(x_shape[2 + d], kernel[d], strides[d], dil[d], pads[d], pads[d + n_sp], ceil)
           for d in range(n_sp)]
    return pads, strides, dil, kernel, out


def overhang(x_spatial, pads, strides, dil, kernel, out) -> list[int]:
    """Extra end padding per axis that ceil_mode's last window reaches past the explicit pads."""
    n = len(kernel)
    need = [(out[d] - 1) * strides[d] + (kernel[d] - 1) * dil[d] + 1 for d in range(n)]
    return [max(0, need[d] - (x_spatial[d] + pads[d] + pads[d + n])) for d in range(n)]


class WindowPool(Op):
    """Base of MaxPool and AveragePool: attributes, checks and the shape rule."""

    attrs = POOL_ATTRS

    def check(self, node, graph):
        problems = super().check(node, graph)
        a = node.attrs
        if any(node.outputs[1:]):
            problems.append("a second output (Indices) is not supported; use the pooled values only")
        rank = len(graph.shape(node.inputs[0]))
        if rank not in (3, 4, 5):
            problems.append(f"only 1D, 2D and 3D pooling is supported (input rank {rank})")
            return problems
        n_sp = rank - 2
        if not a.get("kernel_shape"):
            problems.append("attribute 'kernel_shape' is required")
            return problems
        for key, want in (("kernel_shape", n_sp), ("strides", n_sp), ("dilations", n_sp), ("pads", 2 * n_sp)):
            v = a.get(key)
            if v is not None and len(v) != want:
                problems.append(f"'{key}' = {list(v)} should have {want} values for a {n_sp}D pool")
        if any(int(p) < 0 for p in a.get("pads") or ()):
            problems.append(f"negative pads {list(a['pads'])} are not supported; crop with Slice instead")
        if a.get("auto_pad", "NOTSET") not in ("NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER"):
            problems.append(f"auto_pad '{a['auto_pad']}' is not one of NOTSET, VALID, SAME_UPPER, SAME_LOWER")
        return problems

    def infer(self, node, graph):
        x = graph.info(node.inputs[0])
        xs = shape_to_nchw(node, x.shape)
        *_, out = pool_geometry(node, xs)
        if min(out) < 1:
            raise self.fail(node, f"output would be empty (spatial {out}); the kernel is larger than "
                                  f"the padded input {list(xs[2:])}")
        return [(shape_from_nchw(node, (*xs[:2], *out)), x.dtype)]

    def lower_window(self, layer, ctx, pad_value, pool_stage):
        """Sliding window in depthwise order padded with ``pad_value``, then
        ``pool_stage(window_stage, out_port, geometry)``; PE channels per word."""
        x, y = layer.inputs[0], layer.outputs[0]
        xs = ctx.shape(x)
        g = sw.geometry(layer.config, xs)
        lanes = channel_lanes(ctx, xs)
        win = sw.window_stage(layer.name, ctx.port(x, lanes), f"{y}#window", g, pad_value, depthwise=True)
        return [win, pool_stage(win, ctx.port(y, lanes), g)]

    def pooled(self, node, x: np.ndarray, value):
        """(windows, geometry): every window of ``x`` (N, C, *spatial), padded with ``value`` so
        ceil_mode's last windows fit; windows have shape (N, C, *out, *kernel)."""
        pads, strides, dil, kernel, out = geo = pool_geometry(node, x.shape)
        extra = overhang(x.shape[2:], pads, strides, dil, kernel, out)
        return windows(padded(x, pads, extra, value), kernel, strides, dil, out), geo


def int_pool_config(node, ctx) -> dict:
    """Geometry of a pooling node for its integer layer: explicit pads including ceil overhang."""
    xs = shape_to_nchw(node, ctx.g.shape(node.inputs[0]))
    pads, strides, dil, kernel, out = pool_geometry(node, xs)
    extra = overhang(xs[2:], pads, strides, dil, kernel, out)
    n = len(kernel)
    pads = pads[:n] + [pads[n + d] + extra[d] for d in range(n)]
    return {"kernel": kernel, "strides": strides, "dilations": dil, "pads": pads,
            "in_shape": list(ctx.g.shape(node.inputs[0])), "out_shape": list(ctx.g.shape(node.outputs[0]))}
