"""A model's own quantisers (QDQ and QONNX) absorbed into the graph, after the importer's constant
folding: :mod:`.qonnx` takes the ``Quant`` / ``BipolarQuant`` nodes, :mod:`.qdq` the QuantizeLinear /
DequantizeLinear pairs and the quantisers left at the model's edges; every problem is reported at
once. Then float nodes ahead of the model's first quantised tensor (input normalisation) and after
its last quantised layer (a final scalar affine map) are listed in ``meta["preprocess"]`` and
``meta["postprocess"]``: they run on the host, in float, as the model defines them. Last, a layer
that no quantiser follows may get the exact parameters of its sum (:func:`.qonnx.exact_outputs`).
"""
from __future__ import annotations

from ..errors import Problem, UnsupportedModelError
from ..ir.registry import lookup
from .qdq import DQ, Q, absorb_edges, absorb_pairs
from .qonnx import absorb_qonnx, exact_outputs

QUANTISERS = {Q, DQ, "Quant", "BipolarQuant"}


def mark_host_nodes(g) -> None:
    """List the float nodes ahead of the first quantised tensor (``meta["preprocess"]``) and after
    the last quantised layer (``meta["postprocess"]``); see the module docstring."""
    given = set(g.meta.get("qparams") or {})
    if not given:
        return
    prod = {o: n for n in g.nodes for o in n.outputs}
    below: dict[int, bool] = {}  # a given tensor is upstream
    for n in g.nodes:
        below[id(n)] = any(i in given or (i in prod and below[id(prod[i])]) for i in n.inputs)
    above: dict[int, bool] = {}  # a given tensor is downstream (or is an output)
    for n in reversed(g.nodes):
        above[id(n)] = any(o in given or any(above.get(id(r), False) for r in g.consumers(o)) for o in n.outputs)
    domain = set(given)  # given tensors and reshapes / pools of them: what quantised layers read
    for n in g.nodes:
        op = lookup(n.op_type, n.domain)
        if n.inputs and n.inputs[0] in domain and op is not None and (op.passthrough_q or n.op_type in
                                                                       ("Transpose", "Identity")):
            domain.update(n.outputs)
    pre = [n.name for n in g.nodes if above[id(n)] and not below[id(n)]]
    post = [n.name for n in g.nodes if not above[id(n)] and not any(i in domain for i in n.inputs)
            and below[id(n)]]
    if pre:
        g.meta["preprocess"] = pre
    if post:
        g.meta["postprocess"] = post


def absorb_quantisers(g, where: str = "model") -> None:
    """Absorb every quantiser of ``g`` (QDQ and QONNX) into ``g.meta``; report what cannot be."""
    if not any(n.op_type in QUANTISERS for n in g.nodes):
        return
    problems: list[Problem] = []
    absorb_qonnx(g, problems)
    absorb_pairs(g, problems)
    absorb_edges(g, problems)
    if problems:
        raise UnsupportedModelError(problems, where)
    g.topo_sort()
    mark_host_nodes(g)
    exact_outputs(g)
