"""Shared pieces of op definitions: unary/binary templates and spatial window arithmetic."""
from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

from ..pe import stage as pe_stage
from ..pe.eltwise import lut_stage
from ..quant.lut import apply_lut, make_lut
from ..quant.qmodel import QLayer
from .base import HARDWARE, Op, OutInfo


class Unary(Op):
    """An elementwise op of one input: subclasses define ``fn``.

    In hardware every unary op is a lookup table over the input's integers (quant/lut.py), built
    from the op's own float reference ``run`` (extra inputs, like Clip's bounds, are constants).
    """

    placement: ClassVar[str] = HARDWARE

    def infer(self, node, graph) -> list[OutInfo]:
        i = graph.info(node.inputs[0])
        return [(i.shape, i.dtype)]

    def run(self, node, inputs):
        x = inputs[0]
        return [self.fn(node, x).astype(x.dtype, copy=False)]

    def fn(self, node, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def quantize(self, node, ctx):
        x, y = node.inputs[0], node.outputs[0]
        p_in, p_out = ctx.act(x), ctx.act(y)
        rest = [ctx.const(i) if i else None for i in node.inputs[1:]]
        table = make_lut(lambda v: self.run(node, [v, *rest])[0], p_in, p_out, name=node.name)
        return QLayer(node.name, self.op_type, [x], [y], {"in_qtype": p_in.qtype.name}, {"lut": table})

    def run_int(self, layer, inputs):
        return apply_lut(inputs[0], layer.consts["lut"], layer.config["in_qtype"])

    lowering = "lut"

    def lower(self, layer, ctx):
        """A 2^N-entry lookup table over the input integers, PE channels per word."""
        x, y = layer.inputs[0], layer.outputs[0]
        shape = ctx.shape(x)
        lanes = channel_lanes(ctx, shape)
        n_words = int(np.prod(shape[1:])) // lanes
        return [lut_stage(layer.name, ctx.port(x, lanes), ctx.port(y, lanes), n_words, layer.consts["lut"])]


class Binary(Op):
    """An elementwise op of two inputs with numpy (multidirectional) broadcasting."""

    def infer(self, node, graph) -> list[OutInfo]:
        a, b = graph.info(node.inputs[0]), graph.info(node.inputs[1])
        try:
            shape = np.broadcast_shapes(a.shape, b.shape)
        except ValueError:
            raise self.fail(node, f"inputs of shapes {a.shape} and {b.shape} do not broadcast")
        return [(shape, np.result_type(a.dtype, b.dtype))]

    def run(self, node, inputs):
        a, b = inputs
        return [np.asarray(self.fn(a, b)).astype(np.result_type(a.dtype, b.dtype), copy=False)]

    def fn(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class Variadic(Op):
    """An elementwise op of one or more inputs (Max, Min, Sum), broadcast together and folded
    left to right with ``fn``."""

    def infer(self, node, graph) -> list[OutInfo]:
        infos = [graph.info(i) for i in node.inputs]
        try:
            shape = np.broadcast_shapes(*(i.shape for i in infos))
        except ValueError:
            raise self.fail(node, f"inputs of shapes {[i.shape for i in infos]} do not broadcast")
        return [(shape, np.result_type(*(i.dtype for i in infos)))]

    def run(self, node, inputs):
        y = inputs[0]
        for x in inputs[1:]:
            y = self.fn(y, x)
        return [np.asarray(y).astype(np.result_type(*inputs), copy=False)]

    def fn(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class Reduce(Op):
    """ReduceMean / ReduceMax / ReduceSum: ``axes`` as attribute (older opsets) or as a constant
    second input (ReduceSum from 13, the others from 18); no axes reduces all of them unless
    ``noop_with_empty_axes``. Subclasses define ``fn(x, axes, keepdims)``."""

    attrs: ClassVar[dict] = {"axes": None, "keepdims": 1, "noop_with_empty_axes": 0}

    def check(self, node, graph) -> list[str]:
        problems = super().check(node, graph)
        if node.input(1) and not graph.is_const(node.input(1)):
            problems.append("the axes are computed at run time; only constant axes are supported")
        return problems

    def axes(self, node, values, rank: int) -> list[int] | None:
        """Normalised axes to reduce, or None when the op is an identity."""
        axes = node.attrs["axes"]
        if axes is None and len(values) > 1:
            axes = values[1]
        if axes is None or np.size(axes) == 0:
            return None if node.attrs["noop_with_empty_axes"] else list(range(rank))
        return normalize_axes(node, axes, rank)

    def infer(self, node, graph) -> list[OutInfo]:
        x = graph.info(node.inputs[0])
        axes = self.axes(node, const_inputs(node, graph), len(x.shape))
        if axes is None:
            return [(x.shape, x.dtype)]
        keep = node.attrs["keepdims"]
        shape = [1 if d in axes else n for d, n in enumerate(x.shape) if keep or d not in axes]
        return [(tuple(shape), x.dtype)]

    def run(self, node, inputs):
        x = inputs[0]
        axes = self.axes(node, inputs, x.ndim)
        if axes is None:
            return [x]
        y = self.fn(x, tuple(axes), bool(node.attrs["keepdims"]))
        return [np.asarray(y).astype(x.dtype, copy=False)]

    def fn(self, x: np.ndarray, axes: tuple[int, ...], keepdims: bool) -> np.ndarray:
        raise NotImplementedError


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


def windows(x: np.ndarray, kernel, strides, dilations, out_spatial) -> np.ndarray:
    """Strided view of all windows: (N, C, *out_spatial, *kernel), x already padded."""
    n_sp = len(kernel)
    view_shape = x.shape[:2] + tuple(out_spatial) + tuple(kernel)
    st = x.strides
    view_strides = st[:2] + tuple(st[2 + d] * strides[d] for d in range(n_sp)) + tuple(
        st[2 + d] * dilations[d] for d in range(n_sp))
    return np.lib.stride_tricks.as_strided(x, view_shape, view_strides, writeable=False)


def pad_spatial(x: np.ndarray, pads: list[int], value: float = 0.0) -> np.ndarray:
    n = len(pads) // 2
    need = [(0, 0), (0, 0)] + [(pads[d], pads[d + n]) for d in range(n)]
    if not any(pads):
        return x
    return np.pad(x, need, constant_values=value)


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


# --- integer references on channels-last tensors ------------------------------------------
def windows_nhwc(x: np.ndarray, kernel, strides, dilations, out_spatial) -> np.ndarray:
    """Strided view of all windows of a padded channels-last tensor: (N, *out, *kernel, C)."""
    n_sp = len(kernel)
    st = x.strides
    shape = (x.shape[0], *out_spatial, *kernel, x.shape[-1])
    strides_ = (st[0], *(st[1 + d] * strides[d] for d in range(n_sp)),
                *(st[1 + d] * dilations[d] for d in range(n_sp)), st[-1])
    return np.lib.stride_tricks.as_strided(x, shape, strides_, writeable=False)


def pad_nhwc(x: np.ndarray, pads, value: int) -> np.ndarray:
    """Pad the spatial axes of a channels-last tensor (ONNX pads order) with ``value``."""
    n = len(pads) // 2
    if not any(pads):
        return x
    return np.pad(holding(x, value), [(0, 0)] + [(pads[d], pads[d + n]) for d in range(n)] + [(0, 0)],
                  constant_values=value)


def holding(x: np.ndarray, value) -> np.ndarray:
    """``x``, in a wider integer dtype if its own cannot hold ``value``: layers hand on integers in the
    narrowest dtype that holds their outputs, which need not hold a padding value (qmin, zp)."""
    if x.dtype.kind in "iu" and not np.iinfo(x.dtype).min <= value <= np.iinfo(x.dtype).max:
        return x.astype(np.promote_types(x.dtype, np.min_scalar_type(value)))
    return x


def require_nhwc(node) -> None:
    if node.attrs.get("layout") != "NHWC":
        raise Op.fail(node, "the accelerator needs channels-last tensors; run the 'hardware' flow first")


class ReshapeInt:
    """Integer form of ops that only reshape (Flatten, Reshape, Squeeze, Unsqueeze): the same
    integers, same scale, in the output's shape (the batch stays on axis 0)."""

    passthrough_q = True

    def quantize(self, node, ctx):
        return QLayer(node.name, node.op_type, [node.inputs[0]], [node.outputs[0]],
                      {"out_shape": list(ctx.g.shape(node.outputs[0]))})

    def run_int(self, layer, inputs):
        x = inputs[0]
        return x.reshape((x.shape[0], *layer.config["out_shape"][1:]))

    lowering = "none (stream rename)"

    def lower(self, layer, ctx):
        return rename_stage(layer, ctx)


def rename_stage(layer, ctx) -> list:
    """A reshape keeps the NHWC element order of the stream: no PE, the output stream is the input's."""
    q = ctx.qtype(layer.inputs[0])
    return [pe_stage.rename_stage(layer.name, layer.inputs[0], layer.outputs[0], q.bits, q.signed)]


def channel_lanes(ctx, shape) -> int:
    """Elements per stream word of an elementwise / pooling PE: the folding's PE, dividing the channels."""
    lanes = ctx.pe
    ctx.require("PE", lanes, int(shape[-1]), "the channels")
    return lanes
