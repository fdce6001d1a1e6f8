"""How the engine's pixel units (elementwise, mul, pools: ``tiled/pixels.h``) move one pixel's Tm
channels through a view, for the cost model and the reference executor's byte counts.

A pixel's channels [c0, c0 + cn) are one run when the view's channel stride is 1. With a stride
cs > 1 they lie every cs-th element of a span of (cn − 1)·cs + 1 elements:

- read: the span in one run (every cs-th element kept on chip) when its beats are fewer than cn,
  the element bursts' one beat each; otherwise cn element bursts;
- write: the span read, the cn values put in, the span written back, when twice its beats are fewer
  than cn and it fits :data:`SPAN_BYTES`; otherwise cn element bursts.

Beats are counted for the worst alignment on a :data:`~fpga_accel.tiled.ddr.BUS_BYTES` bus, so the
choice depends on the view and cn alone, as in the HLS.
"""
from __future__ import annotations

import numpy as np

from .ddr import BUS_BYTES
from .program import itemsize

#: the on-chip copy of a span a write rewrites (tiled/pixels.h SPAN_BYTES)
SPAN_BYTES = 4096


def span_bytes(view: dict, cn: int) -> int:
    return ((cn - 1) * view.get("channel_stride", 1) + 1) * itemsize(view["dtype"])


def span_beats(nbytes: int) -> int:
    """Most beats ``nbytes`` consecutive bytes take on the bus, whatever their alignment."""
    return (nbytes + 2 * BUS_BYTES - 2) // BUS_BYTES


def reads_span(view: dict, cn: int) -> bool:
    return view.get("channel_stride", 1) > 1 and cn > 1 and span_beats(span_bytes(view, cn)) < cn


def writes_span(view: dict, cn: int) -> bool:
    n = span_bytes(view, cn)
    return view.get("channel_stride", 1) > 1 and cn > 1 and n <= SPAN_BYTES and 2 * span_beats(n) < cn


def read_bytes(view: dict, cn: int) -> int:
    """Bytes one pixel's read of ``cn`` channels moves."""
    return span_bytes(view, cn) if reads_span(view, cn) else cn * itemsize(view["dtype"])


def write_bytes(view: dict, cn: int) -> tuple[int, int]:
    """(bytes read, bytes written) of one pixel's write of ``cn`` channels."""
    if writes_span(view, cn):
        return span_bytes(view, cn), span_bytes(view, cn)
    return 0, cn * itemsize(view["dtype"])


def _base(view: dict, ys, xs, c0: int) -> np.ndarray:
    """Byte offset of channel c0 of pixels (ys, xs)."""
    return view["offset"] + ((ys * view["w"] + xs) * view["pixel_stride"] + c0 * view.get("channel_stride", 1)) \
        * itemsize(view["dtype"])


def pixel_reads(view: dict, ys, xs, c0: int, cn: int) -> tuple[np.ndarray, np.ndarray]:
    """(offsets, bytes) of reading channels [c0, c0+cn) of pixels (ys, xs), one row per pixel."""
    ib, cs = itemsize(view["dtype"]), view.get("channel_stride", 1)
    base = _base(view, ys, xs, c0)[:, None]
    if cs == 1 or reads_span(view, cn):
        n = cn * ib if cs == 1 else span_bytes(view, cn)
        return base, np.full(base.shape, n, dtype=np.int64)
    off = base + np.arange(cn, dtype=np.int64)[None, :] * cs * ib
    return off, np.full(off.shape, ib, dtype=np.int64)


def element_reads(views: list[dict], ys, xs, c0: int, cn: int) -> tuple[np.ndarray, np.ndarray]:
    """(offsets, bytes) of reading channel by channel, each channel of every view in turn (the post
    stages' residuals, lane by lane), one row per pixel."""
    offs, sizes = [], []
    for v in views:
        ib = itemsize(v["dtype"])
        offs.append(_base(v, ys, xs, c0)[:, None] + np.arange(cn, dtype=np.int64)[None, :] * v.get("channel_stride", 1) * ib)
        sizes.append(np.full(offs[-1].shape, ib, dtype=np.int64))
    n = len(np.asarray(ys))
    if not offs:
        return np.zeros((n, 0), np.int64), np.zeros((n, 0), np.int64)
    return np.stack(offs, 2).reshape(n, -1), np.stack(sizes, 2).reshape(n, -1)


def pixel_writes(view: dict, ys, xs, c0: int, cn: int) -> tuple[tuple, tuple]:
    """((offsets, bytes) read, (offsets, bytes) written) of writing channels [c0, c0+cn) of pixels
    (ys, xs), one row per pixel (no read columns without a span)."""
    ib, cs = itemsize(view["dtype"]), view.get("channel_stride", 1)
    base = _base(view, ys, xs, c0)[:, None]
    if cs == 1 or writes_span(view, cn):
        n = np.full(base.shape, cn * ib if cs == 1 else span_bytes(view, cn), dtype=np.int64)
        empty = np.zeros((base.shape[0], 0), np.int64)
        return ((base, n) if cs > 1 else (empty, empty)), (base, n)
    off = base + np.arange(cn, dtype=np.int64)[None, :] * cs * ib
    empty = np.zeros((base.shape[0], 0), np.int64)
    return (empty, empty), (off, np.full(off.shape, ib, dtype=np.int64))


def in_order(*parts: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Accesses of several (offsets, bytes) tables, pixel by pixel and, within a pixel, table by
    table in the order given: flat (offsets, bytes) for :func:`fpga_accel.tiled.ddr.runs`."""
    parts = [p for p in parts if p[0].size]
    if not parts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate([p[0] for p in parts], 1).ravel(), np.concatenate([p[1] for p in parts], 1).ravel()
