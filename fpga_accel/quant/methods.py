"""Quantisation methods beyond the observers, each chosen in the config (quant/config.py):

- ``equalize`` — cross-layer equalisation of the float weights before calibration
  (:mod:`.equalize`);
- ``adaround`` — learned rounding of each layer's weights (:mod:`.adaround`);
- ``bias_correction`` — each layer's bias shifted by the mean error of its output over the
  calibration data (Nagel et al. 2019, §4.2, the empirical form): the mean of what the quantised
  layer computes before its clamp (its accumulator times s_in · s_w), fed by the quantised layers
  before it, minus the mean of the float layer's output before its activation, per output
  channel, is taken off the float bias, which is then quantised as usual.

The last two walk the integer layers in order over the calibration samples: a layer is refined
with the inputs the (already refined) quantised layers before it give, then requantised through
its op's own ``quantize``, so the integer contract is untouched: these only choose the float
weights and biases that are quantised and which way each weight rounds. Conv and Gemm layers
are refined; a model that carries its own quantisation (QDQ / QONNX) is used as given.
"""
from __future__ import annotations

import math
import time
from copy import copy

import numpy as np

from ..errors import GraphError, InputError
from ..ir.execute import run_graph
from ..ops import get_op
from ..ops.conv import conv_geometry
from .adaround import Grams, learn_rounding
from .arith import dequantize, quantize, quantize_bias
from .config import QuantConfig
from .params import fit_bias, weight_params

#: calibration samples the layer-by-layer methods use (the first ones)
REFINE_SAMPLES = 512
#: bytes the float and integer copies of every tensor of those samples may take; a network with
#: large activations is refined on fewer samples (at least one) rather than exhausting memory
REFINE_BYTES = 2 << 30
#: rows of input data (im2col windows) kept for a layer's Gram matrices: a fixed sample beyond it
MAX_ROWS = 200_000
REFINED_OPS = ("Conv", "Gemm")


def _sig(x: float) -> float:
    return float(f"{x:.4g}")


def equalize_model(g, config: QuantConfig, given: bool) -> dict | None:
    """Cross-layer equalisation of ``g`` in place when the config asks for it; its manifest record."""
    if not config.equalize:
        return None
    if given:
        return {"applied": False, "why": "the model carries its own quantisation"}
    from .equalize import equalize

    return {"applied": True, "pairs": equalize(g)}


def weight_rows(node, g) -> tuple[np.ndarray, int]:
    """The float weights as the op quantises them (output channels first) and the group count."""
    w = g.const(node.inputs[1]).astype(np.float64)
    if node.op_type == "Gemm":
        return (w if node.attrs.get("transB", 0) else w.T) * node.attrs.get("alpha", 1.0), 1
    return w, int(node.attrs.get("group", 1))


def input_rows(node, g, x: np.ndarray, group: int) -> list[np.ndarray]:
    """Per group, the layer's input data as rows (P, K) in the order of :func:`group_matrix`'s columns."""
    if node.op_type == "Gemm":
        return [x.reshape(x.shape[0], -1)]
    w = g.const(node.inputs[1])
    shape = g.shape(node.inputs[0])  # channels last after the hardware flow
    pads, strides, dil, kernel, out = conv_geometry(node, (shape[0], shape[-1], *shape[1:-1]), w.shape)
    n = len(kernel)
    xp = np.pad(x, [(0, 0)] + [(pads[d], pads[d + n]) for d in range(n)] + [(0, 0)])  # real 0 is the padding
    cg = w.shape[1]
    return [_windows(xp[..., k * cg:(k + 1) * cg], kernel, strides, dil, out).reshape(-1, int(np.prod(kernel)) * cg)
            for k in range(group)]


def _windows(x: np.ndarray, kernel, strides, dil, out) -> np.ndarray:
    """Every window of the padded channels-last ``x``: (N, *out, *kernel, C)."""
    x = np.ascontiguousarray(x)
    n, st = len(kernel), x.strides
    shape = (x.shape[0], *out, *kernel, x.shape[-1])
    steps = (st[0], *(st[1 + d] * strides[d] for d in range(n)), *(st[1 + d] * dil[d] for d in range(n)), st[-1])
    return np.lib.stride_tricks.as_strided(x, shape, steps, writeable=False)


def group_matrix(w: np.ndarray, k: int, group: int) -> np.ndarray:
    """Weights of group ``k`` as rows (out per group, K), K in the (*kernel, C) order of the windows."""
    mg = w.shape[0] // group
    part = w[k * mg:(k + 1) * mg]
    return np.moveaxis(part, 1, -1).reshape(mg, -1) if part.ndim > 2 else part


