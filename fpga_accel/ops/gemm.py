import numpy as np

from .base import Example, Op, register
from .common import FUSED_CLIP, apply_clip


@register
class Gemm(Op):
    op_type = "Gemm"
    notes = "Y = alpha·A'·B' + beta·C with transA/transB; B constant"
    attrs = {"alpha": 1.0, "beta": 1.0, "transA": 0, "transB": 0, **FUSED_CLIP}

    def check(self, node, graph):
        problems = super().check(node, graph)
        if not graph.is_const(node.inputs[1]):
            problems.append("B (weights) is not a constant")
        if node.attrs["transA"]:
            problems.append("transA=1 is not supported (the batch must stay on axis 0)")
        return problems

    def infer(self, node, graph):
        a, b = graph.info(node.inputs[0]), graph.shape(node.inputs[1])
        a_shape = a.shape[::-1] if node.attrs["transA"] else a.shape
        b_shape = b[::-1] if node.attrs["transB"] else b
        if len(a_shape) != 2 or len(b_shape) != 2 or a_shape[1] != b_shape[0]:
            raise self.fail(node, f"cannot multiply {a.shape} by {b} (transA={node.attrs['transA']}, "
                                  f"transB={node.attrs['transB']})")
        return [((a_shape[0], b_shape[1]), a.dtype)]

    def run(self, node, inputs):
        a, b = inputs[0], inputs[1]
        c = inputs[2] if len(inputs) > 2 else None
        at = node.attrs
        a = a.T if at["transA"] else a
        b = b.T if at["transB"] else b
        y = at["alpha"] * (a @ b)
        if c is not None:
            y = y + at["beta"] * c
        return [apply_clip(node, y).astype(inputs[0].dtype, copy=False)]

    def macs(self, node, graph):
        a = graph.shape(node.inputs[0])
        y = graph.shape(node.outputs[0])
        k = a[0] if node.attrs["transA"] else a[1]
        return int(y[1] * k)

    def examples(self):
        r = np.random.default_rng(2)
        f = lambda *s: r.standard_normal(s).astype(np.float32)
        return [
            Example({"transB": 1}, [f(3, 5), f(4, 5), f(4)], const=(1, 2), name="transB_bias"),
            Example({}, [f(2, 6), f(6, 3)], const=(1,), name="plain"),
            Example({"alpha": 0.5, "beta": 2.0}, [f(2, 4), f(4, 3), f(1, 3)], const=(1, 2), name="alpha_beta"),
        ]
