"""Cross-layer equalisation (Nagel et al., "Data-free quantization through weight equalization and
bias correction", ICCV 2019, §4.1) on the float graph after the ``hardware`` flow.

For a pair of layers A → B where A's output channel i reaches B's input channel i only through
positively homogeneous functions f (f(x / s) = f(x) / s for s > 0: none, ReLU, MaxPool), dividing
A's output channel i (its weights and bias) by s_i and multiplying B's weights of input channel i
by s_i leaves the network's function unchanged. With r1_i the range (max |w|) of A's output
channel i and r2_i that of B's input channel i,

    s_i = sqrt(r1_i · r2_i) / r2_i

makes both ranges sqrt(r1_i · r2_i): the channels of a layer get ranges of the same order, so
per-tensor activations and B's per-output-channel weight scales lose less to the few channels
that are much wider than the others. Pairs sharing a layer (A → B → C) are equalised in turns
until the scales settle.

A channel whose range in either layer is below ``DEAD`` times that layer's widest (a channel
training left dead: weights of 1e-11 beside 0.5) is left alone: its s_i would be in the hundreds
or thousands, and A's channel, scaled down with it, gets a weight scale so small that its
requantisation multiplier needs a shift beyond any integer datapath, for no accuracy to gain.

A clamp with a finite upper bound (ReLU6, Clip) is not homogeneous (its bound would have to
become 6 / s_i per channel, which one ``clip`` attribute cannot hold): such pairs are left alone,
as are pairs through anything but MaxPool, layers whose output has other readers (a residual
Add), and weights or biases another node also reads. Runs before calibration: the ranges are
observed on the equalised model.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: ops between A and B that commute with a positive per-channel scale
_HOMOGENEOUS = {"MaxPool"}
ROUNDS, TOLERANCE = 50, 1e-4
#: a channel narrower than this share of its layer's widest is dead: not equalised
DEAD = 2.0 ** -16


@dataclass
class Pair:
    """A (producer) and B (consumer) of an equalisable pair, with where their channels lie."""

    first: object
    second: object
    out_axis: int  # axis of A's weights holding its output channels
    in_axis: int  # axis of B's weights holding its input channels (within a group)


def _homogeneous_clip(node) -> bool:
    clip = node.attrs.get("clip")
    return clip is None or (clip[0] in (0.0, -math.inf) and clip[1] == math.inf)


def _only_reader(g, name: str, node) -> bool:
    return list(g.consumers(name)) == [node]


def _out_axis(g, node) -> int | None:
    """Axis of ``node``'s weights holding its output channels, None if it is not a layer we can scale."""
    if not g.is_const(node.inputs[1]) or (node.input(2) and not g.is_const(node.input(2))):
        return None
    if node.op_type == "Conv":
        return 0
    if node.op_type == "Gemm" and not node.attrs.get("transA", 0):
        return 0 if node.attrs.get("transB", 0) else 1
    return None


def _in_axis(g, node) -> int | None:
    if not g.is_const(node.inputs[1]):
        return None
    if node.op_type == "Conv":
        return 1
    if node.op_type == "Gemm" and not node.attrs.get("transA", 0):
        return 1 if node.attrs.get("transB", 0) else 0
    return None


def find_pairs(g) -> list[Pair]:
    """Every equalisable A → B pair of ``g`` (see the module docs), in graph order."""
    pairs = []
    for a in g.nodes:
        out_axis = _out_axis(g, a) if a.op_type in ("Conv", "Gemm") else None
        if out_axis is None or not _homogeneous_clip(a) or len(a.outputs) != 1:
            continue
        consts = [c for c in a.inputs[1:] if c]
        if any(len(g.consumers(c)) != 1 for c in consts):
            continue
        t, ok = a.outputs[0], True
        while ok:
            readers = g.consumers(t)
            if len(readers) != 1 or g.is_graph_output(t):
                ok = False
                break
            r = readers[0]
            if r.op_type in _HOMOGENEOUS and r.inputs[0] == t and len(r.outputs) == 1:
                t = r.outputs[0]
                continue
            break
        if not ok:
            continue
        b = readers[0]
        in_axis = _in_axis(g, b) if b.op_type in ("Conv", "Gemm") else None
        if in_axis is None or b.inputs[0] != t or len(g.consumers(b.inputs[1])) != 1:
            continue
        bias = g.const(a.input(2)) if a.input(2) else None
        if bias is not None and bias.size != g.const(a.inputs[1]).shape[out_axis]:
            continue  # a bias broadcast over the channels cannot take a scale per channel
        if a.op_type == "Conv" and b.op_type == "Gemm" or a.op_type == "Gemm" and b.op_type == "Conv":
            continue  # a Flatten / Reshape would sit between them; the channel order differs
        pairs.append(Pair(a, b, out_axis, in_axis))
    return pairs


