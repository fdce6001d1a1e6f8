"""Where every tensor of a tiled program lives: views of regions of the activation arena, decided so
that concatenation, channel slice and channel shuffle are addressing, not copies (docs/tiled.md §1).

A placement is ``tensor -> (root tensor, channel offset, channel stride)`` in channel slots of the
root's pixels (the root's region holds h × w pixels of ``slots`` channel slots). It is decided from
the consumers back:

- a concatenation's inputs sit at its channel offsets (stride 1 relative to it);
- a channel shuffle of a concatenation read by it alone: with g groups of C/g channels, the
  concatenation's channel j of group b is the shuffle's channel (j mod C/g)·g + b, so an input lying
  in one group sits at channel offset (j₀ mod C/g)·g + b with channel stride g;
- a channel slice [start, stop) placed so is satisfied by placing its source around it (offset
  − start·stride); a slice nobody places is a view of its source (a slice keeps its source's
  integers and parameters: the quantiser refuses anything else).

An input is placed only when its parameters are the destination's (the requantisation is the
identity) and it is written by a descriptor or a host step, or is itself such a view; anything else
is copied into place by a ``requant`` descriptor. Finally every channel slot of a region must have
one writer: a slice whose placement would give a slot two writers (its source spilling over
another input's channels) is copied instead, and the placement redone.
"""
from __future__ import annotations

import math

from ..errors import ModelError


def hwc(shape) -> tuple[int, int, int] | None:
    """A tensor's (H, W, C) in the arena, without the batch; None above rank 4."""
    s = [int(d) for d in shape[1:]]
    return {1: lambda: (1, 1, s[0]), 2: lambda: (1, s[0], s[1]), 3: lambda: tuple(s)}.get(len(s), lambda: None)()


