import numpy as np

from .base import Example, Op, register, unsupported
from .family.attrs import const_inputs, normalize_axes
from .family.bases import ReshapeInt


@register
class Unsqueeze(ReshapeInt, Op):
    op_type = "Unsqueeze"
    notes = "axes as attribute (opset < 13) or constant input; free in the stream"
    attrs = {"axes": None}

    def check(self, node, graph):
        problems = super().check(node, graph)
        if node.attrs["axes"] is None and not (node.input(1) and graph.is_const(node.input(1))):
            problems.append("the axes are missing or computed at run time; only constant axes are supported")
        return problems

    def _axes(self, node, values, rank: int) -> list[int]:
        axes = node.attrs["axes"] if node.attrs["axes"] is not None else values[1]
        return sorted(normalize_axes(node, axes, rank + np.size(axes)))  # axes index the output

    def infer(self, node, graph):
        x = graph.info(node.inputs[0])
        shape = list(x.shape)
        for a in self._axes(node, const_inputs(node, graph), len(shape)):
            shape.insert(a, 1)
        return [(tuple(shape), x.dtype)]

    def run(self, node, inputs):
        return [np.expand_dims(inputs[0], tuple(self._axes(node, inputs, inputs[0].ndim)))]

    def quantize(self, node, ctx):
        shape = ctx.g.shape(node.inputs[0])
        axes = self._axes(node, const_inputs(node, ctx.g), len(shape))
        if 0 in axes:
            raise unsupported(node, "it inserts an axis in front of the batch axis; the accelerator keeps "
                                    "the batch first", ctx.g)
        return super().quantize(node, ctx)

    def examples(self):
        x = np.random.default_rng(50).standard_normal((2, 3, 4)).astype(np.float32)
        a = lambda *v: np.array(v, np.int64)
        return [Example({}, [x, a(1)], const=(1,), name="input_axes"),
                Example({}, [x, a(-1, 1)], const=(1,), name="negative_unsorted"),
                Example({"axes": [3, 1]}, [x], opset=11, name="attr_opset11"),
                Example({"axes": [0]}, [x], opset=7, name="attr_opset7")]
