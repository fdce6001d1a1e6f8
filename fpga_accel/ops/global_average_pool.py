import numpy as np

from .base import Example, Op, register
from .common import FUSED_CLIP, LAYOUT, apply_clip, from_nchw, shape_from_nchw, shape_to_nchw, to_nchw


class GlobalPool(Op):
    """Reduce every spatial axis to 1 (the result keeps the input's rank and layout)."""

    attrs = dict(LAYOUT)

    def check(self, node, graph):
        problems = super().check(node, graph)
        rank = len(graph.shape(node.inputs[0]))
        if rank not in (3, 4, 5):
            problems.append(f"only 1D, 2D and 3D inputs are supported (input rank {rank})")
        return problems

    def infer(self, node, graph):
        x = graph.info(node.inputs[0])
        xs = shape_to_nchw(node, x.shape)
        return [(shape_from_nchw(node, (*xs[:2], *[1] * (len(xs) - 2))), x.dtype)]

    def run(self, node, inputs):
        x = to_nchw(node, inputs[0])
        y = self.reduce(x, tuple(range(2, x.ndim)))
        return [from_nchw(node, apply_clip(node, y)).astype(x.dtype, copy=False)]

    def reduce(self, x: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
        raise NotImplementedError


@register
class GlobalAveragePool(GlobalPool):
    op_type = "GlobalAveragePool"
    notes = "mean over all spatial positions, 1D/2D/3D"
    attrs = {**LAYOUT, **FUSED_CLIP}

    def reduce(self, x, axes):
        return x.mean(axis=axes, keepdims=True, dtype=np.float64)

    def macs(self, node, graph):
        """Accumulations per image: one per input element (the same in either layout)."""
        return int(np.prod(graph.shape(node.inputs[0])[1:]))

    def examples(self):
        r = np.random.default_rng(5)
        f = lambda *s: r.standard_normal(s).astype(np.float32)
        return [Example({}, [f(2, 3, 5, 6)], name="2d"), Example({}, [f(1, 4, 9)], name="1d"),
                Example({}, [f(1, 2, 3, 4, 5)], name="3d")]
