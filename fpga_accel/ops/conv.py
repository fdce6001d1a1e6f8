import numpy as np

from ..emulator import fastconv
from ..emulator.fastint import layer_dot_dtype, requantize_dot, weight_dot_bits
from ..emulator.windows import lowest, pad_nhwc, pad_spatial, window_taps, windows, windows_nhwc
from ..pe import depthwise, grouped_mvau, mvau, mvau_mmv
from ..pe import parallel_window as pw
from ..pe import sliding_window as sw
from ..pe.stage import FoldingProblem, vectors
from ..quant import arith
from ..quant.given import weight_for
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
    spatial_pads,
    to_nchw,
    window_out,
)


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


def _im2col_dot(x: np.ndarray, w: np.ndarray, geo, dt) -> np.ndarray:
    """Windows of the padded channels-last ``x`` (N, *out, *k, C) times the weights (M, C, *k):
    (N, *out, M) as one matrix product of the unrolled windows, in ``dt``."""
    kernel, strides, dil, out = geo
    n_out = (x.shape[0], *out)
    wm = np.moveaxis(w, 1, -1).reshape(w.shape[0], -1).T.astype(dt)  # (*k, C) x M
    if x.shape[-1] == 1:  # one channel: a tap per row of a (taps, positions) matrix copies fastest
        cols = np.empty((int(np.prod(kernel)), *n_out), x.dtype)
        for t, tap in enumerate(window_taps(x, kernel, strides, dil, out)):
            cols[t] = tap[..., 0]
        cols = cols.reshape(len(cols), -1).T
    else:
        cols = windows_nhwc(x, *geo).reshape(int(np.prod(n_out)), -1)  # copies: rows (*k, C) in memory order
    return (cols @ wm).reshape(*n_out, w.shape[0])


