"""IR graphs as JSON-able dicts plus named arrays, for the bundle (no pickle, no onnx needed)."""
from __future__ import annotations

from typing import Any

import numpy as np

from .graph import Graph, Node, TensorInfo


def _info(t: TensorInfo) -> dict:
    return {"name": t.name, "shape": list(t.shape), "dtype": t.dtype.name}


def _attr_to_json(key: str, v, arrays: dict[str, np.ndarray], prefix: str):
    if isinstance(v, np.ndarray):
        k = f"{prefix}.attr.{key}"
        arrays[k] = v
        return {"array": k}
    if isinstance(v, float) and not np.isfinite(v):
        return {"float": repr(v)}
    if isinstance(v, (list, tuple)):
        return [_attr_to_json(key, x, arrays, prefix) if isinstance(x, (np.ndarray, float)) else x for x in v]
    if isinstance(v, np.generic):
        return v.item()
    return v


def _attr_from_json(v, arrays):
    if isinstance(v, dict) and "array" in v:
        return arrays[v["array"]]
    if isinstance(v, dict) and "float" in v:
        return float(v["float"])
    if isinstance(v, list):
        return [_attr_from_json(x, arrays) for x in v]
    return v


def graph_to_dict(g: Graph, prefix: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(JSON-able description, arrays keyed ``prefix.*``) of ``g``."""
    arrays: dict[str, np.ndarray] = {}
    consts = {}
    for name, a in g.initializers.items():
        key = f"{prefix}.const.{len(consts)}"
        arrays[key] = a
        consts[name] = key
    nodes = []
    for i, n in enumerate(g.nodes):
        attrs = {k: _attr_to_json(k, v, arrays, f"{prefix}.node{i}") for k, v in n.attrs.items()}
        nodes.append({"name": n.name, "op_type": n.op_type, "domain": n.domain, "inputs": n.inputs,
                      "outputs": n.outputs, "attrs": attrs})
    d = {"name": g.name, "opset": g.opset, "inputs": [_info(t) for t in g.inputs],
         "outputs": [_info(t) for t in g.outputs], "tensors": [_info(t) for t in g.tensors.values()],
         "consts": consts, "nodes": nodes}
    return d, arrays


def graph_from_dict(d: dict[str, Any], arrays: dict[str, np.ndarray]) -> Graph:
    info = lambda t: TensorInfo(t["name"], tuple(t["shape"]), np.dtype(t["dtype"]))  # noqa: E731
    g = Graph(name=d["name"], opset=d["opset"])
    g.inputs = [info(t) for t in d["inputs"]]
    g.outputs = [info(t) for t in d["outputs"]]
    g.tensors = {t["name"]: info(t) for t in d["tensors"]}
    g.initializers = {name: arrays[key] for name, key in d["consts"].items()}
    g.nodes = [Node(n["name"], n["op_type"], list(n["inputs"]), list(n["outputs"]),
                    {k: _attr_from_json(v, arrays) for k, v in n["attrs"].items()}, n.get("domain", ""))
               for n in d["nodes"]]
    return g


def subgraph(g: Graph, nodes: list[Node], inputs: list[str], outputs: list[str], name: str) -> Graph:
    """A graph of ``nodes`` (a slice of ``g``) reading ``inputs`` and producing ``outputs``."""
    used = {i for n in nodes for i in n.inputs}
    sub = Graph(name=name, opset=g.opset, batch_symbol=g.batch_symbol)
    sub.inputs = [g.info(i) for i in inputs]
    sub.outputs = [g.info(o) for o in outputs]
    sub.nodes = list(nodes)
    sub.initializers = {k: v for k, v in g.initializers.items() if k in used}
    names = set(inputs) | set(outputs) | {o for n in nodes for o in n.outputs}
    sub.tensors = {k: v for k, v in g.tensors.items() if k in names}
    return sub
