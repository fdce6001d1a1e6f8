"""The IR: a graph of named tensors and nodes, close to ONNX but self-contained.

Tensors are named; every tensor has a concrete shape and a numpy dtype. The leading
dimension of a graph input is the batch: the IR is built for batch 1 and every op's
reference runs on any batch size (the frontend rewrites batch-dependent constants).
Constants live in ``initializers``; a tensor is constant iff it is an initializer.
"""
from __future__ import annotations

import copy as _copy
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np

from ..errors import GraphError
from .registry import get_op

#: elements of one tensor (1 GiB of float32): a model asking for more is refused before anything
#: is allocated, so a few bytes of model cannot exhaust the memory (ConstantOfShape, Range, ...)
MAX_ELEMENTS = 1 << 28


@dataclass
class TensorInfo:
    name: str
    shape: tuple[int, ...]
    dtype: np.dtype = field(default_factory=lambda: np.dtype(np.float32))

    def __post_init__(self) -> None:
        self.shape = tuple(int(d) for d in self.shape)
        self.dtype = np.dtype(self.dtype)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))


@dataclass
class Node:
    name: str
    op_type: str
    inputs: list[str]
    outputs: list[str]
    attrs: dict[str, Any] = field(default_factory=dict)
    domain: str = ""

    def input(self, i: int) -> str:
        """Name of input ``i``, or "" when the optional input is absent."""
        return self.inputs[i] if i < len(self.inputs) else ""


@dataclass
class Graph:
    name: str = "graph"
    inputs: list[TensorInfo] = field(default_factory=list)
    outputs: list[TensorInfo] = field(default_factory=list)
    nodes: list[Node] = field(default_factory=list)
    initializers: dict[str, np.ndarray] = field(default_factory=dict)
    tensors: dict[str, TensorInfo] = field(default_factory=dict)
    opset: int = 13
    batch_symbol: str | None = None  # name of the symbolic batch dim in the source model
    meta: dict[str, Any] = field(default_factory=dict)  # provenance: producer, source opset, sha256

    # --- queries -----------------------------------------------------------
    def info(self, name: str) -> TensorInfo:
        if name in self.tensors:
            return self.tensors[name]
        if name in self.initializers:
            a = self.initializers[name]
            return TensorInfo(name, a.shape, a.dtype)
        raise GraphError(f"tensor '{name}' has no shape information")

    def shape(self, name: str) -> tuple[int, ...]:
        return self.info(name).shape

    def is_const(self, name: str) -> bool:
        return name in self.initializers

    def const(self, name: str) -> np.ndarray | None:
        """The constant value of ``name``, or None when it is computed at run time."""
        return self.initializers.get(name)

    def producer(self, name: str) -> Node | None:
        for n in self.nodes:
            if name in n.outputs:
                return n
        return None

    def consumers(self, name: str) -> list[Node]:
        return [n for n in self.nodes if name in n.inputs]

    def node(self, name: str) -> Node:
        for n in self.nodes:
            if n.name == name:
                return n
        raise GraphError(f"no node named '{name}'")

    @property
    def input_names(self) -> list[str]:
        return [t.name for t in self.inputs]

    @property
    def output_names(self) -> list[str]:
        return [t.name for t in self.outputs]

    def is_graph_output(self, name: str) -> bool:
        return name in self.output_names

    # --- edits -------------------------------------------------------------
    def unique_name(self, base: str) -> str:
        taken = set(self.tensors) | set(self.initializers) | {n.name for n in self.nodes}
        taken |= {o for n in self.nodes for o in n.outputs}
        if base not in taken:
            return base
        i = 1
        while f"{base}_{i}" in taken:
            i += 1
        return f"{base}_{i}"

    def add_const(self, base: str, value: np.ndarray) -> str:
        name = self.unique_name(base)
        self.initializers[name] = np.asarray(value)
        return name

    def replace_uses(self, old: str, new: str) -> None:
        """Make every consumer (and the graph outputs) read ``new`` instead of ``old``."""
        for n in self.nodes:
            n.inputs = [new if i == old else i for i in n.inputs]
        for o in self.outputs:
            if o.name == old:
                raise GraphError(f"cannot rewire graph output '{old}'; rename the producer instead")

    def remove_nodes(self, nodes: Iterable[Node]) -> None:
        ids = {id(n) for n in nodes}
        self.nodes = [n for n in self.nodes if id(n) not in ids]

    def bypass(self, node: Node) -> None:
        """Remove a single-input/single-output node, wiring its input to its consumers.

        When the node's output is a graph output, the producer of the input is renamed instead
        so graph output names never change.
        """
        src, dst = node.inputs[0], node.outputs[0]
        self.remove_nodes([node])
        if self.is_graph_output(dst):
            prod = self.producer(src)
            if prod is None or self.is_graph_output(src) or src in self.input_names:
                # nothing to rename: keep an Identity so the output name survives
                self.nodes.append(Node(node.name, "Identity", [src], [dst]))
                self.topo_sort()
                return
            prod.outputs = [dst if o == src else o for o in prod.outputs]
            self.replace_uses(src, dst)
            self.tensors.pop(src, None)
        else:
            self.replace_uses(dst, src)
            self.tensors.pop(dst, None)

    def prune(self) -> None:
        """Drop nodes whose outputs nobody reads, and unused initializers / tensor infos."""
        needed = set(self.output_names)
        keep: list[Node] = []
        for n in reversed(self.nodes):
            if any(o in needed for o in n.outputs):
                keep.append(n)
                needed.update(i for i in n.inputs if i)
        self.nodes = keep[::-1]
        self.initializers = {k: v for k, v in self.initializers.items() if k in needed}
        live = needed | set(self.input_names) | {o for n in self.nodes for o in n.outputs}
        self.tensors = {k: v for k, v in self.tensors.items() if k in live}

    def topo_sort(self) -> None:
        available = set(self.input_names) | set(self.initializers) | {""}
        pending, ordered = list(self.nodes), []
        while pending:
            ready = [n for n in pending if all(i in available for i in n.inputs)]
            if not ready:
                names = ", ".join(f"'{n.name}'" for n in pending[:5])
                raise GraphError(f"graph has a cycle or an undefined input near nodes {names}")
            for n in ready:
                ordered.append(n)
                available.update(n.outputs)
            pending = [n for n in pending if all(n is not r for r in ready)]
        self.nodes = ordered

    def infer_shapes(self) -> None:
        """Recompute every intermediate tensor's shape and dtype from the op shape rules."""
        for n in self.nodes:
            infos = get_op(n).infer(n, self)
            for out, (shape, dtype) in zip(n.outputs, infos):
                if out:
                    self.tensors[out] = TensorInfo(out, shape, dtype)
        for i, o in enumerate(self.outputs):
            self.outputs[i] = self.tensors.get(o.name, o)

    def copy(self) -> "Graph":
        return _copy.deepcopy(self)

    def __str__(self) -> str:
        from .text import to_text

        return to_text(self)