class Placement:
    """The placement of a quantised model's tensors: ``kinds`` per layer (build.py's classes),
    ``producer`` tensor -> layer, ``final`` descriptor root -> the tensor it writes, ``folded`` the
    concatenations a shuffle turns into addressing."""

    def __init__(self, qm, kinds: dict, producer: dict, final: dict, folded: set):
        self.qm, self.kinds, self.producer, self.final, self.folded = qm, kinds, producer, final, folded

    def _place(self, forbid: set[int]):
        """Where tensors live inside other tensors' regions, decided from the consumers back:
        tensor -> (root tensor, channel offset, channel stride), in channel slots of the root's
        pixels. A concatenation's inputs sit at its channel offsets; a shuffled concatenation's at
        interleaved channels; a channel slice placed so is satisfied by placing its source around it
        (unless the slice is in ``forbid``). What cannot be placed is copied there: copies are
        [(position, (source, first channel, step), destination place, channels, rescale)]. ``via``
        names the slices each placement went through."""
        qm, L, kinds = self.qm, self.qm.layers, self.kinds
        place, via, copies = {}, {}, []
        written = set(self.final.values()) | {L[i].outputs[0] for i in kinds if kinds[i] == "host"}
        aliased = {L[i].inputs[0] for i in kinds if kinds[i] == "alias"}

        def settle(x: str, target: tuple, through: frozenset) -> bool:
            if x in place:
                return place[x] == target
            p = self.producer.get(x)
            kind = kinds.get(p) if p is not None else None
            if x in aliased:
                return False
            if kind == "slice":
                src, (start, _, step) = L[p].inputs[0], L[p].config["ranges"][-1]
                root, off, cs = target
                if p in forbid or cs % step or off < start * (cs // step):
                    return False
                if not settle(src, (root, off - start * (cs // step), cs // step), through | {p}):
                    return False
            elif not (x in written or kind in ("concat", "shuffle")):
                return False
            place[x], via[x] = target, through | ({p} if kind == "slice" else set())
            return True

        def inputs_at(i: int, cat_layer: int, slot_of) -> None:
            y = L[i].outputs[0]
            root, off, cs = place.setdefault(y, (y, 0, 1))
            start, base_via = 0, via.get(y, frozenset())
            for x, r in zip(L[cat_layer].inputs, L[cat_layer].config["rescales"]):
                n = hwc(qm.tensors[x].shape)[2]
                first, step = slot_of(start)
                target = (root, off + first * cs, step * cs)
                identity = is_identity(r, qm.tensors[x].qparams, qm.tensors[y].qparams)
                if not (identity and settle(x, target, base_via)):
                    copies.append((cat_layer, (x, 0, 1), target, n, r, base_via))
                start += n

        for i in reversed(range(len(L))):
            if kinds[i] == "concat" and i not in self.folded:
                inputs_at(i, i, lambda s: (s, 1))
            elif kinds[i] == "shuffle":
                j = self.producer[L[i].inputs[0]]
                g = L[i].config["group"]
                per = hwc(qm.tensors[L[i].inputs[0]].shape)[2] // g
                inputs_at(i, j, lambda s, g=g, per=per: ((s % per) * g + s // per, g))
        return place, via, copies

    def solve(self):
        """Placements without two writers on one slot: a slice whose placement makes its source
        collide with another writer is copied instead, and the placement redone."""
        forbid: set[int] = set()
        while True:
            place, via, copies = self._place(forbid)
            place, materialised, slots = self._complete(place)
            clash = _clash(self.qm, place, copies, self._writers(materialised))
            if clash is None:
                return place, materialised, slots, copies
            blame = set().union(*(via.get(t, ()) if isinstance(t, str) else t[2] for t in clash))
            if not blame:
                raise ModelError(f"model '{self.qm.name}': tensors {clash} would share channels of one region")
            forbid |= blame

    def _writers(self, materialised) -> list[str]:
        """Materialised tensors written by a descriptor, a host step or the host (not views)."""
        views = ("alias", "concat", "shuffle", "slice")
        return [t for t in materialised if self.producer.get(t) is None or self.kinds[self.producer[t]] not in views]

    def _complete(self, place):
        """Every materialised tensor placed (views of reshapes and slices from their sources, in
        order), and each root region's channel slots per pixel."""
        qm, L = self.qm, self.qm.layers
        materialised = [t.name for t in qm.inputs]  # in the order they are written
        for i in range(len(L)):
            if self.kinds[i] in ("alias", "concat", "host", "shuffle", "slice") and i not in self.folded:
                materialised.append(L[i].outputs[0])
            elif i in self.final:
                materialised.append(self.final[i])
        for t in dict.fromkeys(materialised):
            p = self.producer.get(t)
            if t in place:
                continue
            kind = self.kinds[p] if p is not None else None
            if kind == "alias":
                src = L[p].inputs[0]
                root, off, cs = place[src]
                whole = math.prod(qm.tensors[root].shape) == math.prod(qm.tensors[src].shape)
                if off or cs != 1 or not whole or self._extent(place, root) != hwc(qm.tensors[root].shape)[2]:
                    why = "reshapes a tensor stored inside a concatenation or with other channels (not contiguous)"
                    from .build import TiledUnsupportedError  # (build.py imports this module)

                    raise TiledUnsupportedError([(L[p].name, L[p].op_type, why)], f"model '{qm.name}'")
                place[t] = (root, 0, 1)
            elif kind == "slice":  # a view of its source: offset and step in the source's channels
                root, off, cs = place[L[p].inputs[0]]
                start, _, step = L[p].config["ranges"][-1]
                place[t] = (root, off + start * cs, step * cs)
            else:
                place[t] = (t, 0, 1)
        slots = {root: self._extent(place, root) for root, _, _ in place.values()}
        return place, materialised, slots

    def _extent(self, place, root) -> int:
        """Channel slots per pixel of ``root``'s region: the last channel any placement reaches."""
        shapes = {t: hwc(self.qm.tensors[t].shape) for t, where in place.items() if where[0] == root}
        ends = [place[t][1] + (s[2] - 1) * place[t][2] + 1 for t, s in shapes.items() if s[:2] == shapes[root][:2]]
        return max(ends)


def _clash(qm, place: dict, copies: list, writers: list[str]) -> tuple | None:
    """Two writers (tensors or copies) that would write one channel slot of a region, or None."""
    owner: dict = {}
    items = [(t, place[t], hwc(qm.tensors[t].shape)[2]) for t in writers]
    items += [(("copy", k, c[5]), c[2], c[3]) for k, c in enumerate(copies)]
    for who, (root, off, cs), n in items:
        for slot in range(off, off + n * cs, cs):
            other = owner.setdefault((root, slot), who)
            if other != who:
                return other, who
    return None


def is_identity(r: dict, p_in, p_out) -> bool:
    """Whether a concat input's rescale maps every integer of its type to itself."""
    q = p_in.qtype
    return (len(r["multipliers"]) == 1 and r["multipliers"][0] == 1 << r["shift"] and r["zero_points"][0] == r["zp_out"]
            and r["lo"] <= q.min and r["hi"] >= q.max and q.dtype == p_out.qtype.dtype)