def _channel_absmax(w: np.ndarray, axis: int) -> np.ndarray:
    return np.abs(np.moveaxis(w, axis, 0).reshape(w.shape[axis], -1)).max(axis=1)


def _in_channel_absmax(w: np.ndarray, pair: Pair, group: int) -> np.ndarray:
    """Range of every input channel of B (input channel i of group k is column i − k·cg)."""
    w = np.moveaxis(w, pair.in_axis, 1)  # (out, in per group, ...)
    m, cg = w.shape[0], w.shape[1]
    mg = m // group
    per = np.abs(w).reshape(group, mg, cg, -1).max(axis=(1, 3))  # (group, cg)
    return per.reshape(-1)


def _scale_in_channels(w: np.ndarray, s: np.ndarray, pair: Pair, group: int) -> np.ndarray:
    w = np.moveaxis(w, pair.in_axis, 1).copy()
    m, cg = w.shape[0], w.shape[1]
    mg = m // group
    view = w.reshape(group, mg, cg, -1)
    view *= s.reshape(group, 1, cg, 1).astype(w.dtype)
    return np.moveaxis(view.reshape(w.shape), 1, pair.in_axis)


def equalize_pair(g, pair: Pair) -> np.ndarray:
    """Equalise one pair in place; returns the scales s applied (A's channel i divided by s_i)."""
    a, b = pair.first, pair.second
    w1, w2 = g.const(a.inputs[1]), g.const(b.inputs[1])
    group = int(b.attrs.get("group", 1)) if b.op_type == "Conv" else 1
    r1 = _channel_absmax(w1, pair.out_axis).astype(np.float64)
    r2 = _in_channel_absmax(w2, pair, group).astype(np.float64)
    if r1.size != r2.size:
        return np.ones(r1.size)
    ok = (r1 > DEAD * r1.max(initial=0.0)) & (r2 > DEAD * r2.max(initial=0.0))
    s = np.ones_like(r1)
    s[ok] = np.sqrt(r1[ok] * r2[ok]) / r2[ok]
    view = [1] * w1.ndim
    view[pair.out_axis] = s.size
    g.initializers[a.inputs[1]] = (w1 / s.reshape(view)).astype(w1.dtype)
    if a.input(2):
        b1 = g.const(a.input(2))
        g.initializers[a.input(2)] = (b1 / s.reshape(b1.shape) if b1.size == s.size else b1).astype(b1.dtype)
    g.initializers[b.inputs[1]] = _scale_in_channels(w2, s, pair, group).astype(w2.dtype)
    return s


def equalize(g) -> list[dict]:
    """Cross-layer equalisation of every pair :func:`find_pairs` finds, in place.

    Returns one record per pair: the two layers, their channel count and the spread of the total
    scale applied (max / min over the channels).
    """
    pairs = find_pairs(g)
    total = [np.ones(g.const(p.first.inputs[1]).shape[p.out_axis]) for p in pairs]
    for _ in range(ROUNDS):
        worst = 0.0
        for k, p in enumerate(pairs):
            s = equalize_pair(g, p)
            total[k] *= s
            worst = max(worst, float(np.max(np.abs(np.log(s)))) if s.size else 0.0)
        if worst < TOLERANCE:
            break
    return [{"first": p.first.name, "second": p.second.name, "channels": int(t.size),
             "scale_spread": round(float(t.max() / t.min()), 4) if t.size else 1.0}
            for p, t in zip(pairs, total)]
