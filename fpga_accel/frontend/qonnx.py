"""Import of QONNX models (Brevitas / qonnx exports): ``Quant`` and ``BipolarQuant`` nodes.

Called by :func:`~fpga_accel.frontend.quantisers.absorb_quantisers`. A QONNX ``Quant`` is a
quantise-dequantise pair in one node (``ops/quant.py``); its parameters map onto the contract as

    scale, zeropt (integer), bitwidth b, signed  →  QParams(scale, zeropt, QType(max(b, 2), signed))

- **Weights** (a Quant / BipolarQuant of a constant) were folded by the importer; the fold kept
  the integers in ``meta["weights"]`` (per tensor or per channel scale, zero point folded in,
  2..16 bits). BipolarQuant weights are int2 integers that are only ever −1 or +1.
- **Activations**: the node is removed and its output tensor gets the parameters. The integers a
  Quant produces may be a narrower range than its type: ``narrow`` (signed [−2^(b−1)+1, …]),
  unsigned ``narrow`` ([0, 2^b − 2]), or 1-bit unsigned ({0, 1} in uint2). That range becomes a
  ``Clip`` at the real values of its ends, which the ``hardware`` flow fuses into the producer's
  clamp (§6 of the contract gives exactly those integers back). Only ``rounding_mode="ROUND"``
  (half to even) maps onto requantisation; the others are rejected. Requantisation itself rounds
  ties up, so a value exactly halfway between two steps may land one step above the Quant's.
- A layer whose output no quantiser follows (the last MatMul of a classifier, before a float
  scalar map) computes, in QONNX's float semantics, exactly scale_in · scale_w · (integer sum). When
  its input and weights are given, the weight scale is one per tensor and its bias (if any) is
  an integer multiple of that product, the output gets exactly those parameters: scale
  s_in · s_w, zero point 0, the smallest signed type (≤ 16 bits) holding every possible sum
  (:func:`exact_outputs`). Requantisation is then by m = 1: no rounding at all.
- A Quant or BipolarQuant producing a graph output stays, on the host; the tensor it reads gets
  its parameters, so the host's Quant gives back the same integers.
- Not supported, each reported by node: bipolar (or signed 1-bit) activations — ±1 without a
  zero is no round-and-clamp of an affine map; more than 16 bits; a per-channel scale or zero
  point on an activation; a non-integer zero point; a bit width, scale or zero point computed
  at run time.
"""
from __future__ import annotations

import numpy as np

from ..errors import Problem
from ..ir.graph import Node
from ..ir.qparams import QParams
from ..ir.qtype import MAX_BITS, QType
from ..ir.registry import lookup
from ..ops.quant import bitwidth, int_range
from ..quant.given import given_weights, match_weights, weight_qtype
from .absorb import bypass, record

QONNX = {"Quant", "BipolarQuant"}


def quant_params(g, n) -> tuple[QParams, tuple[int, int]] | str:
    """(parameters, integer range it produces) of an activation Quant node, or why it has none."""
    if n.op_type == "BipolarQuant":
        return ("bipolar activations (±1, no zero) are not supported: requantisation rounds and clamps, "
                "which can give 0; use a signed 2-bit Quant with narrow=1 ({-1, 0, 1}) instead")
    a = n.attrs
    if str(a["rounding_mode"]).upper() != "ROUND":
        return (f"rounding_mode '{a['rounding_mode']}' on an activation: the accelerator rounds to nearest "
                f"(requantisation); only ROUND is supported")
    bits = bitwidth(n, g)
    scale, zp = g.const(n.inputs[1]), g.const(n.inputs[2])
    if bits is None or scale is None or zp is None:
        return "bitwidth, scale and zero point must be constants"
    if bits == 1 and a["signed"]:
        return "a signed 1-bit Quant is bipolar (±1, no zero), which is not supported on activations"
    if bits > MAX_BITS:
        return f"{bits}-bit activations: the accelerator supports 2 to {MAX_BITS} bits"
    if scale.size != 1 or zp.size != 1:
        return (f"per-channel parameters ({scale.size} scales, {zp.size} zero points) on an activation: the "
                f"accelerator has one scale and zero point per activation tensor")
    z = float(zp.reshape(()))
    if z != round(z):
        return f"zero point {z} is not an integer"
    try:
        p = QParams(float(scale.reshape(())), int(z), QType(max(bits, 2), bool(a["signed"])))
    except Exception as e:  # non-positive scale, zero point outside the type
        return f"invalid parameters: {e}"
    return p, int_range(bits, bool(a["signed"]), bool(a["narrow"]))


