"""Push Transposes down through regions of ops that do not care about the layout."""
from __future__ import annotations

import numpy as np

from ..ops import get_op
from ..ops.channel_shuffle import DOMAIN as CHANNEL_SHUFFLE_DOMAIN
from ..ops.family.bases import Binary, Unary, Variadic
from .base import Pass, get_pass, register_pass
from .transpose_into_weights import absorbs
from .util import fresh_tensor, inverse_perm, new_node, perm_of, refresh

#: elementwise ops of one data input that are not Unary subclasses (extra inputs: scalar constants)
_ONE_INPUT = ("Clip", "Cast")


def _axis_free(op) -> bool:
    return not ({"axis", "axes", "layout"} & set(op.attrs))


def data_inputs(g, n, rank: int) -> list[int] | None:
    """Positions of the inputs ``n`` applies elementwise (or concatenates / pads) when ``n`` can
    work in any layout of rank ``rank``; None when it cannot."""
    if any(o for o in n.outputs[1:]) or len(g.shape(n.outputs[0])) != rank:
        return None
    op = get_op(n)
    if (isinstance(op, Unary) or n.op_type in _ONE_INPUT) and _axis_free(op):
        rest = [i for i in n.inputs[1:] if i]
        return [0] if all(g.is_const(i) and g.const(i).size == 1 for i in rest) else None
    if (n.op_type, n.domain) == ("ChannelShuffle", CHANNEL_SHUFFLE_DOMAIN):
        return [0]  # its axis is remapped
    if n.op_type == "Slice":  # its axes are remapped: they must be constant inputs (opset >= 10)
        return [0] if len(n.inputs) > 1 and all(g.is_const(i) for i in n.inputs[1:] if i) else None
    if n.op_type == "Pad":
        pads = g.const(n.input(1)) if n.input(1) else n.attrs.get("pads")
        return [0] if not n.input(3) and pads is not None and len(pads) == 2 * rank else None
    if (isinstance(op, (Binary, Variadic)) and _axis_free(op)) or n.op_type == "Concat":
        for i in n.inputs:
            c = g.const(i)
            if len(g.shape(i)) > rank or (c is None and len(g.shape(i)) != rank):
                return None
        return list(range(len(n.inputs)))
    return None


def relaid_const(g, name: str, perm: list[int]) -> str:
    """A constant that broadcasts against the transposed layout as ``name`` did against the original."""
    c = g.const(name)
    if c.size == 1 and c.ndim <= 1:
        return name
    full = c.reshape((1,) * (len(perm) - c.ndim) + c.shape)
    return g.add_const(name + "_t", np.ascontiguousarray(full.transpose(inverse_perm(perm))))


class _Region:
    """Layout-agnostic nodes reachable downstream of a Transpose, and what moving it would cost."""

    def __init__(self, g, t):
        self.perm = perm_of(g, t)
        rank = len(self.perm)
        self.nodes, self.data = [], {}
        frontier = list(g.consumers(t.outputs[0]))
        while frontier:
            n = frontier.pop(0)
            if any(n is m for m in self.nodes):
                continue
            pos = data_inputs(g, n, rank)
            if pos is None:
                continue
            self.nodes.append(n)
            self.data[id(n)] = pos
            frontier += g.consumers(n.outputs[0])
        self.produced = {n.outputs[0] for n in self.nodes}

    def inside(self, n) -> bool:
        return id(n) in self.data

    def boundary_inputs(self, g) -> list[str]:
        seen = []
        for n in self.nodes:
            for j in self.data[id(n)]:
                i = n.inputs[j]
                if i and i not in self.produced and i not in seen:
                    seen.append(i)
        return seen

    def boundary_outputs(self, g) -> list[str]:
        return [o for o in self.produced
                if g.is_graph_output(o) or any(not self.inside(r) for r in g.consumers(o))]

    def cost(self, g) -> int:
        """Change in the number of Transposes (after inverse pairs cancel) if the region moves."""
        inv = inverse_perm(self.perm)
        total = 0
        for i in self.boundary_inputs(g):
            p = g.producer(i)
            if p is not None and p.op_type == "Transpose" and perm_of(g, p) == self.perm:
                readers_inside = all(self.inside(r) for r in g.consumers(i))
                total -= 1 if readers_inside and not g.is_graph_output(i) else 0
            elif not g.is_const(i) and not any(r.op_type == "Transpose" and perm_of(g, r) == inv
                                               for r in g.consumers(i)):
                total += 1  # a Transpose to the region's layout goes on this input (unless one is there)
        for o in self.boundary_outputs(g):
            outside = [r for r in g.consumers(o) if not self.inside(r)]
            cancels = [r for r in outside if r.op_type == "Transpose" and perm_of(g, r) == inv]
            total -= len(cancels)
            if g.is_graph_output(o) or len(cancels) < len(outside):
                shape = g.shape(o)
                in_shape = [shape[j] for j in inv]
                # a Flatten into a dense layer takes the Transpose into its weights
                absorbed = (not g.is_graph_output(o) and len(outside) == 1
                            and absorbs(g, self.perm, in_shape, outside[0]))
                total += 0 if absorbed else 1
        return total


