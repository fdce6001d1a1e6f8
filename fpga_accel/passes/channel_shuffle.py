"""ShuffleNet's channel shuffle, exported as Reshape → Transpose → Reshape, becomes one ChannelShuffle."""
from __future__ import annotations

from ..ops.channel_shuffle import DOMAIN
from .base import Pass, register_pass
from .util import new_node, perm_of, refresh, sole_reader


def shuffle_of(g, n) -> tuple[int, int, object, object] | None:
    """(axis, groups, transpose, second reshape) when Reshape ``n`` starts a channel shuffle: it splits
    one axis of its input into (g, C/g), a Transpose swaps exactly those two, and a Reshape gives the
    input's shape back; the two tensors between them have no other reader. None otherwise."""
    if n.op_type != "Reshape" or n.domain:
        return None
    t = sole_reader(g, n.outputs[0])
    r = sole_reader(g, t.outputs[0]) if t is not None and t.op_type == "Transpose" else None
    if r is None or r.op_type != "Reshape" or r.domain:
        return None
    x, v = tuple(g.shape(n.inputs[0])), tuple(g.shape(n.outputs[0]))
    if tuple(g.shape(r.outputs[0])) != x or len(v) != len(x) + 1:
        return None
    perm = perm_of(g, t)
    for a in range(len(x)):
        swap = list(range(len(v)))
        swap[a], swap[a + 1] = a + 1, a
        if v[:a] + v[a + 2:] == x[:a] + x[a + 1:] and v[a] * v[a + 1] == x[a] and perm == swap and v[a] > 1:
            return a, int(v[a]), t, r
    return None


@register_pass
class FuseChannelShuffle(Pass):
    """Reshape (axis a of C channels into (g, C/g)) → Transpose (swapping those two axes) → Reshape
    (back to the input's shape), as PyTorch exports ShuffleNet's ``channel_shuffle``, is one
    ``ChannelShuffle`` (group g, axis a) under the last Reshape's output name: a permutation of each
    pixel's channels, which the layout passes move like any per-channel op and the hardware does in
    the stream, where the 5-D Transpose would need a whole-tensor reorder."""

    name = "fuse_channel_shuffle"
    description = "Reshape → Transpose → Reshape channel shuffle into ChannelShuffle"

    def apply(self, g) -> bool:
        changed = False
        for n in list(g.nodes):
            if not any(n is m for m in g.nodes):
                continue
            found = shuffle_of(g, n)
            if found is None:
                continue
            axis, groups, t, r = found
            g.remove_nodes([n, t, r])
            node = new_node(g, "ChannelShuffle", [n.inputs[0]], [r.outputs[0]], base=r.name, group=groups, axis=axis)
            node.domain = DOMAIN
            changed = True
        if changed:
            refresh(g)
            g.prune()
        return changed