def absorb_qonnx(g, problems: list[Problem]) -> None:
    """Remove every activation Quant, recording its parameters; keep output quantisers on the host."""
    for n in [n for n in g.nodes if n.op_type in QONNX]:
        x, y = n.inputs[0], n.outputs[0]
        got = quant_params(g, n)
        if g.is_graph_output(y):  # stays (host); the hardware output gets its parameters
            if not isinstance(got, str):
                record(g, x, got[0], problems, n)
            continue
        if isinstance(got, str):
            problems.append(Problem(n.name, n.op_type, got))
            continue
        p, (lo, hi) = got
        g.remove_nodes([n])
        if (lo, hi) == (p.qmin, p.qmax):
            record(g, bypass(g, x, y, n.name), p, problems, n)
            continue
        # a narrower range than the type: a Clip at the real values of its ends (fused later)
        dt = g.info(x).dtype
        c_lo = g.add_const(f"{n.name}_lo", np.array(p.scale * (lo - p.zero_point), dt))
        c_hi = g.add_const(f"{n.name}_hi", np.array(p.scale * (hi - p.zero_point), dt))
        g.nodes.append(Node(g.unique_name(f"{n.name}_range"), "Clip", [x, c_lo, c_hi], [y],
                            dict(lookup("Clip").attrs)))
        record(g, y, p, problems, n)


def exact_outputs(g) -> None:
    """Give the output of a Conv / Gemm / MatMul with given input and weights, and no quantiser
    after it, the parameters of its exact accumulator (see the module docstring). Recorded by
    tensor name only: if a pass later folds something into the layer, the record is left unused."""
    qp = g.meta.get("qparams") or {}
    weights = given_weights(g)
    if not weights:
        return
    for n in g.nodes:
        if n.op_type not in ("Conv", "Gemm", "MatMul") or n.outputs[0] in qp or n.inputs[0] not in qp:
            continue
        w, b = g.const(n.inputs[1]), g.const(n.input(2)) if n.input(2) else None
        if w is None or (n.op_type != "Conv" and w.ndim != 2) or n.attrs.get("transA"):
            continue
        if n.op_type == "MatMul":
            w = w.T
        elif n.op_type == "Gemm":
            w = (w if n.attrs["transB"] else w.T) * n.attrs["alpha"]
            b = None if b is None else b * n.attrs["beta"]
        hit = match_weights(weights, w, 0, prefer=n.inputs[1])
        if hit is None or np.ptp(hit[1].scales) != 0:
            continue
        q, wp = hit
        p_in = qp[n.inputs[0]]
        s = p_in.scale * wp.scales[0]
        bq = np.zeros(q.shape[0]) if b is None else np.broadcast_to(np.ravel(b) / s, (q.shape[0],))
        if np.any(np.abs(bq - np.rint(bq)) > 1e-3):
            continue
        span = max(abs(p_in.qmin - p_in.zero_point), abs(p_in.qmax - p_in.zero_point))
        bound = int(np.max(np.abs(q.reshape(q.shape[0], -1).astype(np.int64)).sum(axis=1) * span + np.abs(np.rint(bq))))
        qt = weight_qtype(-bound, bound)
        if qt is not None:
            qp[n.outputs[0]] = QParams(s, 0, qt)
