"""Small graph-editing helpers shared by the passes (no pass lives here)."""
from __future__ import annotations

import numpy as np

from ..ir.graph import Node, TensorInfo
from ..ops import lookup


def new_node(g, op_type: str, inputs: list[str], outputs: list[str], base: str | None = None, **attrs) -> Node:
    """A node with the op's default attributes filled in (as the importer does), appended to ``g``.

    The caller restores the order with :func:`refresh` once its edits are done.
    """
    op = lookup(op_type)
    full = {**(op.attrs if op is not None else {}), **attrs}
    node = Node(g.unique_name(base or op_type.lower()), op_type, list(inputs), list(outputs), full)
    g.nodes.append(node)
    return node


def fresh_tensor(g, base: str) -> str:
    """A tensor name not used anywhere in ``g`` (reserved by a placeholder shape until refresh)."""
    name = g.unique_name(base)
    g.tensors[name] = TensorInfo(name, ())  # reserve the name; refresh() computes the real shape
    return name


def refresh(g) -> None:
    """Restore topological order and recompute every intermediate shape after an edit."""
    g.topo_sort()
    g.infer_shapes()


def sole_reader(g, name: str) -> Node | None:
    """The only node reading ``name`` (and not a graph output), else None."""
    if g.is_graph_output(name):
        return None
    rs = g.consumers(name)
    return rs[0] if len(rs) == 1 else None


def channel_axis(node, rank: int) -> int:
    """Axis of the channels of a spatial op's data tensor: 1 in NCHW, last in NHWC."""
    return rank - 1 if node.attrs.get("layout", "NCHW") == "NHWC" else 1


def per_channel(c: np.ndarray, shape: tuple[int, ...], axis: int) -> np.ndarray | None:
    """``c`` as a vector over ``shape[axis]`` when broadcasting ``c`` against ``shape`` varies along
    that axis only and does not grow the shape; else None."""
    c = np.asarray(c)
    if c.ndim > len(shape):
        return None
    full = (1,) * (len(shape) - c.ndim) + c.shape
    if any(d != 1 for i, d in enumerate(full) if i != axis) or full[axis] not in (1, shape[axis]):
        return None
    return np.broadcast_to(c.reshape(-1), (shape[axis],)).astype(np.float64)


def inverse_perm(perm) -> list[int]:
    return [int(i) for i in np.argsort(perm)]


def perm_to_last(rank: int) -> list[int]:
    """Channels-first to channels-last: (0, 2, ..., r-1, 1)."""
    return [0, *range(2, rank), 1]


def perm_to_first(rank: int) -> list[int]:
    """Channels-last to channels-first: (0, r-1, 1, ..., r-2)."""
    return [0, rank - 1, *range(1, rank - 1)]


def perm_of(g, t) -> list[int]:
    """The permutation of a Transpose node (ONNX default: reverse the axes)."""
    perm = t.attrs.get("perm")
    if perm is None:
        return list(range(len(g.shape(t.inputs[0]))))[::-1]
    return [int(p) for p in perm]


def rewire(g, old: str, new: str) -> bool:
    """Readers of ``old`` read ``new`` instead; False (nothing done) when ``old`` is a graph output."""
    if g.is_graph_output(old):
        return False
    g.replace_uses(old, new)
    g.tensors.pop(old, None)
    return True


def moves_only_unit_axes(perm, shape) -> bool:
    """A Transpose with this perm keeps the batch first and the axes longer than 1 in order: the
    data does not move in memory (a one-channel NCHW image to NHWC, or (N, C, 1, 1) to (N, 1, 1, C))."""
    long = [a for a in perm if a == 0 or shape[a] != 1]  # the batch axis counts as long
    return perm[0] == 0 and long == sorted(long)
