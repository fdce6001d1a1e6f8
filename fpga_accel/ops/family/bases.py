"""Base classes of op families: elementwise (Unary, Binary, Variadic), reductions (Reduce) and
pure reshapes (ReshapeInt); no op lives here."""
from __future__ import annotations

from typing import ClassVar

import numpy as np

from ...pe import stage as pe_stage
from ...pe.eltwise import lut_stage
from ...quant.lut import apply_lut, make_lut
from ...quant.qmodel import QLayer
from ..base import HARDWARE, Op, OutInfo
from .attrs import const_inputs, normalize_axes


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
