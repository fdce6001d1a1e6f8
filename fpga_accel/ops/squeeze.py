import numpy as np

from .base import Example, Op, register, unsupported
from .family.attrs import const_inputs, normalize_axes
from .family.bases import ReshapeInt


@register
class Squeeze(ReshapeInt, Op):
    op_type = "Squeeze"
    notes = "axes as attribute (opset < 13) or constant input; no axes drops every 1 dim; free in the stream"
    attrs = {"axes": None}

    def check(self, node, graph):
        problems = super().check(node, graph)
        if node.input(1) and not graph.is_const(node.input(1)):
            problems.append("the axes are computed at run time; only constant axes are supported")
        return problems

    def _axes(self, node, values, shape) -> tuple[int, ...]:
        axes = node.attrs["axes"]
        if axes is None and len(values) > 1:
            axes = values[1]
        if axes is None:
            return tuple(d for d, n in enumerate(shape) if n == 1)
        axes = tuple(normalize_axes(node, axes, len(shape)))
        bad = [a for a in axes if shape[a] != 1]
        if bad:
            raise self.fail(node, f"cannot squeeze axes {bad} of shape {tuple(shape)}: their size is not 1")
        return axes

    def infer(self, node, graph):
        x = graph.info(node.inputs[0])
        axes = self._axes(node, const_inputs(node, graph), x.shape)
        return [(tuple(n for d, n in enumerate(x.shape) if d not in axes), x.dtype)]

    def run(self, node, inputs):
        return [np.squeeze(inputs[0], self._axes(node, inputs, inputs[0].shape))]

    def quantize(self, node, ctx):
        shape = ctx.g.shape(node.inputs[0])
        axes = self._axes(node, const_inputs(node, ctx.g), shape)
        if 0 in axes:
            raise unsupported(node, "it removes the batch axis 0; the accelerator keeps it first", ctx.g)
        return super().quantize(node, ctx)

    def examples(self):
        x = np.random.default_rng(51).standard_normal((2, 1, 4, 1)).astype(np.float32)
        a = lambda *v: np.array(v, np.int64)
        return [Example({}, [x, a(1)], const=(1,), name="input_axes"),
                Example({}, [x, a(-1, 1)], const=(1,), name="negative"),
                Example({}, [x], name="all_ones"),
                Example({"axes": [3]}, [x], opset=11, name="attr_opset11"),
                Example({"axes": [1, 3]}, [x], opset=7, name="attr_opset7")]