def _from_groups(rows: list[np.ndarray], shape) -> np.ndarray:
    if len(shape) == 2:
        return rows[0].reshape(shape)
    per = [np.moveaxis(r.reshape(r.shape[0], *shape[2:], shape[1]), -1, 1) for r in rows]
    return np.concatenate(per).reshape(shape)


def _pre_activation(node, g, x: np.ndarray, kept: dict | None = None) -> np.ndarray:
    """The float layer's output before its fused clamp: a layer without one has it in ``kept`` (the
    float run's tensors, from the same input, weights and bias) when given; else the layer runs again
    unclamped."""
    if kept is not None and node.attrs.get("clip") is None and node.outputs[0] in kept:
        return kept[node.outputs[0]].astype(np.float64)
    bare = copy(node)
    bare.attrs = {**node.attrs, "clip": None}
    ins = [x] + [g.const(i) for i in node.inputs[1:] if i]
    return get_op(node).run(bare, ins)[0].astype(np.float64)


def _float_bias(node, g, n: int) -> np.ndarray:
    """The bias the op quantises (Gemm: beta · C), one value per output channel."""
    if not node.input(2):
        return np.zeros(n)
    b = g.const(node.input(2)).astype(np.float64)
    b = b * node.attrs.get("beta", 1.0) if node.op_type == "Gemm" else b
    return np.broadcast_to(b.reshape(-1) if b.size == n else b, (n,)).copy()


def _shift_bias(node, g, d: np.ndarray) -> None:
    """Take ``d`` (one value per output channel) off the layer's float bias, adding a bias if it has none."""
    if node.op_type == "Gemm":
        d = d / node.attrs.get("beta", 1.0)
    if node.input(2):
        b = g.const(node.input(2))
        g.initializers[node.input(2)] = (b.astype(np.float64) - d.reshape(b.shape)).astype(b.dtype)
    else:
        name = g.add_const(f"{node.name}_bias", (-d).astype(np.float32))
        node.inputs = list(node.inputs[:2]) + [name]