def _depthwise(x: np.ndarray, w: np.ndarray, geo, dt) -> np.ndarray:
    """Σ_taps x_tap[..., o] · w[o, 0, tap]: one multiply-add per kernel tap, in ``dt``; ``x`` has
    one channel per output channel. Images go in blocks whose sums stay in cache, and rows of
    (W, C) are flattened when contiguous, so the inner loops run over many elements."""
    kernel, strides, dil, out = geo
    wt = w[:, 0].reshape(w.shape[0], -1).T.astype(dt)  # taps x M
    wide = np.tile(wt, (1, out[-1]))  # the per-channel weights repeated along W
    acc = np.zeros((x.shape[0], *out, w.shape[0]), dt)
    step = max(1, (1 << 18) // acc[0].size)
    for s in range(0, x.shape[0], step):
        blk = acc[s:s + step]
        flat = blk.reshape(*blk.shape[:-2], -1)
        term = np.empty_like(flat)
        for t, tap in enumerate(window_taps(x[s:s + step], kernel, strides, dil, out)):
            if tap.strides[-2] == tap.shape[-1] * tap.strides[-1]:
                np.multiply(tap.reshape(flat.shape), wide[t], out=term)
                flat += term
            else:
                blk += tap * wt[t]
    return acc


@register
class Conv(Op):
    op_type = "Conv"
    notes = "1D/2D, groups (grouped and depthwise), stride, dilation, pads, auto_pad"
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
        # the model's own integers, if it gives them
        w_q, wp = weight_for(ctx, node, node.inputs[1], w, axis=0, bias=b, in_scale=p_in.scale)
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
                  "weight_qtype": wp.qtype.name,
                  "emu_dot_bits": min(dot_bits, weight_dot_bits(w_q, p_in.qtype.min, p_in.qtype.max))}
        return QLayer(node.name, self.op_type, [x], [y], config,
                      {"weights": w_q, "bias": bias, "M": M, "shift": shift})

    def run_dot(self, layer, inputs):
        """Σ_k q·w over each window (padding holds zp_in), without the bias: exact integers in the
        cheapest dtype that holds every partial sum (fastint.layer_dot_dtype: float32/float64 on
        BLAS, else int64), channels last.

        group 1: im2col and one matrix product; depthwise: a multiply-add per kernel tap; other
        groups: one im2col product per group."""
        c, k = layer.config, layer.consts
        dt = layer_dot_dtype(c)
        x = pad_nhwc(inputs[0].astype(dt), c["pads"], c["zp_in"])
        out, kernel = c["out_shape"][1:-1], c["kernel"]
        w = k["weights"]
        g, m, cg = c["group"], w.shape[0], w.shape[1]
        geo = (kernel, c["strides"], c["dilations"], out)
        if g == 1:
            return _im2col_dot(x, w, geo, dt)
        if cg == 1:  # depthwise: output channel o reads input channel o // (m / g)
            return _depthwise(x if m == g else x[..., np.arange(m) // (m // g)], w, geo, dt)
        mg = m // g
        return np.concatenate([_im2col_dot(x[..., i * cg:(i + 1) * cg], w[i * mg:(i + 1) * mg], geo, dt)
                               for i in range(g)], axis=-1)

    def run_dot_max(self, layer, inputs, pool) -> np.ndarray:
        """The max of :meth:`run_dot`'s sums over every window of a MaxPool layer's config ``pool``.

        group 1 and a pool without padding (every window inside the conv's output): for each pool
        tap, the conv at the positions that tap reads (the conv's strides times the pool's, shifted
        by the tap), so the max runs over whole contiguous products and the positions no window
        reads are never computed. Otherwise the max over the windows of the whole :meth:`run_dot`."""
        from .max_pool import max_windows

        c = layer.config
        if c["group"] != 1 or any(pool["pads"]):
            dot = self.run_dot(layer, inputs)
            return max_windows(dot, pool, lowest(dot.dtype))
        dt = layer_dot_dtype(c)
        x = pad_nhwc(inputs[0].astype(dt), c["pads"], c["zp_in"])
        cs, w = c["strides"], layer.consts["weights"]
        geo = (c["kernel"], [a * b for a, b in zip(cs, pool["strides"])], c["dilations"], pool["out_shape"][1:-1])
        acc = None
        for tap in np.ndindex(*pool["kernel"]):
            at = x[(slice(None), *(slice(t * d * s, None) for t, d, s in zip(tap, pool["dilations"], cs)), slice(None))]
            dot = _im2col_dot(at, w, geo, dt)
            acc = dot if acc is None else np.maximum(acc, dot, out=acc)
        return acc

    def run_acc(self, layer, inputs):
        """The exact accumulator before requantising: :meth:`run_dot` plus the folded bias, int64."""
        return self.run_dot(layer, inputs).astype(np.int64) + layer.consts["bias"]

    def requantize_dot(self, layer, dot):
        """The layer's outputs from (any elementwise selection of) :meth:`run_dot`'s sums."""
        return requantize_dot(layer, dot)

    def run_int(self, layer, inputs):
        """requantize(run_acc): the dot products of :meth:`run_dot` requantised with the bias (the
        native kernel where it applies: the same integers)."""
        native = fastconv.conv_int(layer, inputs[0])
        return native if native is not None else requantize_dot(layer, self.run_dot(layer, inputs))

    def run_pool_int(self, layer, inputs, pool):
        """The outputs of the MaxPool (config ``pool``) that alone reads this layer, from the max of
        the exact sums requantised; only where max and requantisation commute (the emulator's
        fusion rule). The native kernel where it applies, else :meth:`run_dot_max`."""
        native = fastconv.conv_int(layer, inputs[0], pool)
        return native if native is not None else requantize_dot(layer, self.run_dot_max(layer, inputs, pool))

    lowering = ("sliding_window (or parallel_window) + mvau, or parallel_window + mvau_mmv at PX pixels per word; "
                "depthwise: sliding_window (or parallel_window, also at PX pixels per word) + depthwise; "
                "other groups: sliding_window + grouped_mvau")

    def lower(self, layer, ctx):
        """group 1: window (MVAU order; none for a 1x1 stride-1 unpadded conv) + MVAU with SIMD input
        and PE output channels; SIMD divides C (channel groups, sliding_window) or is C·KP for KP
        dividing KH·KW (KP kernel positions per word, parallel_window); depthwise (group = C = M): window + depthwise PE
        (:meth:`_lower_depthwise`);
        any other group: window (MVAU order) + grouped MVAU (:meth:`_lower_grouped`)."""
        c, k = layer.config, layer.consts
        x, y = layer.inputs[0], layer.outputs[0]
        xs, ys = ctx.shape(x), ctx.shape(y)
        w = k["weights"]
        m, cin = w.shape[0], xs[-1]
        g = sw.geometry(c, xs)
        if c["group"] == 1 and ctx.px > 1:
            return self._lower_pixels(layer, ctx, g)
        depthwise_conv = c["group"] == cin == m and w.shape[1] == 1
        if ctx.px != 1 and not depthwise_conv:
            raise FoldingProblem(f"PX={ctx.px}: only a dense (group 1) or depthwise convolution takes several "
                                 f"pixels per word")
        if c["group"] == 1:
            simds = pw.positions_options(cin, g["KH"] * g["KW"])
            if ctx.simd not in simds:
                raise FoldingProblem(f"SIMD={ctx.simd} is neither a divisor of the input channels ({cin}) nor "
                                     f"{cin} times a divisor of the {g['KH']}x{g['KW']} kernel positions; use one "
                                     f"of {simds}")
            ctx.require("PE", ctx.pe, m, "the output channels")
            stages = []
            if ctx.simd > cin:  # KP = SIMD/C kernel positions per word: the window reads whole pixels
                stages.append(pw.window_stage(layer.name, ctx.port(x, cin), f"{y}#window", g, c["zp_in"], ctx.simd))
                src = stages[-1].outputs[0]
            else:
                src = ctx.port(x, ctx.simd)
                if not sw.is_identity(g):
                    stages.append(sw.window_stage(layer.name, src, f"{y}#window", g, c["zp_in"], depthwise=False))
                    src = stages[-1].outputs[0]
            wm = np.moveaxis(w, 1, -1).reshape(m, -1)  # column (ky*KW + kx)*C + c: the window's order
            stages.append(mvau.mvau_stage(layer.name, src, ctx.port(y, ctx.pe), wm, k, c, vectors(ys), ctx.pe,
                                          ctx.simd, dsp_port_bits=ctx.dsp_port_bits, mul=ctx.mul))
            return stages
        if depthwise_conv:
            return self._lower_depthwise(layer, ctx, g)
        return self._lower_grouped(layer, ctx, g)

    @staticmethod
    def _lower_pixels(layer, ctx, geo):
        """group 1 at PX > 1 output pixels per word: the parallel window at PX (none for a 1x1
        stride-1 unpadded conv: the MVAU reads PX whole pixels of the stream) + the MMV MVAU, with
        PE dividing the output channels (it writes PX whole pixels whatever PE is), PX dividing the
        input and output widths, and SIMD = C·KP (KP dividing KH·KW: the window's words) or a divisor
        of C (slices of words of whole pixels: the window at KP = 1, or the input stream)."""
        c, k = layer.config, layer.consts
        x, y = layer.inputs[0], layer.outputs[0]
        w = k["weights"]
        m, cin, px = w.shape[0], ctx.shape(x)[-1], ctx.px
        taps = geo["KH"] * geo["KW"]
        simds = pw.positions_options(cin, taps)
        pxs = pw.pixel_options(geo["IW"], geo["OW"])
        if px not in pxs:
            raise FoldingProblem(f"PX={px} must divide the input and output widths ({geo['IW']}, {geo['OW']}) "
                                 f"and be at most {pw.MAX_PX}: one of {pxs}")
        if ctx.simd not in simds:
            raise FoldingProblem(f"PX={px}: SIMD must be one of {simds} (a divisor of the {cin} channels, or the "
                                 f"channels times a divisor of the kernel positions), got SIMD={ctx.simd}")
        ctx.require("PE", ctx.pe, m, "the output channels")
        src = ctx.port(x, px * cin)
        stages = []
        if not sw.is_identity(geo):
            stages.append(pw.window_stage(layer.name, src, f"{y}#window", geo, c["zp_in"], max(ctx.simd, cin), px))
            src = stages[-1].outputs[0]
        wm = np.moveaxis(w, 1, -1).reshape(m, -1)  # column (ky*KW + kx)*C + c: the window's order
        stages.append(mvau_mmv.mmv_stage(layer.name, src, ctx.port(y, px * m), wm, k, c, vectors(ctx.shape(y)),
                                         ctx.pe, ctx.simd, px, dsp_port_bits=ctx.dsp_port_bits, mul=ctx.mul))
        return stages

    @staticmethod
    def _lower_depthwise(layer, ctx, geo):
        """group = C = M: PE channels with SIMD 1 or PE (sliding window, depthwise order), or SIMD =
        C·KP with PE = C for KP > 1 dividing KH·KW (parallel window, KP kernel positions per word);
        at PX > 1 pixels per word (PX dividing the input and output widths) PE = C and SIMD = C·KP,
        KP = 1 included, through the parallel window at PX."""
        c, k = layer.config, layer.consts
        x, y = layer.inputs[0], layer.outputs[0]
        w = k["weights"]
        cin, pe, px, taps = w.shape[0], ctx.pe, ctx.px, geo["KH"] * geo["KW"]
        ctx.require("PE", pe, cin, "the channels")
        if px > 1:
            pxs = pw.pixel_options(geo["IW"], geo["OW"])
            simds = [cin * kp for kp in range(1, taps + 1) if taps % kp == 0]
            if px not in pxs:
                raise FoldingProblem(f"PX={px} must divide the input and output widths ({geo['IW']}, "
                                     f"{geo['OW']}) and be at most {pw.MAX_PX}: one of {pxs}")
            if pe != cin or ctx.simd not in [1, *simds]:
                raise FoldingProblem(f"PX={px} computes every channel on whole pixels: PE must be {cin} and SIMD "
                                     f"one of {simds} (the channels times a divisor of the kernel positions), "
                                     f"got PE={pe}, SIMD={ctx.simd}")
            simd = max(ctx.simd, cin)
            win = pw.window_stage(layer.name, ctx.port(x, px * cin), f"{y}#window", geo, c["zp_in"], simd, px)
            return [win, depthwise.depthwise_stage(layer.name, win.outputs[0], ctx.port(y, px * cin), w, k, c,
                                                   vectors(ctx.shape(y)), cin, simd // cin, px, ctx.dsp_port_bits)]
        simds = [1, pe] + ([cin * kp for kp in range(2, taps + 1) if taps % kp == 0] if pe == cin else [])
        if ctx.simd not in simds:
            raise FoldingProblem(f"a depthwise conv folds channels, and with PE = C ({cin}) also kernel positions: "
                                 f"SIMD must be one of {sorted(set(simds))} (1, PE, or C times a divisor of the "
                                 f"{geo['KH']}x{geo['KW']} kernel positions), got {ctx.simd}")
        kp = ctx.simd // cin if ctx.simd > pe else 1
        if kp > 1:
            win = pw.window_stage(layer.name, ctx.port(x, cin), f"{y}#window", geo, c["zp_in"], ctx.simd)
        else:
            win = sw.window_stage(layer.name, ctx.port(x, pe), f"{y}#window", geo, c["zp_in"], depthwise=True)
        return [win, depthwise.depthwise_stage(layer.name, win.outputs[0], ctx.port(y, pe), w, k, c,
                                               vectors(ctx.shape(y)), pe, kp, dsp_port_bits=ctx.dsp_port_bits)]

    @staticmethod
    def _lower_grouped(layer, ctx, geo):
        """1 < group, not depthwise: window (MVAU order) + grouped MVAU; PE output channels and SIMD
        input channels within one group, so every fold reads one group's words."""
        c, k = layer.config, layer.consts
        x, y = layer.inputs[0], layer.outputs[0]
        w = k["weights"]
        m, cg, groups = w.shape[0], w.shape[1], c["group"]
        cin = ctx.shape(x)[-1]
        ctx.require("SIMD", ctx.simd, cg, "the input channels of one group")
        ctx.require("PE", ctx.pe, m // groups, "the output channels of one group")
        src = ctx.port(x, ctx.simd)
        stages = []
        if not sw.is_identity(geo):
            stages.append(sw.window_stage(layer.name, src, f"{y}#window", geo, c["zp_in"], depthwise=False))
            src = stages[-1].outputs[0]
        wm = np.moveaxis(w, 1, -1).reshape(m, -1)  # column (ky*KW + kx)*C/G + c: the window's order within a group
        stages.append(grouped_mvau.grouped_mvau_stage(layer.name, src, ctx.port(y, ctx.pe), wm, k, c,
                                                      vectors(ctx.shape(y)), cin, groups, ctx.pe, ctx.simd,
                                                      dsp_port_bits=ctx.dsp_port_bits, mul=ctx.mul))
        return stages

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
