"""C simulation of generated HLS == emulator, bit for bit, op by op.

Each model holds several independent branches (one input and one output each), so one g++ build
checks many layer variants: random shapes, kernels, strides, paddings, dilations, bit widths 2–16
for weights and activations, and random PE/SIMD folding.
"""
from __future__ import annotations

import numpy as np
import pytest
from codegen_util import Csim, make_model, need_toolchain, quantise, random_folding
from onnx import helper

BITS = [2, 3, 4, 5, 6, 8, 10, 12, 16]


def pick(r, options):
    return options[int(r.integers(len(options)))]


def conv_branch(r, p, kind):
    n_sp = 2 if kind != "conv1d" else 1
    C = int(r.integers(1, 6))
    M = C if kind == "depthwise" else int(r.integers(1, 7))
    if kind == "grouped":  # 1 < group, more than one channel per group on some side
        group = int(r.integers(2, 5))
        C, M = group * int(r.integers(1, 4)), group * int(r.integers(1, 4))
        if C == M == group:
            C *= 2
    if kind == "pointwise":
        kernel, strides, dil = [1, 1], [1, 1], [1, 1]
    else:
        kernel = [int(v) for v in r.integers(1, 4, n_sp)]
        strides = [int(v) for v in r.integers(1, 3, n_sp)]
        dil = [int(v) for v in r.integers(1, 3, n_sp)]
    span = [(k - 1) * d + 1 for k, d in zip(kernel, dil)]
    pads = [int(r.integers(0, s)) for s in span] + [int(r.integers(0, s)) for s in span]
    if kind == "pointwise":
        pads = [0] * 4
    size = [s + int(r.integers(0, 5)) for s in span]
    group = C if kind == "depthwise" else group if kind == "grouped" else 1
    W = (r.standard_normal((M, C // group, *kernel)) * r.uniform(0.1, 1.0, (M,) + (1,) * (n_sp + 1))).astype(np.float32)
    B = (0.2 * r.standard_normal(M)).astype(np.float32)
    nodes = [helper.make_node("Conv", [f"{p}x", f"{p}W", f"{p}B"], [f"{p}y"], name=f"{p}conv", kernel_shape=kernel,
                              strides=strides, dilations=dil, pads=pads, group=group)]
    out = f"{p}y"
    if r.random() < 0.5:
        nodes.append(helper.make_node("Relu", [out], [f"{p}z"], name=f"{p}relu"))
        out = f"{p}z"
    return nodes, {f"{p}x": [C, *size]}, {f"{p}W": W, f"{p}B": B}, out, [f"{p}conv"]


def dense_branch(r, p, kind):
    K, N = int(r.integers(1, 20)), int(r.integers(1, 12))
    if kind == "gemm":
        W = r.standard_normal((N, K)).astype(np.float32)
        nodes = [helper.make_node("Gemm", [f"{p}x", f"{p}W", f"{p}B"], [f"{p}y"], name=f"{p}gemm", transB=1)]
        return nodes, {f"{p}x": [K]}, {f"{p}W": W, f"{p}B": r.standard_normal(N).astype(np.float32)}, f"{p}y", [f"{p}gemm"]
    R = int(r.integers(1, 5))
    W = r.standard_normal((K, N)).astype(np.float32)
    nodes = [helper.make_node("MatMul", [f"{p}x", f"{p}W"], [f"{p}y"], name=f"{p}mm")]
    return nodes, {f"{p}x": [R, K]}, {f"{p}W": W}, f"{p}y", [f"{p}mm"]


def pool_branch(r, p, kind):
    C = int(r.integers(1, 6))
    if kind in ("GlobalAveragePool", "GlobalMaxPool"):
        nodes = [helper.make_node(kind, [f"{p}x"], [f"{p}y"], name=f"{p}pool")]
        return nodes, {f"{p}x": [C, int(r.integers(1, 6)), int(r.integers(1, 6))]}, {}, f"{p}y", [f"{p}pool"]
    kernel = [int(v) for v in r.integers(1, 4, 2)]
    strides = [int(v) for v in r.integers(1, 3, 2)]
    pads = [int(r.integers(0, k)) for k in kernel] * 2
    size = [k + int(r.integers(0, 5)) for k in kernel]
    attrs = {"kernel_shape": kernel, "strides": strides, "pads": pads}
    if kind == "AveragePool":
        attrs["count_include_pad"] = int(r.integers(0, 2))
    nodes = [helper.make_node(kind, [f"{p}x"], [f"{p}y"], name=f"{p}pool", **attrs)]
    return nodes, {f"{p}x": [C, *size]}, {}, f"{p}y", [f"{p}pool"]


def eltwise_branch(r, p, kind):
    shape = [int(r.integers(1, 6)), int(r.integers(1, 4)), int(r.integers(1, 4))]
    if kind in ("Add", "Sub", "Sum"):
        nodes = [helper.make_node(kind, [f"{p}a", f"{p}b"], [f"{p}y"], name=f"{p}op")]
        return nodes, {f"{p}a": shape, f"{p}b": shape}, {}, f"{p}y", [f"{p}op"]
    if kind == "Concat":
        n = int(r.integers(2, 4))
        # graph inputs keep their layout: join along the last axis, the one the PE joins
        ins = {f"{p}i{k}": [*shape[:2], int(r.integers(1, 5))] for k in range(n)}
        nodes = [helper.make_node("Concat", list(ins), [f"{p}y"], name=f"{p}op", axis=-1)]
        return nodes, ins, {}, f"{p}y", [f"{p}op"]
    if kind in ("MulConst", "DivConst"):  # scalar, or one value per element of the last axis
        k = r.uniform(-2, 2, () if r.random() < 0.4 else (shape[-1],)).astype(np.float32)
        k[np.abs(k) < 0.05] = 0.5
        nodes = [helper.make_node(kind[:3], [f"{p}x", f"{p}k"], [f"{p}y"], name=f"{p}op")]
        return nodes, {f"{p}x": shape}, {f"{p}k": k}, f"{p}y", [f"{p}op"]
    if kind == "Pad":  # one axis, or two adjacent ones, of the (N, C, H, W) input
        first = int(r.integers(1, 4))
        axes = [first] if first == 3 or r.random() < 0.4 else [first, first + 1]
        pads = [0] * 8
        for a in axes:
            pads[a], pads[4 + a] = int(r.integers(0, 3)), int(r.integers(1, 3))
        nodes = [helper.make_node("Pad", [f"{p}x", f"{p}pads"], [f"{p}y"], name=f"{p}op")]
        return nodes, {f"{p}x": shape}, {f"{p}pads": np.array(pads, np.int64)}, f"{p}y", []
    if kind == "MulTensors":
        nodes = [helper.make_node("Mul", [f"{p}a", f"{p}b"], [f"{p}y"], name=f"{p}op")]
        return nodes, {f"{p}a": shape, f"{p}b": shape}, {}, f"{p}y", [f"{p}op"]
    if kind == "MulBroadcast":  # a (1,1,C) channel gate times an (H,W,C) map, either order (channel_mul)
        ins = {f"{p}x": [int(r.integers(2, 5)), *shape[1:]], f"{p}g": [1, 1, shape[-1]]}  # H > 1: a broadcast
        order = list(ins) if r.random() < 0.5 else list(ins)[::-1]
        nodes = [helper.make_node("Mul", order, [f"{p}y"], name=f"{p}op")]
        return nodes, ins, {}, f"{p}y", [f"{p}op"]
    attrs = {"alpha": 0.1} if kind == "LeakyRelu" else {}
    nodes = [helper.make_node(kind, [f"{p}x"], [f"{p}y"], name=f"{p}op", **attrs)]
    return nodes, {f"{p}x": shape}, {}, f"{p}y", [f"{p}op"]


def lrn_branch(r, p, kind):
    """LRN across the channels of a (C, H, W) input, random odd window and constants."""
    attrs = {"size": int(r.choice([1, 3, 5, 7])), "alpha": float(r.uniform(1e-4, 0.5)), "beta": float(r.uniform(0.3, 1.0)),
             "bias": float(r.uniform(0.5, 2.0))}
    nodes = [helper.make_node("LRN", [f"{p}x"], [f"{p}y"], name=f"{p}op", **attrs)]
    return nodes, {f"{p}x": [int(r.integers(1, 9)), int(r.integers(1, 4)), int(r.integers(1, 4))]}, {}, f"{p}y", \
        [f"{p}op"]


def channel_branch(r, p, kind):
    """Channel plumbing on the last axis (graph inputs keep their layout): a Slice of a random range,
    a Split whose parts a Concat joins in reverse order, a channel shuffle as PyTorch exports it."""
    c = int(r.integers(2, 9))
    shape = [int(r.integers(1, 4)), int(r.integers(1, 4)), c]
    i64 = lambda *v: np.array(v, np.int64)  # noqa: E731
    if kind == "Slice":
        start = int(r.integers(0, c))
        end = int(r.integers(start + 1, c + 1))
        nodes = [helper.make_node("Slice", [f"{p}x", f"{p}s", f"{p}e", f"{p}a"], [f"{p}y"], name=f"{p}op")]
        return nodes, {f"{p}x": shape}, {f"{p}s": i64(start), f"{p}e": i64(end), f"{p}a": i64(-1)}, f"{p}y", []
    if kind == "Split":
        cut = int(r.integers(1, c))
        nodes = [helper.make_node("Split", [f"{p}x", f"{p}n"], [f"{p}lo", f"{p}hi"], name=f"{p}op", axis=-1),
                 helper.make_node("Concat", [f"{p}hi", f"{p}lo"], [f"{p}y"], name=f"{p}cat", axis=-1)]
        return nodes, {f"{p}x": shape}, {f"{p}n": i64(cut, c - cut)}, f"{p}y", []
    g = int(r.choice([d for d in range(2, c + 1) if c % d == 0]))
    nodes = [helper.make_node("Reshape", [f"{p}x", f"{p}s5"], [f"{p}v"], name=f"{p}r1"),
             helper.make_node("Transpose", [f"{p}v"], [f"{p}t"], name=f"{p}tr", perm=[0, 1, 2, 4, 3]),
             helper.make_node("Reshape", [f"{p}t", f"{p}s4"], [f"{p}y"], name=f"{p}r2")]
    return nodes, {f"{p}x": shape}, {f"{p}s5": i64(0, 0, 0, g, c // g), f"{p}s4": i64(0, 0, 0, c)}, f"{p}y", []


def flatten_branch(r, p, kind):
    """Conv -> Flatten -> Gemm: the rename keeps the NHWC stream order the Gemm weights expect."""
    C, M, H, W_ = int(r.integers(1, 4)), int(r.integers(1, 5)), int(r.integers(2, 5)), int(r.integers(2, 5))
    Wc = r.standard_normal((M, C, 3, 3)).astype(np.float32) * 0.5
    Wg = r.standard_normal((int(r.integers(1, 6)), M * H * W_)).astype(np.float32)
    nodes = [helper.make_node("Conv", [f"{p}x", f"{p}Wc"], [f"{p}c"], name=f"{p}conv", kernel_shape=[3, 3],
                              pads=[1, 1, 1, 1]),
             helper.make_node("Relu", [f"{p}c"], [f"{p}r"], name=f"{p}relu"),
             helper.make_node("Flatten", [f"{p}r"], [f"{p}f"], name=f"{p}flat"),
             helper.make_node("Gemm", [f"{p}f", f"{p}Wg"], [f"{p}y"], name=f"{p}gemm", transB=1)]
    return nodes, {f"{p}x": [C, H, W_]}, {f"{p}Wc": Wc, f"{p}Wg": Wg}, f"{p}y", [f"{p}conv", f"{p}gemm"]


KINDS = {"conv": conv_branch, "conv1d": conv_branch, "depthwise": conv_branch, "grouped": conv_branch,
         "pointwise": conv_branch,
         "gemm": dense_branch, "matmul": dense_branch, "MaxPool": pool_branch, "AveragePool": pool_branch,
         "GlobalAveragePool": pool_branch, "GlobalMaxPool": pool_branch, "Add": eltwise_branch,
         "Sub": eltwise_branch, "Sum": eltwise_branch, "Concat": eltwise_branch, "Sigmoid": eltwise_branch,
         "Tanh": eltwise_branch, "LeakyRelu": eltwise_branch, "flatten": flatten_branch, "MulConst": eltwise_branch,
         "DivConst": eltwise_branch, "MulTensors": eltwise_branch, "MulBroadcast": eltwise_branch,
         "Pad": eltwise_branch, "Slice": channel_branch, "Split": channel_branch, "ChannelShuffle": channel_branch,
         "LRN": lrn_branch}


def build_case(seed, kinds, narrow=False):
    """One model with a branch per kind, random bits per layer (up to 16 unless ``narrow``)."""
    r = np.random.default_rng(seed)
    nodes, ins, inits, outs, layers = [], {}, {}, [], {}
    for i, kind in enumerate(kinds):
        n, x, w, o, names = KINDS[kind](r, f"b{i}_", kind)
        nodes += n
        ins.update(x)
        inits.update(w)
        outs.append(o)
        bits = BITS[:6] if narrow else BITS
        ops = {nd.name: nd.op_type for nd in n}
        for name in names:  # only the widths a layer has: the config refuses the others
            over = {"act_bits": pick(r, bits), "weight_bits": pick(r, bits)}
            if ops[name] not in ("Conv", "Gemm", "MatMul"):
                del over["weight_bits"]
            if ops[name] in ("MaxPool", "GlobalMaxPool"):
                del over["act_bits"]
            layers[name] = over
    # LUT inputs above 12 bits make 2^N-entry tables; keep those few
    for nd in nodes:
        if nd.op_type in ("Sigmoid", "Tanh", "LeakyRelu"):
            layers[nd.name] = {"act_bits": pick(r, BITS[:7])}
    model = make_model(nodes, ins, inits, outs)
    qm = quantise(model, seed, layers)
    return qm, random_folding(qm, r)


FAST = ["conv", "depthwise", "grouped", "pointwise", "conv1d", "gemm", "matmul", "MaxPool", "AveragePool",
        "GlobalAveragePool", "GlobalMaxPool", "Add", "Sub", "Sum", "Concat", "Sigmoid", "LeakyRelu", "flatten", "MulConst", "DivConst", "MulTensors", "MulBroadcast", "Pad",
        "Slice", "Split", "ChannelShuffle", "LRN"]


def test_every_lowered_op_matches_the_emulator(tmp_path):
    """One model with a branch of every lowered op kind, random bits and folding, both tops."""
    need_toolchain()
    qm, layers = build_case(1, FAST)
    cs = Csim(qm, tmp_path, layers)
    r = np.random.default_rng(2)
    ins = cs.inputs(5, r)
    cs.check(ins, what="fa_kernel")
    cs.check(ins, axis=True, what="fa_axis")
    cycles = cs.lib.stage_cycles()
    assert all(v > 0 for v in cycles.values()), cycles
    check_synthesis_loops(cs, ins, "every op")


def check_synthesis_loops(cs, ins, what):
    """The loops synthesis sees (simulation fast paths off) give the same integers and counts."""
    cs.run(ins)
    cycles = cs.lib.stage_cycles()
    cs.lib.set_fast_paths(False)
    try:
        cs.check(ins, what=f"{what}, synthesis loops")
        assert cs.lib.stage_cycles() == cycles
    finally:
        cs.lib.set_fast_paths(True)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(8))
def test_sweep(tmp_path, seed):
    """Random mixes of many variants per build (widths up to 16 bits)."""
    need_toolchain()
    r = np.random.default_rng(100 + seed)
    kinds = [pick(r, sorted(KINDS)) for _ in range(10)]
    qm, layers = build_case(100 + seed, kinds)
    cs = Csim(qm, tmp_path, layers)
    ins = cs.inputs(3, np.random.default_rng(seed))
    cs.check(ins, what=f"seed {seed} kinds {kinds}")
    check_synthesis_loops(cs, ins, f"seed {seed}")
