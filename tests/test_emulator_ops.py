"""Integer ops of the emulator, one small graph at a time.

Each case builds an ONNX graph with onnx.helper, imports it, runs the ``hardware`` flow, calibrates
on random data, quantises (activation and weight bit widths from 2 to 16) and emulates. Two checks:

(a) exact: the layer's output integers equal a reference written here from the contract
    (docs/integer-contract.md) with plain loops and Python integers: direct convolution and pooling
    with the zero point (or qmin) at padded positions, window divisors counted tap by tap, the
    requantisation ``clamp(zp + ((acc·M + 2^(shift−1)) >> shift))`` spelled out, and constants
    derived from the tensors' scales with the contract's primitives (requant_multiplier,
    clamp_bounds, weight_params) — never with the op's integer code;
(b) approximation: the dequantised output is within a bound derived from the scales of the float
    op run on the same real input (the dequantised input integers), clipped to the output's range:
    half an output step for rounding, the multiplier's relative error 2^-17, and for layers with
    weights the weight and bias rounding (Σ|x|·s_w/2 + s_in·s_w/2).
"""
import itertools
import json
import math

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from fpga_accel.emulator import emulate
from fpga_accel.errors import ModelError, UnsupportedModelError
from fpga_accel.frontend import import_onnx
from fpga_accel.ops import get_op
from fpga_accel.emulator.fastint import requantize_acc
from fpga_accel.passes import run_flow
from fpga_accel.quant import (
    MAX_SHIFT,
    MULT_BITS,
    clamp_bounds,
    dequantize,
    quantize,
    requant_multiplier,
    requantize,
    weight_params,
)
from fpga_accel.quant.calibrate import observe_ranges
from fpga_accel.quant.config import QuantConfig
from fpga_accel.quant.qmodel import QModel
from fpga_accel.quant.quantizer import quantize_model, split_edges, tensors_to_observe

ACT_BITS = [2, 3, 4, 6, 8, 12, 16]
W_BITS = [2, 3, 4, 8, 12, 16]
RELU = (0.0, math.inf)


