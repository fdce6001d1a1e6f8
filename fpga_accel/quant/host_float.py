"""A float host op between hardware nodes (a Softmax in the middle), as an integer layer.

On the tiled engine such a node does not split the model: it becomes a layer of the quantised model
that runs on the host between engine segments (fpga_accel/tiled/segments.py). Its integers are
defined by the contract's host boundary, as for the ops before and after the accelerated part:
dequantise each input (scale · (q − zero point)), run the node's float reference, quantise the
output (round half to even, clamp). The layer keeps the node as a one-node graph (JSON plus its
constant arrays) and the parameters of its tensors, so it runs from its own record.
"""
from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..ir.execute import run_graph
from ..ir.serialize import graph_from_dict, graph_to_dict, subgraph
from .arith import dequantize, quantize
from .qmodel import QLayer, QTensor

KEY = "host_float"


def is_host_float(layer) -> bool:
    return isinstance(layer.config, dict) and KEY in layer.config


def host_float_layer(node, g, ctx) -> QLayer:
    """The layer of float node ``node`` of ``g`` between hardware nodes; ``ctx`` (a QuantContext)
    gives its tensors' parameters."""
    if len(node.outputs) != 1:
        raise InputError(f"node '{node.name}' ({node.op_type}) runs on the host between hardware nodes and has "
                         f"{len(node.outputs)} outputs; a host step writes one tensor")
    ins = [i for i in node.inputs if i and not g.is_const(i)]
    one = subgraph(g, [node], ins, list(node.outputs), f"{node.name}_host")
    d, arrays = graph_to_dict(one, "host")
    tensor = lambda t: QTensor(t, g.shape(t), ctx.act(t)).to_dict()  # noqa: E731
    config = {KEY: d, "inputs_q": [tensor(t) for t in ins], "output_q": tensor(node.outputs[0])}
    return QLayer(node.name, node.op_type, ins, list(node.outputs), config, dict(arrays), node.domain)


def run_host_float(layer, inputs: list[np.ndarray]) -> np.ndarray:
    """Integers in, integers out: dequantise, the node's float reference, quantise."""
    c = layer.config
    try:
        graph = graph_from_dict(c[KEY], layer.consts)
        ins_q = [QTensor.from_dict(t) for t in c["inputs_q"]]
        out_q = QTensor.from_dict(c["output_q"])
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise InputError(f"host layer '{layer.name}' ({layer.op_type}): its record is malformed ({e!r:.80})") from None
    if len(graph.nodes) != 1 or graph.nodes[0].op_type != layer.op_type or len(ins_q) != len(inputs):
        raise InputError(f"host layer '{layer.name}' ({layer.op_type}): its record must hold one {layer.op_type} "
                         f"node reading {len(inputs)} tensor(s)")
    feeds = {t.name: dequantize(x, t.qparams) for t, x in zip(ins_q, inputs)}
    y = run_graph(graph, feeds)[out_q.name]
    return quantize(y, out_q.qparams, name=out_q.name)
