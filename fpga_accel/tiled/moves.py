"""Iterations of the tiled engine's data movers: the loops that are not the MAC loop (estimates).

The engine's loads move a bus word of W bytes an iteration and its output path P = W / itemsize
lanes an iteration (W: the arena masters' bus bytes, ``ddr.Rates.bus_bytes``); docs/tiled.md §4
gives the rules, which the HLS loops follow (memory.h, conv.h, output_path.h) and the cost model
counts per step (cost.Step ``load_moves``, ``fetch_moves``, ``store_moves``):

- a run of n bytes from byte offset a: one iteration per bus word it touches, :func:`words`;
- a pixel's run of cn channels: ``words(a, cn·s)``; a padding pixel (outside the image) ⌈cn·s / W⌉;
  a view of channel stride > 1 one element an iteration (cn);
- a split engine reads two rows side by side: per column the longer of the pair (:func:`grid`);
- a pixel unit's or a global pool's pixel read (pixels.h read_pixel): ``words(a, cn·s)``, a
  strided view's span read (pixel_access.reads_span) the words of its span, else cn (:func:`pixel_reads`);
- tap_load walks each (py, ky) halo row once, padding only where the image is not (:func:`tap_rows`);
- a dense or tap-parallel step moves its input and its weight run side by side: after its constants,
  the longer of the two (cost.py);
- the output path: ⌈n / P⌉ a pixel of n channels, one element an iteration (n) where the output
  or a residual view has channel stride > 1 (:func:`drain`).
"""
from __future__ import annotations

import numpy as np

from . import pixel_access
from .program import itemsize


def words(a, n: int, bus: int):
    """Bus words of ``bus`` bytes that n bytes from byte offset ``a`` touch (a: an int or an array)."""
    if n <= 0:
        return np.zeros_like(np.asarray(a)) if np.ndim(a) else 0
    return (a + n - 1) // bus - a // bus + 1