# --- building, quantising and running one small graph ---------------------------------------------
def make_model(nodes, inputs, inits=None, opset=13):
    """A model of ``nodes`` with float graph inputs {name: shape without the batch} and initializers;
    the output is the last node's first output."""
    ins = [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["N", *s]) for n, s in inputs.items()]
    out = nodes[-1].output[0]
    inits = [numpy_helper.from_array(np.asarray(a), n) for n, a in (inits or {}).items()]
    graph = helper.make_graph(nodes, "case", ins, [helper.make_tensor_value_info(out, TensorProto.FLOAT, None)], inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return onnx.shape_inference.infer_shapes(m)


class Case:
    """A model quantised on random calibration data and emulated on random test data (keep=True)."""

    def __init__(self, model, act_bits=8, weight_bits=8, seed=0, n_test=3, spread=None):
        r = np.random.default_rng(seed)
        self.g = import_onnx(model)
        run_flow(self.g, "hardware")
        cfg = QuantConfig(bits=8, act_bits=act_bits, weight_bits=weight_bits)
        _, hw, _ = split_edges(self.g)
        # each input gets its own offset and spread, so zero points and scales differ
        spread = spread or {t.name: (r.uniform(-1, 1), r.uniform(0.5, 2.0)) for t in self.g.inputs}
        def data(n):
            return {t.name: (spread[t.name][0] + spread[t.name][1] * r.standard_normal((n, *t.shape[1:])))
                    .astype(np.float32) for t in self.g.inputs}

        ranges = observe_ranges(self.g, data(48), tensors_to_observe(self.g, hw, cfg))
        self.qm = quantize_model(self.g, ranges, cfg)
        self.res = emulate(self.qm, data(n_test), keep=True)

    def layer(self, op_type):
        found = [lay for lay in self.qm.layers if lay.op_type == op_type]
        assert len(found) == 1, f"expected one {op_type} layer, got {[lay.op_type for lay in self.qm.layers]}"
        return found[0]

    def p(self, tensor):
        return self.qm.tensors[tensor].qparams

    def q(self, tensor) -> np.ndarray:
        return self.res.tensors[tensor].astype(np.int64)

    def node(self, layer):
        return next(n for n in self.g.nodes if n.name == layer.name)

    def float_out(self, layer) -> np.ndarray:
        """The float op on the dequantised input integers (constants as in the float graph)."""
        node = self.node(layer)
        args = [None if not i else self.g.const(i) if self.g.is_const(i)
                else dequantize(self.res.tensors[i], self.p(i), np.float64) for i in node.inputs]
        return np.asarray(get_op(node).run(node, args)[0], np.float64)

    def check_close(self, layer, y, extra=0.0, what=""):
        """(b): |dequantised output − y clipped to the output's range| <= half a step + multiplier
        error + ``extra`` (elementwise)."""
        t = layer.outputs[0]
        p = self.p(t)
        y = np.clip(y, p.scale * (p.qmin - p.zero_point), p.scale * (p.qmax - p.zero_point))
        got = dequantize(self.res.tensors[t], p, np.float64)
        assert got.shape == y.shape
        bound = 0.5 * p.scale + np.abs(y) * 2.0 ** -16 + extra + 1e-9 * (1 + np.abs(y))
        err = np.abs(got - y)
        worst = np.unravel_index(np.argmax(err - bound), err.shape)
        assert np.all(err <= bound), (f"{what} {layer.op_type}: error {err[worst]:.4g} > bound {np.broadcast_to(bound, err.shape)[worst]:.4g} "
                                      f"at {worst} (output step {p.scale:.4g})")


def requant(acc, M, shift, zp, lo, hi) -> np.ndarray:
    """clamp(zp + ((acc·M + 2^(shift−1)) >> shift), lo, hi) elementwise with Python integers
    (M and shift broadcast against acc)."""
    acc, M, shift = np.broadcast_arrays(np.asarray(acc, object), np.asarray(M, object), np.asarray(shift, object))
    out = [min(max(zp + ((int(a) * int(m) + (1 << (int(s) - 1))) >> int(s)), lo), hi)
           for a, m, s in zip(acc.flat, M.flat, shift.flat)]
    return np.array(out, np.int64).reshape(acc.shape)


def multipliers(ms):
    """requant_multiplier of each value of ``ms``: (M, shift) arrays of its shape."""
    ms = np.asarray(ms, np.float64)
    pairs = [requant_multiplier(float(m)) for m in ms.flat]
    return (np.array([p[0] for p in pairs], object).reshape(ms.shape),
            np.array([p[1] for p in pairs], object).reshape(ms.shape))


def same_padding(size, k, s, d, upper=True):
    """ONNX auto_pad SAME_UPPER / SAME_LOWER: (begin, end) pads of one axis."""
    total = max(0, (math.ceil(size / s) - 1) * s + (k - 1) * d + 1 - size)
    small = total // 2
    return (small, total - small) if upper else (total - small, small)


def conv_loops(x, w, strides, pads_begin, dil, group, out_sp) -> np.ndarray:
    """Σ over each window of x[n, pos, c]·w[m, c, tap] for channels-last ``x`` (any dtype); taps
    outside ``x`` read 0 (the centred value of padding). Returns (N, *out_sp, M)."""
    n_sp = x.ndim - 2
    M, cg = w.shape[:2]
    mg = M // group
    out = np.zeros((x.shape[0], *out_sp, M), x.dtype)
    for o in itertools.product(*map(range, out_sp)):
        for k in itertools.product(*map(range, w.shape[2:])):
            pos = [o[d] * strides[d] - pads_begin[d] + k[d] * dil[d] for d in range(n_sp)]
            if not all(0 <= p < x.shape[1 + d] for d, p in enumerate(pos)):
                continue
            v = x[(slice(None), *pos)]
            for m in range(M):
                gi = m // mg
                out[(slice(None), *o, m)] += v[:, gi * cg:(gi + 1) * cg] @ w[(m, slice(None), *k)]
    return out


def window_loops(x, kernel, strides, pads_begin, dil, out_sp):
    """For every output position: the values of the taps inside ``x`` (N, *sp, C) and their count."""
    n_sp = len(kernel)
    for o in itertools.product(*map(range, out_sp)):
        vals = []
        for k in itertools.product(*map(range, kernel)):
            pos = [o[d] * strides[d] - pads_begin[d] + k[d] * dil[d] for d in range(n_sp)]
            if all(0 <= p < x.shape[1 + d] for d, p in enumerate(pos)):
                vals.append(x[(slice(None), *pos)])
        yield o, vals


def pick(r, options):
    return options[int(r.integers(len(options)))]


# --- Conv ------------------------------------------------------------------------------------
def conv_case(seed):
    """Random geometry and bit widths; seeds from 40 on are 16-bit × 16-bit (wide accumulators)."""
    r = np.random.default_rng(seed)
    n_sp = int(r.integers(1, 3))
    kind = pick(r, ["dense", "dense", "depthwise", "grouped"])
    group = 1
    if kind == "dense":
        C, M = int(r.integers(1, 5)), int(r.integers(1, 6))
    elif kind == "depthwise":
        group = C = int(r.integers(2, 5))
        M = C * int(r.integers(1, 3))
    else:
        group = int(r.integers(2, 4))
        C, M = group * int(r.integers(1, 3)), group * int(r.integers(1, 3))
    kernel = [int(v) for v in r.integers(1, 4, n_sp)]
    strides = [int(v) for v in r.integers(1, 3, n_sp)]
    dil = [int(v) for v in r.integers(1, 3, n_sp)]
    size = [int((k - 1) * d + 1 + r.integers(0, 5)) for k, d in zip(kernel, dil)]
    attrs = {"kernel_shape": kernel, "strides": strides, "dilations": dil, "group": group}
    if r.random() < 0.25:
        attrs["auto_pad"] = pick(r, ["SAME_UPPER", "SAME_LOWER"])
        pb = [same_padding(s, k, st, d, attrs["auto_pad"] == "SAME_UPPER")[0]
              for s, k, st, d in zip(size, kernel, strides, dil)]
    else:
        attrs["pads"] = [int(v) for v in r.integers(0, 3, 2 * n_sp)]
        pb = attrs["pads"][:n_sp]
    relu = r.random() < 0.5
    W = (r.standard_normal((M, C // group, *kernel)) * r.uniform(0.05, 1.0, (M,) + (1,) * (n_sp + 1))).astype(np.float32)
    B = (0.1 * r.standard_normal(M)).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "W", "B"], ["y"], **attrs)]
    if relu:
        nodes.append(helper.make_node("Relu", ["y"], ["z"]))
    model = make_model(nodes, {"x": [C, *size]}, {"W": W, "B": B})
    bits = (16, 16) if seed >= 40 else (pick(r, ACT_BITS), pick(r, W_BITS))
    return model, {"W": W, "B": B, "strides": strides, "dil": dil, "pb": pb, "group": group, "relu": relu,
                   "act_bits": bits[0], "weight_bits": bits[1]}


@pytest.mark.parametrize("seed", range(46))
def test_conv(seed):
    model, k = conv_case(seed)
    c = Case(model, k["act_bits"], k["weight_bits"], seed)
    lay = c.layer("Conv")
    x, y = lay.inputs[0], lay.outputs[0]
    p_in, p_out = c.p(x), c.p(y)
    W, B = k["W"].astype(np.float64), k["B"].astype(np.float64)
    wp = weight_params(W, axis=0, qtype=f"int{k['weight_bits']}")
    qw = quantize(W, wp).astype(np.int64)
    np.testing.assert_array_equal(lay.consts["weights"], qw)
    out_sp = c.qm.tensors[y].shape[1:-1]
    # (a) centred accumulator with integer bias, requantised per channel
    acc = conv_loops(c.q(x) - p_in.zero_point, qw, k["strides"], k["pb"], k["dil"], k["group"], out_sp)
    bias_q = np.rint(B / (p_in.scale * wp.scales)).astype(np.int64)
    M, shift = multipliers(p_in.scale * wp.scales / p_out.scale)
    lo, hi = clamp_bounds(p_out.qtype, p_out.zero_point, p_out.scale, RELU if k["relu"] else None)
    np.testing.assert_array_equal(c.q(y), requant(acc + bias_q, M, shift, p_out.zero_point, lo, hi))
    # (b) weight rounding costs Σ|x|·s_w/2 per output, the bias s_in·s_w/2
    ones = np.ones((W.shape[0], *W.shape[1:]))
    abs_sum = conv_loops(np.abs(dequantize(c.q(x), p_in, np.float64)), ones, k["strides"], k["pb"], k["dil"],
                         k["group"], out_sp)
    c.check_close(lay, c.float_out(lay), abs_sum * wp.scales / 2 + p_in.scale * wp.scales / 2)
    # wider arithmetic than needed (float64, int64 dot products; int64 requantisation) gives the same integers
    op = get_op(c.node(lay))
    for dot_bits, acc_bits in ((40, lay.config["acc_bits"]), (60, lay.config["acc_bits"]), (60, 60)):
        wide = type(lay)(**{**vars(lay), "config": {**lay.config, "dot_bits": dot_bits, "emu_dot_bits": dot_bits,
                                                   "acc_bits": acc_bits}})
        np.testing.assert_array_equal(op.run_int(wide, [c.res.tensors[x]]), c.res.tensors[y])


# --- Gemm / MatMul ---------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(16))
def test_gemm(seed):
    r = np.random.default_rng(100 + seed)
    K, N = int(r.integers(1, 40)), int(r.integers(1, 12))
    trans_b, alpha, beta = int(r.integers(2)), float(r.choice([1.0, 0.5])), float(r.choice([1.0, 2.0]))
    Bm = (r.standard_normal((N, K) if trans_b else (K, N)) * 0.3).astype(np.float32)
    Cb = (0.2 * r.standard_normal(N)).astype(np.float32)
    relu = r.random() < 0.5
    nodes = [helper.make_node("Gemm", ["x", "B", "C"], ["y"], transB=trans_b, alpha=alpha, beta=beta)]
    if relu:
        nodes.append(helper.make_node("Relu", ["y"], ["z"]))
    ab, wb = pick(r, ACT_BITS), pick(r, W_BITS)
    c = Case(make_model(nodes, {"x": [K]}, {"B": Bm, "C": Cb}), ab, wb, seed)
    lay = c.layer("Gemm")
    W = alpha * (Bm.astype(np.float64) if trans_b else Bm.astype(np.float64).T)  # (N, K)
    _check_dense(c, lay, W, beta * Cb.astype(np.float64), wb, relu)


@pytest.mark.parametrize("seed", range(10))
def test_matmul(seed):
    r = np.random.default_rng(200 + seed)
    K, N = int(r.integers(1, 30)), int(r.integers(1, 10))
    lead = [int(r.integers(1, 4))] if r.random() < 0.5 else []  # (N, T, K) @ (K, N) too
    Wkn = (0.3 * r.standard_normal((K, N))).astype(np.float32)
    ab, wb = pick(r, ACT_BITS), pick(r, W_BITS)
    nodes = [helper.make_node("Sigmoid", ["x"], ["s"]), helper.make_node("MatMul", ["s", "W"], ["y"])]
    c = Case(make_model(nodes, {"x": [*lead, K]}, {"W": Wkn}), ab, wb, seed)
    _check_dense(c, c.layer("MatMul"), Wkn.astype(np.float64).T, np.zeros(N), wb, False)


def _check_dense(c, lay, W, bias, wb, relu):
    x, y = lay.inputs[0], lay.outputs[0]
    p_in, p_out = c.p(x), c.p(y)
    wp = weight_params(W, axis=0, qtype=f"int{wb}")
    qw = quantize(W, wp).astype(np.int64)
    np.testing.assert_array_equal(lay.consts["weights"], qw)
    acc = (c.q(x) - p_in.zero_point) @ qw.T + np.rint(bias / (p_in.scale * wp.scales)).astype(np.int64)
    M, shift = multipliers(p_in.scale * wp.scales / p_out.scale)
    lo, hi = clamp_bounds(p_out.qtype, p_out.zero_point, p_out.scale, RELU if relu else None)
    np.testing.assert_array_equal(c.q(y), requant(acc, M, shift, p_out.zero_point, lo, hi))
    abs_x = np.abs(dequantize(c.q(x), p_in, np.float64))
    c.check_close(lay, c.float_out(lay), abs_x.sum(-1, keepdims=True) * wp.scales / 2 + p_in.scale * wp.scales / 2)


# --- pooling -----------------------------------------------------------------------------------
def pool_case(r, op_type):
    n_sp = int(r.integers(1, 3))
    kernel = [int(v) for v in r.integers(1, 4, n_sp)]
    strides = [int(v) for v in r.integers(1, 4, n_sp)]
    dil = [int(v) for v in r.integers(1, 3, n_sp)] if r.random() < 0.4 else [1] * n_sp
    size = [int((k - 1) * d + 1 + r.integers(0, 6)) for k, d in zip(kernel, dil)]
    attrs = {"kernel_shape": kernel, "strides": strides, "ceil_mode": int(r.integers(2))}
    if dil != [1] * n_sp:
        attrs["dilations"] = dil
    if r.random() < 0.25:
        attrs["auto_pad"] = pick(r, ["SAME_UPPER", "SAME_LOWER", "VALID"])
        if attrs["auto_pad"] == "VALID":
            pads = [0] * 2 * n_sp
        else:
            se = [same_padding(s, k, st, d, attrs["auto_pad"] == "SAME_UPPER")
                  for s, k, st, d in zip(size, kernel, strides, dil)]
            pads = [b for b, _ in se] + [e for _, e in se]
    else:
        pads = [int(min(v, k - 1)) for v, k in zip(r.integers(0, 3, 2 * n_sp), kernel * 2)]  # pads < kernel
        attrs["pads"] = pads
    if op_type == "AveragePool":
        attrs["count_include_pad"] = int(r.integers(2))
    return attrs, size, pads, dil, pick(r, ACT_BITS)


@pytest.mark.parametrize("seed", range(30))
def test_maxpool(seed):
    r = np.random.default_rng(300 + seed)
    attrs, size, pads, dil, ab = pool_case(r, "MaxPool")
    C = int(r.integers(1, 4))
    c = Case(make_model([helper.make_node("MaxPool", ["x"], ["y"], **attrs)], {"x": [C, *size]}), ab, 8, seed)
    lay = c.layer("MaxPool")
    x, y = lay.inputs[0], lay.outputs[0]
    assert c.p(x) == c.p(y)  # pass-through parameters
    qx = c.q(x)
    want = np.full(c.res.tensors[y].shape, c.p(x).qmin, np.int64)
    n = len(attrs["kernel_shape"])
    for o, vals in window_loops(qx, attrs["kernel_shape"], attrs["strides"], pads[:n], dil, want.shape[1:-1]):
        for v in vals:
            want[(slice(None), *o)] = np.maximum(want[(slice(None), *o)], v)
    np.testing.assert_array_equal(c.q(y), want)
    c.check_close(lay, c.float_out(lay))


@pytest.mark.parametrize("seed", range(30))
def test_averagepool(seed):
    r = np.random.default_rng(400 + seed)
    attrs, size, pads, dil, ab = pool_case(r, "AveragePool")
    relu = r.random() < 0.3
    C = int(r.integers(1, 4))
    nodes = [helper.make_node("AveragePool", ["x"], ["y"], **attrs)]
    if relu:
        nodes.append(helper.make_node("Relu", ["y"], ["z"]))
    c = Case(make_model(nodes, {"x": [C, *size]}, opset=19 if "dilations" in attrs else 13), ab, 8, seed)
    lay = c.layer("AveragePool")
    x, y = lay.inputs[0], lay.outputs[0]
    p_in, p_out = c.p(x), c.p(y)
    qx = c.q(x) - p_in.zero_point
    n = len(attrs["kernel_shape"])
    out_sp = c.res.tensors[y].shape[1:-1]
    lo, hi = clamp_bounds(p_out.qtype, p_out.zero_point, p_out.scale, RELU if relu else None)
    want = np.zeros(c.res.tensors[y].shape, np.int64)
    for o, vals in window_loops(qx, attrs["kernel_shape"], attrs["strides"], pads[:n], dil, out_sp):
        if attrs["count_include_pad"]:  # taps on explicit padding count, those on ceil_mode's overhang do not
            d = sum(all(-pads[a] <= o[a] * attrs["strides"][a] - pads[a] + t[a] * dil[a] < size[a] + pads[n + a]
                        for a in range(n)) for t in itertools.product(*map(range, attrs["kernel_shape"])))
        else:
            d = len(vals)
        acc = sum(vals) if vals else np.zeros((qx.shape[0], qx.shape[-1]), np.int64)
        M, s = requant_multiplier(p_in.scale / (p_out.scale * max(d, 1)))
        want[(slice(None), *o)] = requant(acc, M, s, p_out.zero_point, lo, hi)
    np.testing.assert_array_equal(c.q(y), want)
    c.check_close(lay, c.float_out(lay))


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("op_type", ["GlobalAveragePool", "GlobalMaxPool"])
def test_global_pools(op_type, seed):
    r = np.random.default_rng(500 + seed)
    shape = [int(r.integers(1, 4)), *[int(v) for v in r.integers(1, 7, int(r.integers(1, 3)))]]
    c = Case(make_model([helper.make_node(op_type, ["x"], ["y"])], {"x": shape}), ACT_BITS[seed % len(ACT_BITS)], 8, seed)
    lay = c.layer(op_type)
    x, y = lay.inputs[0], lay.outputs[0]
    p_in, p_out = c.p(x), c.p(y)
    qx = c.q(x)
    axes = tuple(range(1, qx.ndim - 1))
    if op_type == "GlobalMaxPool":
        assert p_in == p_out
        want = qx.max(axis=axes, keepdims=True)
    else:
        d = int(np.prod(qx.shape[1:-1]))
        M, s = requant_multiplier(p_in.scale / (p_out.scale * d))
        want = requant((qx - p_in.zero_point).sum(axis=axes, keepdims=True), M, s, p_out.zero_point, p_out.qmin, p_out.qmax)
    np.testing.assert_array_equal(c.q(y), want)
    c.check_close(lay, c.float_out(lay))


# --- Add, Sub, Sum, Mul, Div -------------------------------------------------------------------------
def sum_reference(c, lay, signs, const=None, clip=None):
    """Σ_i sign_i·(q_i − zp_i)·M_i + B, requantised with the shift of the largest scale ratio."""
    ps = [c.p(i) for i in lay.inputs]
    p_out = c.p(lay.outputs[0])
    ratios = [p.scale / p_out.scale for p in ps]
    shift = requant_multiplier(max(ratios))[1]
    acc = sum(s * (c.q(i) - p.zero_point) * int(np.rint(rt * 2.0 ** shift))
              for s, i, p, rt in zip(signs, lay.inputs, ps, ratios))
    if const is not None:
        acc = acc + np.rint(np.asarray(const, np.float64) / p_out.scale * 2.0 ** shift).astype(np.int64)
    lo, hi = clamp_bounds(p_out.qtype, p_out.zero_point, p_out.scale, clip)
    return requant(acc, 1, shift, p_out.zero_point, lo, hi)


SHAPES = [[3, 4, 5], [6], [2, 3]]


@pytest.mark.parametrize("seed", range(12))
def test_add_sub_sum_of_tensors(seed):
    r = np.random.default_rng(600 + seed)
    shape = SHAPES[seed % len(SHAPES)]
    op_type = ["Add", "Sub", "Sum"][seed % 3]
    other = shape if r.random() < 0.7 else [1] * (len(shape) - 1) + shape[-1:]  # broadcasting tensor
    names = ["a", "b"] + (["c"] if op_type == "Sum" else [])
    relu = op_type == "Add" and r.random() < 0.5
    nodes = [helper.make_node(op_type, names, ["y"])]
    if relu:
        nodes.append(helper.make_node("Relu", ["y"], ["z"]))
    inputs = {"a": shape, "b": other, **({"c": shape} if op_type == "Sum" else {})}
    c = Case(make_model(nodes, inputs), pick(r, ACT_BITS), 8, seed)
    lay = c.layer(op_type)
    signs = [1, -1] if op_type == "Sub" else [1] * len(names)
    np.testing.assert_array_equal(c.q(lay.outputs[0]), sum_reference(c, lay, signs, clip=RELU if relu else None))
    xs = [dequantize(c.q(i), c.p(i), np.float64) for i in lay.inputs]
    c.check_close(lay, c.float_out(lay), 2.0 ** -15 * sum(np.abs(v) for v in xs))


def const_of(r, shape, kind):
    """A scalar, or per-channel constant along the last axis, or along axis 1 of a rank-3 tensor."""
    if kind == "scalar":
        return np.array(r.uniform(-2, 2), np.float32)
    if kind == "last":
        return r.uniform(-2, 2, shape[-1]).astype(np.float32)
    return r.uniform(-2, 2, (shape[0], 1, 1)).astype(np.float32)  # (C, 1, 1) against (N, C, H, W)


@pytest.mark.parametrize("seed", range(18))
def test_add_sub_constant(seed):
    r = np.random.default_rng(700 + seed)
    shape = [3, 4, 5]
    kind = ["scalar", "last", "axis1"][seed % 3]
    op_type, const_first = [("Add", False), ("Add", True), ("Sub", False), ("Sub", True)][seed % 4]
    t = const_of(r, shape, kind)
    ins = ["t", "x"] if const_first else ["x", "t"]
    c = Case(make_model([helper.make_node(op_type, ins, ["y"])], {"x": shape}, {"t": t}), pick(r, ACT_BITS), 8, seed)
    lay = c.layer(op_type)
    assert lay.inputs == ["x"]
    sign = -1 if op_type == "Sub" and const_first else 1
    const = (-1 if op_type == "Sub" and not const_first else 1) * t.astype(np.float64)
    np.testing.assert_array_equal(c.q("y"), sum_reference(c, lay, [sign], const))
    c.check_close(lay, c.float_out(lay), 2.0 ** -15 * (np.abs(dequantize(c.q("x"), c.p("x"), np.float64)) + abs(t).max()))


@pytest.mark.parametrize("seed", range(18))
def test_mul_div_constant(seed):
    """Per-channel multipliers keep their sign in the centred input: negative, zero and positive."""
    r = np.random.default_rng(800 + seed)
    shape = [3, 4, 5]
    kind = ["scalar", "last", "axis1"][seed % 3]
    op_type = "Div" if seed % 4 == 3 else "Mul"
    t = const_of(r, shape, kind)
    if op_type == "Div":
        t = np.where(np.abs(t) < 0.2, np.float32(0.5), t).astype(np.float32)
    elif t.size > 1:
        t.flat[0] = 0.0  # a zero channel: the output is the zero point
    c = Case(make_model([helper.make_node(op_type, ["x", "t"], ["y"])], {"x": shape}, {"t": t}),
             pick(r, ACT_BITS), 8, seed)
    lay = c.layer(op_type)
    p_in, p_out = c.p("x"), c.p("y")
    t64 = t.astype(np.float64).reshape((1,) * (4 - t.ndim) + t.shape)
    m = p_in.scale * (1.0 / t64 if op_type == "Div" else t64) / p_out.scale
    M, shift = np.zeros(m.shape, object), np.ones(m.shape, object)
    for i, v in np.ndenumerate(np.abs(m)):
        if v > 0 and MULT_BITS - math.frexp(v)[1] <= MAX_SHIFT:  # else negligible: the product rounds to 0
            M[i], shift[i] = requant_multiplier(float(v))
    acc = np.sign(m).astype(np.int64) * (c.q("x") - p_in.zero_point)
    np.testing.assert_array_equal(c.q("y"), requant(acc, M, shift, p_out.zero_point, p_out.qmin, p_out.qmax))
    c.check_close(lay, c.float_out(lay))


@pytest.mark.parametrize("seed", range(6))
def test_mul_of_tensors(seed):
    r = np.random.default_rng(900 + seed)
    shape = SHAPES[seed % len(SHAPES)]
    c = Case(make_model([helper.make_node("Mul", ["a", "b"], ["y"])], {"a": shape, "b": shape}), pick(r, ACT_BITS), 8, seed)
    lay = c.layer("Mul")
    pa, pb, p_out = c.p("a"), c.p("b"), c.p("y")
    M, s = requant_multiplier(pa.scale * pb.scale / p_out.scale)
    acc = (c.q("a") - pa.zero_point) * (c.q("b") - pb.zero_point)
    np.testing.assert_array_equal(c.q("y"), requant(acc, M, s, p_out.zero_point, p_out.qmin, p_out.qmax))
    c.check_close(lay, c.float_out(lay))


# --- Concat, Pad, data movement -------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(10))
def test_concat(seed):
    r = np.random.default_rng(1000 + seed)
    n = int(r.integers(2, 4))
    axis = int(r.choice([1, 2, -1]))  # of the (N, 2, 3, 4) tensors
    shapes = []
    for _ in range(n):
        s = [2, 3, 4]
        s[axis - 1 if axis > 0 else axis] = int(r.integers(1, 4))
        shapes.append(s)
    names = [f"x{i}" for i in range(n)]
    c = Case(make_model([helper.make_node("Concat", names, ["y"], axis=axis)], dict(zip(names, shapes))),
             pick(r, ACT_BITS), 8, seed)
    lay = c.layer("Concat")
    p_out = c.p("y")
    parts = []
    for i in names:
        p = c.p(i)
        M, s = requant_multiplier(p.scale / p_out.scale)
        parts.append(requant(c.q(i) - p.zero_point, M, s, p_out.zero_point, p_out.qmin, p_out.qmax))
    np.testing.assert_array_equal(c.q("y"), np.concatenate(parts, axis=axis))
    c.check_close(lay, c.float_out(lay))


def test_concat_of_equal_parameters_copies_the_integers():
    c = Case(make_model([helper.make_node("Concat", ["x", "x"], ["y"], axis=1)], {"x": [3, 4]}), 8, 8, 0)
    assert c.p("x") == c.p("y")
    np.testing.assert_array_equal(c.q("y"), np.concatenate([c.q("x")] * 2, axis=1))


@pytest.mark.parametrize("mode", ["constant", "edge", "reflect"])
@pytest.mark.parametrize("seed", range(4))
def test_pad(mode, seed):
    r = np.random.default_rng(1100 + seed)
    shape = [3, 5, 4]
    pads = [0, *[int(v) for v in r.integers(0, 3, 3)], 0, *[int(v) for v in r.integers(-1, 3, 3)]]
    c = Case(make_model([helper.make_node("Pad", ["x", "pads"], ["y"], mode=mode)], {"x": shape},
                        {"pads": np.array(pads, np.int64)}), pick(r, ACT_BITS), 8, seed)
    lay = c.layer("Pad")
    assert c.p("x") == c.p("y")
    qx = c.q("x")
    idx = []
    for a in range(qx.ndim):  # source index of every output position, or −1 for the constant
        b, e = pads[a], pads[a + qx.ndim]
        n = qx.shape[a]
        src = np.arange(n + b + e) - b
        if mode == "edge":
            src = np.clip(src, 0, n - 1)
        elif mode == "reflect":
            src = np.abs(src)
            src = np.where(src >= n, 2 * (n - 1) - src, src)
        idx.append(src)
    want = np.full([len(i) for i in idx], c.p("x").zero_point, np.int64)
    for pos in itertools.product(*map(range, want.shape)):
        src = tuple(i[p] for i, p in zip(idx, pos))
        if all(0 <= s < n for s, n in zip(src, qx.shape)):
            want[pos] = qx[src]
    np.testing.assert_array_equal(c.q("y"), want)
    c.check_close(lay, c.float_out(lay))


@pytest.mark.parametrize("op_type, attrs, extra, shape, move", [
    ("Transpose", {"perm": [0, 2, 3, 1]}, None, [2, 3, 4], lambda q: q.transpose(0, 2, 3, 1)),
    ("Transpose", {"perm": [0, 1, 3, 2]}, None, [2, 3, 4], lambda q: q.transpose(0, 1, 3, 2)),
    ("Squeeze", {}, np.array([2], np.int64), [3, 1, 4], lambda q: q[:, :, 0]),
    ("Unsqueeze", {}, np.array([1, -1], np.int64), [3, 4], lambda q: q[:, None, :, :, None]),
])
def test_data_movement(op_type, attrs, extra, shape, move):
    """Between two lookup tables, so it stays inside the accelerated part."""
    ins = ["s"] + (["axes"] if extra is not None else [])
    nodes = [helper.make_node("Sigmoid", ["x"], ["s"]), helper.make_node(op_type, ins, ["m"], **attrs),
             helper.make_node("Tanh", ["m"], ["y"])]
    c = Case(make_model(nodes, {"x": shape}, {"axes": extra} if extra is not None else None), 8, 8, 0)
    lay = c.layer(op_type)
    assert c.p(lay.inputs[0]) == c.p(lay.outputs[0])
    np.testing.assert_array_equal(c.q(lay.outputs[0]), move(c.q(lay.inputs[0])))


# --- lookup tables ---------------------------------------------------------------------------------
def _selu(x):
    a, g = np.float32(1.67326319217681884765625), np.float32(1.05070102214813232421875)
    return g * np.where(x > 0, x, a * (np.exp(x) - 1))


UNARY = {  # op, attrs, constants, an independent float64 reference
    "Relu": ({}, {}, lambda x: np.maximum(x, 0)),
    "Clip": ({}, {"lo": np.float32(-0.5), "hi": np.float32(1.25)}, lambda x: np.minimum(np.maximum(x, -0.5), 1.25)),
    "LeakyRelu": ({"alpha": 0.1}, {}, lambda x: np.where(x >= 0, x, 0.1 * x)),
    "Sigmoid": ({}, {}, lambda x: 1 / (1 + np.exp(-x))),
    "Tanh": ({}, {}, np.tanh),
    "HardSigmoid": ({"alpha": 0.25, "beta": 0.4}, {}, lambda x: np.clip(0.25 * x + 0.4, 0, 1)),
    "HardSwish": ({}, {}, lambda x: x * np.clip(x / 6 + 0.5, 0, 1)),
    "Elu": ({"alpha": 0.7}, {}, lambda x: np.where(x >= 0, x, 0.7 * (np.exp(x) - 1))),
    "Selu": ({}, {}, _selu),
    "Softplus": ({}, {}, lambda x: np.log1p(np.exp(x))),
    "Exp": ({}, {}, np.exp),
    "Abs": ({}, {}, np.abs),
    "Neg": ({}, {}, np.negative),
}


@pytest.mark.parametrize("bits", [2, 3, 4, 8, 12, 16])
@pytest.mark.parametrize("op_type", sorted(UNARY))
def test_lookup_table_ops(op_type, bits):
    attrs, consts, ref = UNARY[op_type]
    ins = ["x", *consts]
    c = Case(make_model([helper.make_node(op_type, ins, ["y"], **attrs)], {"x": [4, 5]}, consts), bits, 8,
             bits, n_test=8)
    lay = c.layer(op_type)
    p_in, p_out = c.p("x"), c.p("y")
    # (a) entry by entry: the op's float reference at the dequantised integer, quantised (contract §7)
    node = c.node(lay)
    levels = np.arange(p_in.qmin, p_in.qmax + 1)
    real = dequantize(levels, p_in, np.float64)
    table = quantize(get_op(node).run(node, [real, *[c.g.const(i) for i in node.inputs[1:]]])[0], p_out)
    np.testing.assert_array_equal(lay.consts["lut"], table)
    qx = c.q("x")
    want = np.array([table[int(v) - p_in.qmin] for v in qx.flat], np.int64).reshape(qx.shape)
    np.testing.assert_array_equal(c.q("y"), want)
    # (b) against a formula written here, not the op's
    c.check_close(lay, ref(dequantize(qx, p_in, np.float64)), 1e-6 * p_out.scale)


# --- the emulator's fast integer paths against the int64 definitions ----------------------------------
@pytest.mark.parametrize("seed", range(6))
def test_requantize_acc_equals_requantize(seed):
    r = np.random.default_rng(seed)
    C = int(r.integers(1, 20))
    M = r.integers(1 << 16, 1 << 17, C)
    shift = r.integers(1, 53, C)
    bias = r.integers(-(1 << 20), 1 << 20, C)
    acc_bits = int(r.integers(8, 37))
    acc = r.integers(-(1 << (acc_bits - 2)), 1 << (acc_bits - 2), (int(r.integers(1, 500)), C))
    acc[0] = (1 << (acc_bits - 2)) - 1  # extremes
    acc[-1] = -(1 << (acc_bits - 2))
    zp, lo, hi = int(r.integers(-10, 10)), int(r.integers(-200, -50)), int(r.integers(50, 300))
    want = requantize(acc + bias, M, shift, zp, lo, hi)
    for dt in (np.float64, np.int64):
        got = requantize_acc(acc.astype(dt), bias, M, shift, zp, lo, hi, acc_bits)
        np.testing.assert_array_equal(got, want)
    # halfway cases, where round-half-up matters: acc·M = (2k + 1)·2^(shift−1)
    M1, s1 = np.array([1 << 16]), np.array([17])
    ties = np.arange(-41, 42, 2)[:, None]
    np.testing.assert_array_equal(requantize_acc(ties.astype(np.float32), 0, M1, s1, 0, -100, 100, 10),
                                  requantize(ties, M1, s1, 0, -100, 100))
    assert requantize_acc(np.array([[-1.0], [1.0]]), 0, M1, s1, 0, -9, 9, 4).ravel().tolist() == [0, 1]


def test_padding_values_outside_the_input_dtype():
    """Layers hand on the narrowest dtype holding their outputs (uint8 for [0, 200] of an int16
    tensor); padding with the type's qmin or a negative zero point must still mean that value."""
    x = np.array([[[[5], [200]], [[7], [9]]]], np.uint8)  # (1, 2, 2, 1)
    geo = {"kernel": [2, 2], "strides": [1, 1], "dilations": [1, 1], "pads": [1, 1, 0, 0], "out_shape": [1, 2, 2, 1]}
    maxpool = type("L", (), {"config": {**geo, "pad_value": -32768}, "consts": {}, "name": "mp"})()
    got = get_op(helper.make_node("MaxPool", ["x"], ["y"])).run_int(maxpool, [x])
    assert got[..., 0].tolist() == [[[5, 200], [7, 200]]]
    pad = type("L", (), {"config": {"pads": [[0, 0], [1, 0], [0, 0], [0, 0]], "mode": "constant", "value": -3},
                         "consts": {}, "name": "pad"})()
    got = get_op(helper.make_node("Pad", ["x", "p"], ["y"])).run_int(pad, [x])
    assert got[0, :, :, 0].tolist() == [[-3, -3], [5, 200], [7, 9]]


def test_layers_survive_the_bundle_form():
    """Configs are JSON and constants arrays: a QModel of these layers written and read back runs the
    same integers."""
    nodes = [helper.make_node("Sigmoid", ["x"], ["s"]), helper.make_node("Pad", ["s", "p"], ["pd"]),
             helper.make_node("AveragePool", ["pd"], ["ap"], kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1),
             helper.make_node("Mul", ["ap", "c"], ["m"]), helper.make_node("Concat", ["m", "ap"], ["cc"], axis=1),
             helper.make_node("Sub", ["cc", "k"], ["y"])]
    inits = {"p": np.array([0, 0, 1, 0, 0, 0, 0, 1], np.int64), "c": np.array([1.5, -2, 0], np.float32).reshape(3, 1, 1),
             "k": np.float32(0.25)}
    c = Case(make_model(nodes, {"x": [3, 5, 6]}, inits), 8, 8, 0)
    assert {"Sigmoid", "Pad", "AveragePool", "Mul", "Concat", "Sub"} <= {lay.op_type for lay in c.qm.layers}
    d, arrays = c.qm.to_dict()
    back = QModel.from_dict(json.loads(json.dumps(d)), arrays)
    x = np.random.default_rng(1).standard_normal((4, 3, 5, 6)).astype(np.float32)
    np.testing.assert_array_equal(emulate(back, {"x": x}).raw["y"], emulate(c.qm, {"x": x}).raw["y"])


def test_emulate_in_chunks_gives_the_same_integers():
    model, _ = conv_case(3)
    c = Case(model, 8, 8, 0)
    x = np.random.default_rng(5).standard_normal((37, *c.g.inputs[0].shape[1:])).astype(np.float32)
    whole = emulate(c.qm, {"x": x}, batch_size=1000)
    parts = emulate(c.qm, {"x": x}, batch_size=5, keep=True)
    for name in whole.raw:
        np.testing.assert_array_equal(whole.raw[name], parts.raw[name])
    assert whole.saturated == parts.saturated
    assert parts.tensors[c.qm.outputs[0].name].shape[0] == 37


# --- what has no integer implementation is refused, naming the node ----------------------------------
@pytest.mark.parametrize("nodes, inputs, inits, match", [
    ([helper.make_node("Max", ["a", "b"], ["y"])], {"a": [4], "b": [4]}, None,
     r"node 'Max_0' \(Max\): has no integer implementation"),
    ([helper.make_node("Mul", ["x", "t"], ["y"])], {"x": [3, 4]}, {"t": np.ones((3, 4), np.float32)},
     r"\(Mul\): constant 't' of shape \(3, 4\) varies along axes \[1, 2\]"),
    ([helper.make_node("Div", ["t", "x"], ["y"])], {"x": [4]}, {"t": np.ones(4, np.float32)},
     r"\(Div\): only division of a computed tensor by a constant"),
    ([helper.make_node("Pad", ["x", "p", "v"], ["y"])], {"x": [3, 4]},
     {"p": np.array([0, 1, 1, 0, 1, 1], np.int64), "v": np.array(1.5, np.float32)}, r"\(Pad\): constant padding with 1.5"),
    ([helper.make_node("Sigmoid", ["x"], ["s"]), helper.make_node("Transpose", ["s"], ["t"], perm=[1, 0]),
      helper.make_node("Tanh", ["t"], ["y"])], {"x": [4]}, None, r"\(Transpose\): perm \[1, 0\] moves the batch axis"),
])
def test_unsupported_uses_are_refused(nodes, inputs, inits, match):
    with pytest.raises((UnsupportedModelError, ModelError), match=match):
        Case(make_model(nodes, inputs, inits), 8, 8, 0)
