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


def parse_host_float(layer):
    """(graph, input QTensors, output QTensor) of a host float layer, checked: a record read from a
    bundle is untrusted (one node of the layer's op, consistent by the IR verifier, reading the
    layer's inputs and writing its output)."""
    from ..errors import GraphError
    from ..ir.verify import verify

    c = layer.config
    where = f"host layer '{str(layer.name)[:80]}' ({str(layer.op_type)[:40]})"
    try:
        graph = graph_from_dict(c[KEY], layer.consts)
        ins_q = [QTensor.from_dict(t) for t in c["inputs_q"]]
        out_q = QTensor.from_dict(c["output_q"])
        verify(graph)
    except (KeyError, TypeError, ValueError, AttributeError, GraphError) as e:
        raise InputError(f"{where}: its record is malformed ({e!r:.120})") from None
    if (len(graph.nodes) != 1 or graph.nodes[0].op_type != layer.op_type or graph.input_names != [t.name for t in ins_q]
            or [t.name for t in ins_q] != list(layer.inputs) or [out_q.name] != list(layer.outputs)
            or graph.output_names != [out_q.name]):
        raise InputError(f"{where}: its record must hold one {str(layer.op_type)[:40]} node reading the layer's inputs "
                         "and writing its output")
    return graph, ins_q, out_q


def run_host_float(layer, inputs: list[np.ndarray]) -> np.ndarray:
    """Integers in, integers out: dequantise, the node's float reference, quantise."""
    graph, ins_q, out_q = parse_host_float(layer)
    if len(inputs) != len(ins_q):
        raise InputError(f"host layer '{layer.name}' ({layer.op_type}) reads {len(ins_q)} tensor(s), given {len(inputs)}")
    feeds = {t.name: dequantize(x, t.qparams) for t, x in zip(ins_q, inputs)}
    y = run_graph(graph, feeds)[out_q.name]
    return quantize(y, out_q.qparams, name=out_q.name)
