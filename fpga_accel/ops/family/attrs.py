"""Attribute rules op files share: axes, pads and windows from ONNX attributes, and the attributes
the compiler's passes add (layout, fused clip); no op lives here."""
from __future__ import annotations

import math

import numpy as np

from ..base import Op


def const_inputs(node, graph) -> list[np.ndarray | None]:
    """The node's inputs as ``run`` would see them, with None for runtime tensors and absent ones;
    lets ``infer`` and ``run`` share one parameter parser (axes, pads, bounds given as inputs)."""
    return [graph.const(i) if i else None for i in node.inputs]


def normalize_axes(node, axes, rank: int) -> list[int]:
    """Axes in [-rank, rank) made non-negative; a repeated axis is an error."""
    out = [normalize_axis(node, int(a), rank) for a in np.asarray(axes, dtype=np.int64).ravel()]
    if len(set(out)) != len(out):
        raise Op.fail(node, f"axes {np.ravel(axes).tolist()} name an axis twice")
    return out


def spatial_pads(node, in_spatial, kernel, strides, dilations, ceil_mode=False) -> list[int]:
    """Resolve ``pads``/``auto_pad`` to explicit ONNX pads [b0, b1, ..., e0, e1, ...]."""
    n = len(in_spatial)
    for what, v in (("kernel_shape", kernel), ("strides", strides), ("dilations", dilations)):
        if len(v) != n or any(int(d) < 1 for d in v):  # a window must exist and move
            raise Op.fail(node, f"{what} {list(v)} must hold {n} positive integer(s), one per spatial axis")
    auto = node.attrs.get("auto_pad", "NOTSET")
    if auto in ("NOTSET", "VALID"):
        pads = list(node.attrs.get("pads") or [0] * 2 * n)
        return [0] * 2 * n if auto == "VALID" else pads
    pads = [0] * 2 * n
    for d in range(n):
        out = math.ceil(in_spatial[d] / strides[d])
        eff_k = (kernel[d] - 1) * dilations[d] + 1
        total = max(0, (out - 1) * strides[d] + eff_k - in_spatial[d])
        small = total // 2
        if auto == "SAME_UPPER":
            pads[d], pads[d + n] = small, total - small
        else:  # SAME_LOWER
            pads[d], pads[d + n] = total - small, small
    return pads


def window_out(size: int, k: int, stride: int, dil: int, pad_b: int, pad_e: int, ceil_mode=False) -> int:
    eff = (k - 1) * dil + 1
    span = size + pad_b + pad_e - eff
    out = (-(-span // stride) if ceil_mode else span // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + pad_b:
        out -= 1  # the last window must start inside the input or the begin padding
    return out


def normalize_axis(node, axis: int, rank: int) -> int:
    if not -rank <= axis < rank:
        raise Op.fail(node, f"axis {axis} is out of range for rank {rank}")
    return axis % rank


# --- attributes the compiler's passes add (not ONNX) ---------------------------------------
#: ``clip``: [lo, hi] clamp fused from a following Relu / Clip (pass fuse_activation).
#: ``layout``: "NCHW" (ONNX) or "NHWC" (channels last, set by pass to_nhwc) for spatial ops.
FUSED_CLIP = {"clip": None}
LAYOUT = {"layout": "NCHW"}


def apply_clip(node, y: np.ndarray) -> np.ndarray:
    clip = node.attrs.get("clip")
    if clip is None:
        return y
    return np.clip(y, clip[0], clip[1])


def channels_last(node) -> bool:
    return node.attrs.get("layout", "NCHW") == "NHWC"


def to_nchw(node, x: np.ndarray) -> np.ndarray:
    """View a tensor of the node's layout as NCHW (identity for NCHW nodes)."""
    if not channels_last(node):
        return x
    return np.moveaxis(x, -1, 1)


def from_nchw(node, y: np.ndarray) -> np.ndarray:
    if not channels_last(node):
        return y
    return np.ascontiguousarray(np.moveaxis(y, 1, -1))


def shape_to_nchw(node, shape):
    if not channels_last(node):
        return tuple(shape)
    return (shape[0], shape[-1], *shape[1:-1])


def shape_from_nchw(node, shape):
    if not channels_last(node):
        return tuple(shape)
    return (shape[0], *shape[2:], shape[1])


def require_nhwc(node) -> None:
    if node.attrs.get("layout") != "NHWC":
        raise Op.fail(node, "the accelerator needs channels-last tensors; run the 'hardware' flow first")
