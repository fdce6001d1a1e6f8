"""Helpers for pass tests: build small graphs, run passes, compare before and after."""
from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper
from onnx_util import assert_close

from fpga_accel.frontend import import_onnx
from fpga_accel.ir import Graph, Node, TensorInfo, run_graph, verify
from fpga_accel.ops import lookup
from fpga_accel.passes import run_flow, run_passes

BATCH = 3


def onnx_graph(nodes, inputs: dict, outputs: list[str], inits: dict | None = None, opset: int = 13):
    """Import a model made of ``helper.make_node`` nodes; ``inputs`` maps names to shapes (batch 1)."""
    vis = [helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, list(s)) for n, s in inputs.items()]
    outs = [helper.make_tensor_value_info(o, onnx.TensorProto.UNDEFINED, None) for o in outputs]
    tensors = [numpy_helper.from_array(np.asarray(v), k) for k, v in (inits or {}).items()]
    m = helper.make_model(helper.make_graph(nodes, "t", vis, outs, tensors),
                          opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = min(m.ir_version, 8)
    return import_onnx(m)


def ir_graph(inputs: dict, nodes: list[tuple], outputs: list[str], inits: dict | None = None) -> Graph:
    """An IR graph built directly (for forms the importer would already simplify).

    ``nodes`` are (op_type, inputs, outputs, attrs) tuples; attribute defaults are filled in.
    """
    g = Graph(name="ir")
    g.inputs = [TensorInfo(n, s) for n, s in inputs.items()]
    g.tensors = {t.name: t for t in g.inputs}
    g.initializers = {k: np.asarray(v) for k, v in (inits or {}).items()}
    for i, (op_type, ins, outs, attrs) in enumerate(nodes):
        g.nodes.append(Node(f"{op_type.lower()}_{i}", op_type, list(ins), list(outs),
                            {**lookup(op_type).attrs, **attrs}))
    g.infer_shapes()
    g.outputs = [g.tensors[o] for o in outputs]
    return g


def feeds_for(g, seed: int = 0) -> dict[str, np.ndarray]:
    r = np.random.default_rng(seed)
    return {t.name: r.standard_normal((BATCH, *t.shape[1:])).astype(t.dtype) for t in g.inputs}


def check_rewrite(g, passes: list[str] | str, rtol: float = 1e-5):
    """Run ``passes`` (a list, or a flow name) on a copy of ``g`` with the verifier after every
    change; assert that both sides verify and compute the same outputs (same names and shapes)
    on random batch-3 inputs. Returns the rewritten graph."""
    verify(g)
    h = g.copy()
    if isinstance(passes, str):
        run_flow(h, passes, check=True)
    else:
        run_passes(h, passes, check=True)
    verify(h)
    assert h.output_names == g.output_names
    assert [t.shape for t in h.outputs] == [t.shape for t in g.outputs]
    feeds = feeds_for(g)
    want, got = run_graph(g, feeds), run_graph(h, feeds)
    for name in g.output_names:
        assert_close(got[name], want[name], rtol=rtol, what=f"output '{name}'")
    return h


def op_types(g) -> list[str]:
    return [n.op_type for n in g.nodes]


def rand(*shape, seed: int = 1, positive: bool = False) -> np.ndarray:
    x = np.random.default_rng(seed + sum(shape)).standard_normal(shape).astype(np.float32)
    return np.abs(x) + 0.5 if positive else x