@register_pass
class TransposeSinking(Pass):
    """A Transpose moves below the layout-agnostic ops downstream of it when that lowers the number
    of Transposes once inverse pairs cancel.

    Layout-agnostic: unary elementwise ops (Relu, Sigmoid, Clip, Cast, ...), elementwise ops of
    several inputs (Add, Mul, Sub, Max, Sum, ...; constants are re-laid-out to broadcast the same
    way, other inputs get a Transpose), Concat (axis remapped), Pad (pads permuted), Slice with
    constant inputs (axes remapped) and ChannelShuffle (axis remapped). The whole
    connected region moves at once, so shared tensors (residual skips, x·sigmoid(x)) are handled.
    Tensors leaving the region get a Transpose back under their old name: names and the layout
    of graph outputs never change.
    """

    name = "transpose_sinking"
    description = "move Transposes below layout-agnostic regions"

    def apply(self, g) -> bool:
        changed = False
        progress = True
        budget = 4 * len(g.nodes) + 10  # every move lowers the Transpose count; this guards a bug
        while progress and budget:
            progress, budget = False, budget - 1
            for t in [n for n in g.nodes if n.op_type == "Transpose"]:
                region = _Region(g, t)
                if region.nodes and region.cost(g) < 0:
                    self._move(g, region)
                    refresh(g)
                    # costs are exact only once inverse pairs have cancelled: without this, a
                    # region could move back and forth across a pair not yet cancelled
                    get_pass("cancel_transposes").apply(g)
                    changed = progress = True
                    break
        return changed

    @staticmethod
    def _move(g, region: _Region) -> None:
        perm, inv = region.perm, inverse_perm(region.perm)
        rank = len(perm)
        new_in: dict[str, str] = {}
        for i in region.boundary_inputs(g):
            p = g.producer(i)
            if p is not None and p.op_type == "Transpose" and perm_of(g, p) == perm:
                new_in[i] = p.inputs[0]
            elif g.is_const(i):
                new_in[i] = relaid_const(g, i, perm)
            else:
                new_in[i] = fresh_tensor(g, i + "_t")
                new_node(g, "Transpose", [i], [new_in[i]], base=i + "_transpose", perm=inv)
        for o in region.boundary_outputs(g):
            moved = fresh_tensor(g, o + "_t")
            for n in region.nodes:
                n.inputs = [moved if x == o else x for x in n.inputs]
                n.outputs = [moved if x == o else x for x in n.outputs]
            new_node(g, "Transpose", [moved], [o], base=o + "_transpose", perm=perm)
        for n in region.nodes:
            n.inputs = [new_in.get(x, x) if j in region.data[id(n)] else x for j, x in enumerate(n.inputs)]
            if n.op_type == "Concat":
                n.attrs["axis"] = perm[int(n.attrs["axis"]) % rank]
            elif n.op_type == "Pad":
                _permute_pads(g, n, perm)
            elif n.op_type == "Slice":
                _permute_slice_axes(g, n, perm)
            elif n.op_type == "ChannelShuffle":
                n.attrs["axis"] = perm[int(n.attrs["axis"]) % rank]


def _permute_slice_axes(g, n, perm) -> None:
    """Axis a of the old input is axis perm[a] of the new one (no axes: the first len(starts))."""
    r = len(perm)
    starts = g.const(n.inputs[1])
    axes = g.const(n.input(3)) if n.input(3) else np.arange(np.size(starts))
    new = np.array([perm[int(a) % r] for a in np.ravel(axes)], np.int64)
    while len(n.inputs) < 4:
        n.inputs.append("")
    n.inputs[3] = g.add_const((n.input(3) or n.name + "_axes") + "_t", new)


def _permute_pads(g, n, perm) -> None:
    r = len(perm)
    pads = g.const(n.input(1)) if n.input(1) else n.attrs["pads"]
    new = [0] * (2 * r)
    for i, p in enumerate(perm):  # axis i of the old output is axis p of the new one
        new[p], new[p + r] = int(pads[i]), int(pads[i + r])
    if n.input(1):
        n.inputs[1] = g.add_const(n.input(1) + "_t", np.array(new, np.int64))
    else:
        n.attrs["pads"] = new
