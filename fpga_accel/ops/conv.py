import numpy as np

from .base import Example, Op, register
from .common import (FUSED_CLIP, LAYOUT, apply_clip, from_nchw, pad_spatial, shape_from_nchw, shape_to_nchw,
                     spatial_pads, to_nchw, window_out, windows)


def conv_geometry(node, x_shape, w_shape):
    """(pads, strides, dilations, kernel, out_spatial) of a Conv node; shapes NCHW-style."""
    n_sp = len(x_shape) - 2
    a = node.attrs
    kernel = list(a.get("kernel_shape") or w_shape[2:])
    strides = list(a.get("strides") or [1] * n_sp)
    dil = list(a.get("dilations") or [1] * n_sp)
    pads = spatial_pads(node, x_shape[2:], kernel, strides, dil)
    out = [window_out(x_shape[2 + d], kernel[d], strides[d], dil[d], pads[d], pads[d + n_sp])
           for d in range(n_sp)]
    return pads, strides, dil, kernel, out


@register
class Conv(Op):
    op_type = "Conv"
    notes = "1D/2D, groups (depthwise), stride, dilation, pads, auto_pad"
    attrs = {"auto_pad": "NOTSET", "dilations": None, "group": 1, "kernel_shape": None,
             "pads": None, "strides": None, **FUSED_CLIP, **LAYOUT}

    def check(self, node, graph):
        problems = super().check(node, graph)
        if not graph.is_const(node.inputs[1]):
            problems.append("weights are not a constant")
        if node.input(2) and not graph.is_const(node.input(2)):
            problems.append("bias is not a constant")
        rank = len(graph.shape(node.inputs[0]))
        if rank not in (3, 4):
            problems.append(f"only 1D and 2D convolution is supported (input rank {rank})")
        return problems

    def infer(self, node, graph):
        x, w = graph.info(node.inputs[0]), graph.shape(node.inputs[1])
        xs = shape_to_nchw(node, x.shape)
        g = node.attrs["group"]
        if xs[1] != w[1] * g:
            raise self.fail(node, f"input has {xs[1]} channels, weights expect {w[1]}×{g} groups")
        *_, out = conv_geometry(node, xs, w)
        if min(out) < 1:
            raise self.fail(node, f"output would be empty (spatial {out})")
        return [(shape_from_nchw(node, (xs[0], w[0], *out)), x.dtype)]

    def run(self, node, inputs):
        x, w, b = to_nchw(node, inputs[0]), inputs[1], inputs[2] if len(inputs) > 2 else None
        pads, strides, dil, kernel, out = conv_geometry(node, x.shape, w.shape)
        g = node.attrs["group"]
        win = windows(pad_spatial(x, pads), kernel, strides, dil, out)  # N,C,*out,*k
        n, c = x.shape[:2]
        m = w.shape[0]
        n_sp = len(kernel)
        # (N, G, C/G, *out, *k) x (G, M/G, C/G, *k) -> (N, G, M/G, *out)
        win = win.reshape(n, g, c // g, *out, *kernel)
        wg = w.reshape(g, m // g, c // g, *kernel)
        sp = "hijk"[:n_sp]
        ks = "pqrs"[:n_sp]
        y = np.einsum(f"ngc{sp}{ks},gmc{ks}->ngm{sp}", win, wg, optimize=True)
        y = y.reshape(n, m, *out)
        if b is not None:
            y = y + b.reshape((1, m) + (1,) * n_sp)
        return [from_nchw(node, apply_clip(node, y)).astype(x.dtype, copy=False)]

    def macs(self, node, graph):
        y = graph.shape(node.outputs[0])
        w = graph.shape(node.inputs[1])
        return int(np.prod(y[1:])) * int(np.prod(w[1:]))  # same in either layout

    def examples(self):
        r = np.random.default_rng(1)
        f = lambda *s: r.standard_normal(s).astype(np.float32)
        return [
            Example({}, [f(1, 3, 7, 7), f(4, 3, 3, 3), f(4)], const=(1, 2), name="basic"),
            Example({"strides": [2, 2], "pads": [1, 1, 1, 1]}, [f(2, 2, 8, 8), f(3, 2, 3, 3)], const=(1,), name="stride_pad"),
            Example({"dilations": [2, 2]}, [f(1, 2, 9, 9), f(2, 2, 3, 3)], const=(1,), name="dilation"),
            Example({"group": 4}, [f(1, 4, 6, 6), f(4, 1, 3, 3), f(4)], const=(1, 2), name="depthwise"),
            Example({"group": 2}, [f(1, 4, 6, 6), f(6, 2, 3, 3)], const=(1,), name="groups"),
            Example({"auto_pad": "SAME_UPPER", "strides": [2, 2]}, [f(1, 2, 7, 7), f(3, 2, 3, 3)], const=(1,), name="same_upper"),
            Example({"auto_pad": "SAME_LOWER"}, [f(1, 2, 6, 6), f(3, 2, 2, 2)], const=(1,), name="same_lower"),
            Example({"pads": [1, 2]}, [f(1, 3, 10), f(2, 3, 3), f(2)], const=(1, 2), name="conv1d"),
        ]
