"""Run a :class:`QModel`: host part before (float), quantise, integer layers, dequantise,
host part after (float). Integer layers run with their op's ``run_int``.

Layers may hand on their integers in any integer dtype that holds them (the emulator keeps the
narrowest it can, for speed); every tensor returned is in its qtype's storage dtype.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from ..errors import InputError
from ..ir.execute import check_feeds, run_graph
from ..ops import lookup
from ..quant.arith import dequantize, quantize


@dataclass
class EmulationResult:
    outputs: dict[str, np.ndarray]  # float model outputs
    raw: dict[str, np.ndarray]  # integer hardware outputs
    tensors: dict[str, np.ndarray] = field(default_factory=dict)  # every integer tensor (keep=True)
    saturated: dict[str, int] = field(default_factory=dict)  # per layer: outputs at the type limits


def _op(layer):
    op = lookup(layer.op_type, layer.domain)
    if op is None:
        raise InputError(f"layer '{layer.name}': op {layer.op_type} is not known to this fpga-accel")
    return op


def run_layers(qm, q_inputs: Mapping[str, np.ndarray], keep: bool = False) -> dict[str, np.ndarray]:
    """Integer hardware part only: integers in (per hardware input), integers out."""
    env: dict[str, np.ndarray] = {}
    for t in qm.inputs:
        if t.name not in q_inputs:
            raise InputError(f"raw input '{t.name}' is missing; the hardware inputs are {[x.name for x in qm.inputs]}")
        x = np.asarray(q_inputs[t.name])
        q = t.qparams.qtype
        if x.dtype.kind not in "iu" or tuple(x.shape[1:]) != tuple(t.shape[1:]):
            raise InputError(f"raw input '{t.name}' must be integers of shape (N, {', '.join(map(str, t.shape[1:]))}); "
                             f"got {x.dtype} {x.shape}")
        if x.size and (x.min() < q.min or x.max() > q.max):
            raise InputError(f"raw input '{t.name}' has values outside {q.name} [{q.min}, {q.max}]")
        env[t.name] = x.astype(q.dtype, copy=False)
    for layer in qm.layers:
        out = _op(layer).run_int(layer, [env[i] for i in layer.inputs])
        env[layer.outputs[0]] = out
    names = env if keep else [t.name for t in qm.outputs]
    return {k: env[k].astype(qm.tensors[k].qparams.qtype.dtype, copy=False) for k in names}


#: images per pass through the layers in :func:`emulate`: bounds the memory of the intermediates
#: (a few MB per image at most for the example models) and keeps them cache friendly
EMULATE_BATCH = 256


def emulate(qm, feeds: Mapping[str, np.ndarray], keep: bool = False,
            batch_size: int = EMULATE_BATCH) -> EmulationResult:
    """Float in, float out, through exactly the integers the hardware computes.

    The batch runs ``batch_size`` images at a time; the results are the same for any chunking.
    """
    feeds = check_feeds(qm.host_before, feeds)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InputError(f"batch_size must be a positive integer, got {batch_size!r}")
    n = next(iter(feeds.values())).shape[0] if feeds else 0
    if n <= batch_size:
        return _emulate(qm, feeds, keep)
    parts = [_emulate(qm, {k: v[s:s + batch_size] for k, v in feeds.items()}, keep) for s in range(0, n, batch_size)]

    def join(dicts):
        return {k: np.concatenate([d[k] for d in dicts]) for k in dicts[0]}

    return EmulationResult(join([p.outputs for p in parts]), join([p.raw for p in parts]),
                           join([p.tensors for p in parts]),
                           {k: sum(p.saturated[k] for p in parts) for k in parts[0].saturated})


def _emulate(qm, feeds, keep: bool) -> EmulationResult:
    pre = run_graph(qm.host_before, feeds) if qm.host_before.nodes else dict(feeds)
    q_in = {t.name: quantize(pre[t.name], t.qparams, name=t.name) for t in qm.inputs}
    env = run_layers(qm, q_in, keep=True)
    raw = {t.name: env[t.name] for t in qm.outputs}
    deq = {t.name: dequantize(raw[t.name], t.qparams) for t in qm.outputs}
    outs = run_graph(qm.host_after, deq) if qm.host_after.nodes else deq
    sat = {}
    for layer in qm.layers:
        p = qm.tensors[layer.outputs[0]].qparams
        v = env[layer.outputs[0]]
        # at a type limit; the lower limit only counts when it is not the integer of 0.0 (ReLU)
        at_min = int(np.count_nonzero(v == p.qtype.min)) if p.qtype.min != p.zero_point else 0
        sat[layer.name] = at_min + int(np.count_nonzero(v == p.qtype.max))
    return EmulationResult({o.name: outs[o.name] for o in qm.model_outputs}, raw, env if keep else {}, sat)