def refine_samples(g) -> int:
    """How many calibration samples the layer-by-layer methods keep every tensor of: REFINE_SAMPLES,
    fewer when a sample's tensors (float32 and an integer copy, 8 bytes an element) would take more
    than REFINE_BYTES."""
    per_sample = 0
    for t in {t.name for t in g.inputs} | {o for n in g.nodes for o in n.outputs if o}:
        try:
            dims = g.shape(t)[1:]
        except GraphError:  # no shape recorded: the layers' own checks name it later
            continue
        per_sample += 8 * math.prod(d for d in dims if isinstance(d, int) and d > 0)
    return max(1, min(REFINE_SAMPLES, REFINE_BYTES // max(1, per_sample)))


def refine_model(g, qm, ctx, feeds, config: QuantConfig) -> dict:
    """Learned rounding and / or bias correction of ``qm``'s layers in place (module docs); the
    manifest records of what was done."""
    ar = config.adaround_options()
    record: dict = {}
    if ctx.given_weights or g.meta.get("qparams"):
        why = {"applied": False, "why": "the model carries its own quantisation"}
        return {k: why for k, on in (("adaround", ar), ("bias_correction", config.bias_correction)) if on}
    nodes = {n.name: n for n in g.nodes}
    todo = [lay.name for lay in qm.layers if lay.op_type in REFINED_OPS and lay.name in nodes and "weights" in lay.consts]
    if not (ar or (config.corrects_bias() and todo)):
        return record
    feeds = {k: v[:refine_samples(g)] for k, v in feeds.items()}
    samples = int(next(iter(feeds.values())).shape[0])
    fenv = run_graph(g, feeds, keep=True)
    env = {t.name: quantize(fenv[t.name], t.qparams, name=t.name) for t in qm.inputs}
    rng = np.random.default_rng(0)
    deadline = time.monotonic() + float(ar["seconds"]) if ar else None
    ar_rows, bc_rows = [], []
    for i, layer in enumerate(qm.layers):
        op = get_op(nodes[layer.name]) if layer.name in nodes else None
        if layer.name in todo:
            node = nodes[layer.name]
            x_f = fenv[node.inputs[0]].astype(np.float64)
            p_in = qm.tensors[layer.inputs[0]].qparams
            x_q = dequantize(env[layer.inputs[0]], p_in, dtype=np.float64)
            if ar:
                left = max(1, len(todo) - todo.index(layer.name))
                stop = time.monotonic() + max(0.0, deadline - time.monotonic()) / left
                ar_rows.append(_adaround_layer(node, g, ctx, x_f, x_q, ar, stop, rng))
                layer = qm.layers[i] = op.quantize(node, ctx)
            if config.corrects_bias():
                w_ok, _ = weight_rows(node, g)
                # the shift measured with the float bias itself, not its rounding: after the correction
                # only the new bias's own rounding (half a step of s_in · s_w at most) is left
                b = _float_bias(node, g, w_ok.shape[0])
                wp = fit_bias(weight_params(w_ok, axis=0, qtype=ctx.weight_qtype(node), name=node.name), b,
                              p_in.scale, name=node.name)  # the scales op.quantize uses
                acc = op.run_acc(layer, [env[layer.inputs[0]]]).astype(np.float64)
                got = acc.reshape(-1, acc.shape[-1]).mean(axis=0) * p_in.scale * wp.scales
                want = _pre_activation(node, g, x_f.astype(np.float32), fenv)
                b_q = quantize_bias(b, p_in.scale, wp, name=node.name) * p_in.scale * wp.scales
                d = got - want.reshape(-1, want.shape[-1]).mean(axis=0) - (b_q - b)
                kept = g.const(node.input(2)) if node.input(2) else None
                _shift_bias(node, g, d)
                try:
                    layer = qm.layers[i] = op.quantize(node, ctx)
                except InputError as e:  # e.g. a bias beyond int32 at a collapsed input scale: keep the old one
                    if kept is None:
                        node.inputs = node.inputs[:2]
                    else:
                        g.initializers[node.input(2)] = kept
                    bc_rows.append({"layer": node.name, "skipped": str(e)})
                else:
                    bc_rows.append({"layer": node.name, "max_shift": _sig(float(np.max(np.abs(d)))),
                                    "max_shift_steps": _sig(float(np.max(np.abs(d) / (p_in.scale * wp.scales))))})
        env[layer.outputs[0]] = op.run_int(layer, [env[n] for n in layer.inputs])
    if ar:
        record["adaround"] = {"applied": True, "samples": samples, "iterations": int(ar["iterations"]),
                              "seconds": ar["seconds"], "layers": ar_rows}
    if bc_rows or config.bias_correction:
        record["bias_correction"] = {"applied": bool(bc_rows), "samples": samples, "layers": bc_rows}
        if config.bias_correction is None:
            record["bias_correction"]["default"] = "on: every Conv / Gemm layer unless the config sets bias_correction false"
    return record


def _adaround_layer(node, g, ctx, x_f, x_q, options, stop, rng) -> dict:
    w_ok, group = weight_rows(node, g)
    wp = weight_params(w_ok, axis=0, qtype=ctx.weight_qtype(node), name=node.name)
    rows_f, rows_q = input_rows(node, g, x_f, group), input_rows(node, g, x_q, group)
    mg = w_ok.shape[0] // group
    chosen, near, err, iters, flipped, learned = [], 0.0, 0.0, 0, 0.0, 0
    for k in range(group):
        xf, xq = rows_f[k], rows_q[k]
        if xf.shape[0] > MAX_ROWS:
            pick = np.sort(rng.choice(xf.shape[0], MAX_ROWS, replace=False))
            xf, xq = xf[pick], xq[pick]
        left = max(1, group - k)
        part_stop = time.monotonic() + max(0.0, stop - time.monotonic()) / left
        r = learn_rounding(group_matrix(w_ok, k, group), wp.scales[k * mg:(k + 1) * mg], wp.qmin, wp.qmax,
                           Grams.of(xf, xq), int(options["iterations"]), deadline=part_stop)
        chosen.append(r.weights)
        near, err, iters = near + r.error_nearest, err + r.error, max(iters, r.iterations)
        flipped += r.flipped * r.weights.size
        learned += r.learned
    ctx.chosen_weights[node.name] = _from_groups(chosen, w_ok.shape).astype(wp.qtype.dtype)
    return {"layer": node.name, "iterations": iters, "error_nearest": _sig(near), "error": _sig(err),
            "flipped": _sig(flipped / w_ok.size), "groups_learned": f"{learned}/{group}"}


def methods_record(config: QuantConfig, equalized: dict | None, refined: dict) -> dict:
    """The manifest's ``quantization.methods``: for each method, false when the config leaves it
    off, else what it did (or why it did not run)."""
    return {"equalize": equalized or False,
            "bias_correction": refined.get("bias_correction", False),
            "adaround": refined.get("adaround", False) if config.adaround_options() else False}
