import numpy as np

from .base import HARDWARE, HOST, Example, Op, register, unsupported
from .family.attrs import FUSED_CLIP, apply_clip
from .gemm import DenseRun, dense_layer, lower_dense


def matmul_shape(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...] | None:
    """numpy.matmul's result shape (1-D operands promoted then squeezed), None when they don't fit."""
    if not a or not b:
        return None
    a2 = (1, *a) if len(a) == 1 else a
    b2 = (*b, 1) if len(b) == 1 else b
    if a2[-1] != b2[-2]:
        return None
    try:
        batch = np.broadcast_shapes(a2[:-2], b2[:-2])
    except ValueError:
        return None
    return (*batch, *a2[-2:-1][len(a) == 1:], *b2[-1:][len(b) == 1:])


@register
class MatMul(DenseRun, Op):
    """numpy matmul semantics; on hardware when B is a constant 2-D weight matrix."""

    op_type = "MatMul"
    placement = HARDWARE
    notes = "N-D with numpy broadcasting; hardware when B is a constant 2-D matrix, else host"
    attrs = {**FUSED_CLIP}

    def placement_of(self, node, graph):
        w = graph.const(node.inputs[1])
        return HARDWARE if w is not None and w.ndim == 2 else HOST

    def infer(self, node, graph):
        a, b = graph.info(node.inputs[0]), graph.info(node.inputs[1])
        shape = matmul_shape(a.shape, b.shape)
        if shape is None:
            raise self.fail(node, f"cannot multiply {a.shape} by {b.shape} (inner dimensions or batch "
                                  "dimensions do not match)")
        if a.dtype != b.dtype:
            raise self.fail(node, f"operands have different types {a.dtype} and {b.dtype}")
        return [(shape, a.dtype)]

    def run(self, node, inputs):
        a, b = inputs
        return [np.asarray(apply_clip(node, np.matmul(a, b))).astype(a.dtype, copy=False)]

    def quantize(self, node, ctx):
        """By a constant (K, N) matrix: the dense layer of Gemm over the last axis (no bias)."""
        w = ctx.const(node.inputs[1])
        if w is None or w.ndim != 2:
            raise unsupported(node, "only a product by a constant 2-D matrix runs in hardware", ctx.g)
        if len(ctx.g.shape(node.inputs[0])) < 2:
            raise unsupported(node, "a 1-D input has no batch axis", ctx.g)
        return dense_layer(self.op_type, node, ctx, w.astype(np.float64).T, np.zeros(w.shape[1]))

    lowering = "mvau"

    def lower(self, layer, ctx):
        return lower_dense(layer, ctx)

    def macs(self, node, graph):
        """Per image: every output element takes K multiply-adds; the leading axis of a 2-D or
        higher A is the batch."""
        a = graph.shape(node.inputs[0])
        y = graph.shape(node.outputs[0])
        elems = int(np.prod(y, dtype=np.int64))
        if len(a) >= 2 and y and y[0]:
            elems //= y[0]
        return elems * a[-1]

    def examples(self):
        r = np.random.default_rng(8)
        f = lambda *s: r.standard_normal(s).astype(np.float32)
        return [
            Example({}, [f(3, 5), f(5, 4)], const=(1,), name="weights_2d"),
            Example({}, [f(2, 6, 5), f(5, 3)], const=(1,), name="3d_by_weights"),
            Example({}, [f(2, 1, 3, 4), f(3, 4, 5)], name="batch_broadcast"),
            Example({}, [f(2, 3, 4), f(4)], name="by_vector"),
            Example({}, [f(4), f(2, 4, 3)], name="vector_by_3d"),
            Example({}, [f(2, 4), f(4, 3)], name="tensor_by_tensor"),
            Example({}, [r.integers(-9, 9, (2, 3)).astype(np.int32), r.integers(-9, 9, (3, 2)).astype(np.int32)],
                    const=(1,), name="int32"),
        ]
