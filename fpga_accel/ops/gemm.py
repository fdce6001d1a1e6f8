import numpy as np

from ..emulator.fastint import layer_dot_dtype, requantize_dot, weight_dot_bits
from ..pe.mvau import mvau_stage
from ..pe.stage import vectors
from ..quant import arith
from ..quant.given import weight_for
from ..quant.qmodel import QLayer
from .base import Example, Op, register
from .family.attrs import FUSED_CLIP, apply_clip


def dense_layer(op_type, node, ctx, w_ok: np.ndarray, bias: np.ndarray) -> QLayer:
    """Integer fully connected layer from float weights (out, in) and bias (out,): shared by
    Gemm and MatMul, which differ only in how they store W."""
    x, y = node.inputs[0], node.outputs[0]
    p_in, p_out = ctx.act(x), ctx.act(y)
    # the model's own integers, if it gives them
    w_q, wp = weight_for(ctx, node, node.inputs[1], w_ok, axis=0, bias=bias, in_scale=p_in.scale)
    b = arith.fold_zero_point(arith.quantize_bias(bias, p_in.scale, wp, name=node.name), w_q, p_in.zero_point)
    M, shift = arith.requant_multipliers(p_in.scale * wp.scales / p_out.scale, name=node.name)
    lo, hi = arith.clamp_bounds(p_out.qtype, p_out.zero_point, p_out.scale, node.attrs.get("clip"))
    k = w_ok.shape[1]
    dot_bits = arith.accumulator_bits(p_in.qtype, wp.qtype, k, bias_bits=None)
    config = {"in_features": k, "out_features": w_ok.shape[0], "zp_in": p_in.zero_point, "zp_out": p_out.zero_point,
              "lo": lo, "hi": hi, "dot_bits": dot_bits,
              "acc_bits": arith.accumulator_bits(p_in.qtype, wp.qtype, k,
                                                 bias_bits=arith.signed_bits(min(b.min(), 0), max(b.max(), 0))),
              "weight_qtype": wp.qtype.name,
              # the emulator's bound on every partial sum from these weights (often below dot_bits)
              "emu_dot_bits": min(dot_bits, weight_dot_bits(w_q, p_in.qtype.min, p_in.qtype.max))}
    return QLayer(node.name, op_type, [x], [y], config, {"weights": w_q, "bias": b, "M": M, "shift": shift})


def lower_dense(layer, ctx) -> list:
    """One MVAU: SIMD input features and PE output features per cycle, a vector per row."""
    x, y = layer.inputs[0], layer.outputs[0]
    w = layer.consts["weights"]
    ctx.require("SIMD", ctx.simd, w.shape[1], "the input features")
    ctx.require("PE", ctx.pe, w.shape[0], "the output features")
    return [mvau_stage(layer.name, ctx.port(x, ctx.simd), ctx.port(y, ctx.pe), w, layer.consts, layer.config,
                       vectors(ctx.shape(x)), ctx.pe, ctx.simd, dense=True, dsp_port_bits=ctx.dsp_port_bits,
                       mul=ctx.mul)]


def dense_dot(layer, x: np.ndarray) -> np.ndarray:
    """x · Wᵀ without the bias, in a dtype where every partial sum is exact (fastint.layer_dot_dtype)."""
    dt = layer_dot_dtype(layer.config)
    return x.astype(dt) @ layer.consts["weights"].T.astype(dt)


def run_dense(layer, x: np.ndarray) -> np.ndarray:
    """x · Wᵀ plus the folded bias, requantised per output channel."""
    return requantize_dot(layer, dense_dot(layer, x))


class DenseRun:
    """The run paths shared by Gemm and MatMul: run_int = requantize(run_acc), split so that the
    emulator can select among the sums (a max pool) before requantising."""

    def run_dot(self, layer, inputs):
        """x · Wᵀ (exact integers in float32/float64/int64), without the bias."""
        return dense_dot(layer, inputs[0])

    def run_acc(self, layer, inputs):
        """The exact accumulator before requantising: x · Wᵀ plus the folded bias, int64."""
        return dense_dot(layer, inputs[0]).astype(np.int64) + layer.consts["bias"]

    def requantize_dot(self, layer, dot):
        """The layer's outputs from (any elementwise selection of) :meth:`run_dot`'s sums."""
        return requantize_dot(layer, dot)

    def run_int(self, layer, inputs):
        return run_dense(layer, inputs[0])


@register
class Gemm(DenseRun, Op):
    op_type = "Gemm"
    notes = "Y = alpha·A'·B' + beta·C with transA/transB; B constant"
    attrs = {"alpha": 1.0, "beta": 1.0, "transA": 0, "transB": 0, **FUSED_CLIP}

    def check(self, node, graph):
        problems = super().check(node, graph)
        if not graph.is_const(node.inputs[1]):
            problems.append("B (weights) is not a constant")
        if node.attrs["transA"]:
            problems.append("transA=1 is not supported (the batch must stay on axis 0)")
        if node.input(2) and not graph.is_const(node.input(2)):
            problems.append("C (bias) is not a constant")
        return problems

    def infer(self, node, graph):
        a, b = graph.info(node.inputs[0]), graph.shape(node.inputs[1])
        a_shape = a.shape[::-1] if node.attrs["transA"] else a.shape
        b_shape = b[::-1] if node.attrs["transB"] else b
        if len(a_shape) != 2 or len(b_shape) != 2 or a_shape[1] != b_shape[0]:
            raise self.fail(node, f"cannot multiply {a.shape} by {b} (transA={node.attrs['transA']}, "
                                  f"transB={node.attrs['transB']})")
        return [((a_shape[0], b_shape[1]), a.dtype)]

    def run(self, node, inputs):
        a, b = inputs[0], inputs[1]
        c = inputs[2] if len(inputs) > 2 else None
        at = node.attrs
        a = a.T if at["transA"] else a
        b = b.T if at["transB"] else b
        y = at["alpha"] * (a @ b)
        if c is not None:
            y = y + at["beta"] * c
        return [apply_clip(node, y).astype(inputs[0].dtype, copy=False)]

    def quantize(self, node, ctx):
        at = node.attrs
        w = ctx.const(node.inputs[1]).astype(np.float64)
        w = (w if at["transB"] else w.T) * at["alpha"]
        c = ctx.const(node.input(2)) if node.input(2) else None
        bias = np.broadcast_to(at["beta"] * c.astype(np.float64), (1, w.shape[0]))[0] if c is not None \
            else np.zeros(w.shape[0])
        return dense_layer(self.op_type, node, ctx, w, bias)

    lowering = "mvau"

    def lower(self, layer, ctx):
        return lower_dense(layer, ctx)

    def macs(self, node, graph):
        a = graph.shape(node.inputs[0])
        y = graph.shape(node.outputs[0])
        k = a[0] if node.attrs["transA"] else a[1]
        return int(y[1] * k)

    def examples(self):
        r = np.random.default_rng(2)
        f = lambda *s: r.standard_normal(s).astype(np.float32)
        return [
            Example({"transB": 1}, [f(3, 5), f(4, 5), f(4)], const=(1, 2), name="transB_bias"),
            Example({}, [f(2, 6), f(6, 3)], const=(1,), name="plain"),
            Example({"alpha": 0.5, "beta": 2.0}, [f(2, 4), f(4, 3), f(1, 3)], const=(1, 2), name="alpha_beta"),
        ]
