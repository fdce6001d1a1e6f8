"""Import of models that carry their own quantisation: QDQ (QuantizeLinear / DequantizeLinear).

Runs at the end of :func:`~fpga_accel.frontend.import_onnx`, after constant folding, and leaves
a float graph plus the model's parameters in ``graph.meta`` (see :mod:`fpga_accel.quant.given`):

- Weights and biases (``DequantizeLinear`` of constant integers) were folded by the importer into
  float initializers ``scale · (q − zp)``; the fold recorded the integers (``meta["weights"]``,
  ``meta["biases"]``).
- An activation pair ``x → QuantizeLinear → DequantizeLinear → y`` (same scale and zero point)
  is removed: the readers of ``y`` read ``x``, and ``meta["qparams"][x]`` holds the pair's
  :class:`QParams` (int8/uint8/int16/uint16 per tensor). When ``y`` is a graph output, ``x``'s
  producer is renamed ``y`` and the record follows. Passes keep the name of the later tensor
  (a fused Relu renames its Conv's output to its own), so the record names the tensor the
  hardware layer writes; where the layout passes rename it (a channels-last Conv writes
  ``x_nhwc``), ``passes/index_given.py`` has noted the node that writes it. A Relu that
  onnxruntime's quantiser leaves out is the clamp of the output type (real 0 is ``zero_point``).
- A QuantizeLinear producing a graph output or a DequantizeLinear reading a graph input stays,
  on the host (integer model outputs and inputs); its parameters are recorded on the float side.
  Any other QuantizeLinear / DequantizeLinear, a pair with different parameters, or per-axis
  activation parameters are reported as unsupported.

QONNX ``Quant`` / ``BipolarQuant`` nodes are absorbed the same way (:mod:`.qonnx`);
:mod:`.quantisers` runs both and lists the float nodes the host runs. docs/integer-contract.md §11
sums it up.
"""
from __future__ import annotations

from ..errors import Problem
from ..ir.qparams import QParams
from ..ir.qtype import QType
from .absorb import bypass, record

Q, DQ = "QuantizeLinear", "DequantizeLinear"


def qdq_params(g, node) -> QParams | str:
    """The per-tensor parameters of a QuantizeLinear / DequantizeLinear, or why there are none."""
    scale = g.const(node.inputs[1])
    zp = g.const(node.input(2)) if node.input(2) else None
    if scale is None or (node.input(2) and zp is None):
        return "scale or zero point is computed at run time; only constant parameters are supported"
    if scale.size != 1 or (zp is not None and zp.size != 1):
        return (f"per-axis parameters ({scale.size} scales) on an activation: the accelerator has one scale "
                f"and zero point per activation tensor; quantise activations per tensor")
    dt = g.info(node.outputs[0] if node.op_type == Q else node.inputs[0]).dtype
    if dt.kind not in "iu" or dt.itemsize > 2:
        return f"activations of type {dt} are not supported; use int8, uint8, int16 or uint16"
    try:
        return QParams(float(scale.reshape(())), int(zp.reshape(())) if zp is not None else 0,
                       QType(8 * dt.itemsize, dt.kind == "i"))
    except Exception as e:  # a non-positive or non-finite scale
        return f"invalid parameters: {e}"


def absorb_pairs(g, problems: list[Problem]) -> None:
    """Remove QuantizeLinear → DequantizeLinear pairs on activations, recording their parameters."""
    for q in [n for n in g.nodes if n.op_type == Q]:
        y = q.outputs[0]
        readers = g.consumers(y)
        if g.is_graph_output(y) or not readers or any(r.op_type != DQ for r in readers):
            continue
        p = qdq_params(g, q)
        if isinstance(p, str):
            problems.append(Problem(q.name, q.op_type, p))
            continue
        bad = [r for r in readers if qdq_params(g, r) != p]
        if bad:
            problems.append(Problem(bad[0].name, DQ, f"dequantises '{y}' with other parameters "
                                    f"({qdq_params(g, bad[0])}) than QuantizeLinear '{q.name}' quantised it "
                                    f"with ({p}); re-export the model with matching pairs"))
            continue
        g.remove_nodes([q])
        for dq in readers:
            name = bypass(g, q.inputs[0], dq.outputs[0], dq.name)
            g.remove_nodes([dq])
            record(g, name, p, problems, dq)


def absorb_edges(g, problems: list[Problem]) -> None:
    """Quantisers left after the pairs: kept on the host at the model's edges, else a problem."""
    for n in g.nodes:
        if n.op_type == Q and g.is_graph_output(n.outputs[0]):
            p = qdq_params(g, n)
            if not isinstance(p, str):
                record(g, n.inputs[0], p, problems, n)  # the hardware output gets the output's parameters
        elif n.op_type == DQ and n.inputs[0] in g.input_names:
            p = qdq_params(g, n)
            if not isinstance(p, str):
                record(g, n.outputs[0], p, problems, n)  # the host quantises it back to the same integers
        elif n.op_type == Q:
            users = ", ".join(f"'{r.name}' ({r.op_type})" for r in g.consumers(n.outputs[0]))
            problems.append(Problem(n.name, Q, f"its integers are read by {users}, not by a DequantizeLinear: "
                                    f"only the QDQ format (QuantizeLinear → DequantizeLinear around float ops) "
                                    f"is supported"))
        elif n.op_type == DQ:
            src = g.producer(n.inputs[0])
            problems.append(Problem(n.name, DQ, f"dequantises '{n.inputs[0]}', computed in integers by "
                                    f"'{src.name if src else '?'}': only the QDQ format is supported"))
