import numpy as np

from .base import Example, Op, register
from ..quant import arith
from ..quant.intdot import int_einsum
from ..quant.params import weight_params
from ..quant.qmodel import QLayer
from .common import (FUSED_CLIP, LAYOUT, apply_clip, from_nchw, pad_nhwc, pad_spatial, require_nhwc,
                     shape_from_nchw, shape_to_nchw, spatial_pads, to_nchw, window_out, windows, windows_nhwc)


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

    def quantize(self, node, ctx):
        require_nhwc(node)
        x, y = node.inputs[0], node.outputs[0]
        p_in, p_out = ctx.act(x), ctx.act(y)
        w = ctx.const(node.inputs[1])
        b = ctx.const(node.input(2)) if node.input(2) else np.zeros(w.shape[0])
        wp = weight_params(w, axis=0, qtype=ctx.weight_qtype(node), name=node.name)
        w_q = arith.quantize(w, wp, name=node.name)
        bias = arith.fold_zero_point(arith.quantize_bias(b, p_in.scale, wp, name=node.name), w_q, p_in.zero_point)
        M, shift = arith.requant_multipliers(p_in.scale * wp.scales / p_out.scale, name=node.name)
        lo, hi = arith.clamp_bounds(p_out.qtype, p_out.zero_point, p_out.scale, node.attrs.get("clip"))
        xs = shape_to_nchw(node, ctx.g.shape(x))
        pads, strides, dil, kernel, out = conv_geometry(node, xs, w.shape)
        k = int(np.prod(w.shape[1:]))
        dot_bits = arith.accumulator_bits(p_in.qtype, wp.qtype, k, bias_bits=None)
        acc_bits = arith.accumulator_bits(p_in.qtype, wp.qtype, k,
                                          bias_bits=arith.signed_bits(min(bias.min(), 0), max(bias.max(), 0)))
        config = {"kernel": kernel, "strides": strides, "dilations": dil, "pads": pads, "group": node.attrs["group"],
                  "in_shape": list(ctx.g.shape(x)), "out_shape": list(ctx.g.shape(y)), "zp_in": p_in.zero_point,
                  "zp_out": p_out.zero_point, "lo": lo, "hi": hi, "dot_bits": dot_bits, "acc_bits": acc_bits,
                  "weight_qtype": wp.qtype.name}
        return QLayer(node.name, self.op_type, [x], [y], config,
                      {"weights": w_q, "bias": bias, "M": M, "shift": shift})

    def run_int(self, layer, inputs):
        c = layer.config
        x = pad_nhwc(inputs[0], c["pads"], c["zp_in"])
        out = c["out_shape"][1:-1]
        win = windows_nhwc(x, c["kernel"], c["strides"], c["dilations"], out)  # N, *out, *k, C
        w = layer.consts["weights"]
        g, n_sp = c["group"], len(c["kernel"])
        m, cg = w.shape[0], w.shape[1]
        win = win.reshape(*win.shape[:-1], g, cg)
        wg = w.reshape(g, m // g, cg, *c["kernel"])
        sp, ks = "hw"[:n_sp], "ij"[:n_sp]
        acc = int_einsum(f"n{sp}{ks}gc,goc{ks}->n{sp}go", win, wg, c["dot_bits"])
        acc = acc.reshape(*acc.shape[:-2], m) + layer.consts["bias"]
        return arith.requantize(acc, layer.consts["M"], layer.consts["shift"], c["zp_out"], c["lo"], c["hi"],
                                name=layer.name)

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