def padded(n: int, bus: int) -> int:
    """Iterations that fill n bytes on chip without reading DDR (a padding pixel, a pad fill)."""
    return -(-n // bus) if n > 0 else 0


def strided(view: dict) -> bool:
    return view.get("channel_stride", 1) != 1


def grid(view: dict, iy, ix, c0: int, cn: int, bus: int, split: bool = False) -> int:
    """Iterations of loading channels [c0, c0+cn) of the pixels rows ``iy`` × columns ``ix`` (input
    coordinates, in load order; outside the image: padding), row by row; ``split``: rows 2i and
    2i+1 side by side, per column the longer of the two (a lone last row its own)."""
    iy, ix = np.asarray(iy, dtype=np.int64), np.asarray(ix, dtype=np.int64)
    if not iy.size or not ix.size or cn <= 0:
        return 0
    s = itemsize(view["dtype"])
    inside = ((iy >= 0) & (iy < view["h"]))[:, None] & ((ix >= 0) & (ix < view["w"]))[None, :]
    if strided(view):
        read = np.full(inside.shape, cn, dtype=np.int64)
    else:
        a = view["offset"] + ((iy[:, None] * view["w"] + ix[None, :]) * view["pixel_stride"] + c0) * s
        read = words(a, cn * s, bus)
    per = np.where(inside, read, padded(cn * s, bus))
    if split:
        if per.shape[0] % 2:
            per = np.concatenate([per, np.zeros((1, per.shape[1]), dtype=np.int64)])
        per = per.reshape(-1, 2, per.shape[1]).max(axis=1)
    return int(per.sum())


def first_half(nbytes: int) -> int:
    """The bytes of a weight run a split engine reads through its first weights master (ports.split)."""
    return min(nbytes, -(-nbytes // 128) * 64)


def run(a: int, nbytes: int, bus: int, split: bool = False) -> int:
    """Iterations of a weight run of ``nbytes`` from ``a``; split: its two halves side by side."""
    if not split:
        return int(words(a, nbytes, bus))
    h = first_half(nbytes)
    return int(max(words(a, h, bus), words(a + h, nbytes - h, bus)))


def blocks(first: int, n: int, *blks: dict, bus: int) -> int:
    """Iterations of reading values [first, first + n) of each constants block, block by block."""
    return sum(int(words(b["offset"] + first * itemsize(b["dtype"]), n * itemsize(b["dtype"]), bus)) for b in blks)


def lanes(out: dict, bus: int, cap: int = 0) -> int:
    """P: the output path's lanes, min(cap, W / the output's itemsize) (int16 outputs use at most half
    of W's); ``cap`` the engine's ``out_lanes`` (0: none, W lanes)."""
    p = bus // itemsize(out["dtype"])
    return max(1, min(p, cap) if cap > 0 else p)


def drain(out: dict, residuals: list[dict], pixels: int, n: int, bus: int, cap: int = 0) -> int:
    """Output-path iterations of ``pixels`` pixels of n channels each: ⌈n / P⌉ a pixel, n where the
    output or a residual view is channel-strided (``cap``: the engine's ``out_lanes``, as :func:`lanes`)."""
    if pixels <= 0 or n <= 0:
        return 0
    if strided(out) or any(strided(r) for r in residuals):
        return pixels * n
    return pixels * -(-n // lanes(out, bus, cap))


def tap_rows(view: dict, iy, xa: int, hx: int, c0: int, cn: int, bus: int, split: bool = False) -> int:
    """Iterations of tap_load's halo rows ``iy`` (input rows, in order; outside the image: padding),
    each walked once over its hx columns from xa, channels [c0, c0+cn): a row outside the image
    ⌈hx·cn·s / W⌉; else its l padding columns left of the image ⌈l·cn·s / W⌉, the columns inside one
    run (the view's pixels hold just those channels) or pixel by pixel (:func:`grid`), its r padding
    columns right ⌈r·cn·s / W⌉; ``split``: rows 2i and 2i+1 side by side, the longer of the two."""
    iy = np.asarray(iy, dtype=np.int64)
    if not iy.size or hx <= 0 or cn <= 0:
        return 0
    s = itemsize(view["dtype"])
    left = min(max(-xa, 0), hx)
    right = min(max(xa + hx - view["w"], 0), hx - left)
    x0, inner = xa + left, hx - left - right
    if strided(view) or view["pixel_stride"] != cn:
        read = np.array([grid(view, [y], np.arange(x0, x0 + inner), c0, cn, bus) for y in iy], dtype=np.int64)
    else:
        read = words(view["offset"] + ((iy * view["w"] + x0) * view["pixel_stride"] + c0) * s, inner * cn * s, bus)
    read = read + padded(left * cn * s, bus) + padded(right * cn * s, bus)
    per = np.where((iy >= 0) & (iy < view["h"]), read, padded(hx * cn * s, bus))
    if split:
        per = np.concatenate([per, np.zeros(per.size % 2, dtype=np.int64)]).reshape(-1, 2).max(axis=1)
    return int(per.sum())


def pixel_reads(view: dict, ys, xs, c0: int, cn: int, bus: int) -> int:
    """Iterations of reading channels [c0, c0+cn) of pixels (ys, xs) pixel by pixel (pixels.h
    read_pixel): a run's bus words; a channel-strided view's span, where it is read whole
    (pixel_access.reads_span), its words; else one element an iteration."""
    ys, xs = np.asarray(ys, dtype=np.int64), np.asarray(xs, dtype=np.int64)
    if not ys.size or cn <= 0:
        return 0
    s, cs = itemsize(view["dtype"]), view.get("channel_stride", 1)
    a = view["offset"] + ((ys * view["w"] + xs) * view["pixel_stride"] + c0 * cs) * s
    if pixel_access.reads_span(view, cn):
        return int(words(a, pixel_access.span_bytes(view, cn), bus).sum())
    if cs != 1:
        return int(ys.size) * cn
    return int(words(a, cn * s, bus).sum())
