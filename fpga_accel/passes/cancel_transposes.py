"""Consecutive Transposes merge into one, identities and duplicates disappear."""
from __future__ import annotations

from .base import Pass, register_pass
from .util import perm_of, rewire


@register_pass
class CancelTransposes(Pass):
    """``Transpose(Transpose(x, p1), p2)`` becomes ``Transpose(x, q)`` with ``q[j] = p1[p2[j]]``,
    and vanishes when ``q`` is the identity (as when a layout Transpose meets its inverse); a
    Transpose with the identity permutation is removed; two Transposes of the same tensor with
    the same permutation become one. Graph outputs keep their names (an Identity carries a name
    that no other node can produce; drop_identity removes it where it can)."""

    name = "cancel_transposes"
    description = "merge consecutive Transposes, remove identity and duplicate ones"

    def apply(self, g) -> bool:
        changed = False
        seen: dict[tuple[str, tuple[int, ...]], str] = {}
        for t in list(g.nodes):
            if t.op_type != "Transpose":
                continue
            perm = perm_of(g, t)
            first = g.producer(t.inputs[0])
            if first is not None and first.op_type == "Transpose":
                p1 = perm_of(g, first)
                t.inputs = [first.inputs[0]]
                t.attrs["perm"] = perm = [p1[j] for j in perm]
                changed = True
            if perm == list(range(len(perm))):
                if rewire(g, t.outputs[0], t.inputs[0]):
                    g.remove_nodes([t])
                else:
                    t.op_type, t.attrs = "Identity", {}
                changed = True
                continue
            key = (t.inputs[0], tuple(perm))
            if key in seen and rewire(g, t.outputs[0], seen[key]):
                g.remove_nodes([t])
                changed = True
                continue
            seen.setdefault(key, t.outputs[0])
        if changed:
            g.prune()
        return changed
