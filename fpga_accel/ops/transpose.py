import numpy as np

from ..pe.stage import LoweringError
from ..quant.qmodel import QLayer
from .base import Example, Op, register, unsupported
from .family.bases import rename_stage


@register
class Transpose(Op):
    op_type = "Transpose"
    notes = "any permutation (default: reversed axes); folded or absorbed by the layout pass"
    attrs = {"perm": None}

    def _perm(self, node, rank: int) -> list[int]:
        perm = node.attrs["perm"]
        if perm is None:
            return list(range(rank))[::-1]
        if sorted(perm) != list(range(rank)):
            raise self.fail(node, f"perm {list(perm)} is not a permutation of the {rank} axes")
        return list(perm)

    def infer(self, node, graph):
        x = graph.info(node.inputs[0])
        return [(tuple(x.shape[p] for p in self._perm(node, len(x.shape))), x.dtype)]

    def run(self, node, inputs):
        return [np.transpose(inputs[0], self._perm(node, inputs[0].ndim))]

    passthrough_q = True  # the same integers in another order

    def quantize(self, node, ctx):
        perm = self._perm(node, len(ctx.g.shape(node.inputs[0])))
        if perm[0] != 0:
            raise unsupported(node, f"perm {perm} moves the batch axis; the accelerator keeps it first", ctx.g)
        return QLayer(node.name, self.op_type, [node.inputs[0]], [node.outputs[0]], {"perm": perm})

    def run_int(self, layer, inputs):
        return np.transpose(inputs[0], layer.config["perm"])

    lowering = "none (stream rename) when only size-1 axes move"

    def lower(self, layer, ctx):
        """Moving only axes of size 1 keeps the element order of the stream: a rename. Any other
        permutation reorders the stream and has no processing element."""
        shape, perm = ctx.shape(layer.inputs[0]), layer.config["perm"]
        moved = [d for d in perm if shape[d] != 1]
        if moved != sorted(moved):
            raise LoweringError(f"perm {perm} reorders the elements of a {shape} tensor; no processing element "
                                f"transposes a stream (the layout passes normally remove such transposes)")
        return rename_stage(layer, ctx)

    def examples(self):
        x = np.random.default_rng(53).standard_normal((2, 3, 4, 5)).astype(np.float32)
        return [Example({"perm": [0, 2, 3, 1]}, [x], name="nchw_to_nhwc"),
                Example({"perm": [0, 3, 1, 2]}, [x], name="nhwc_to_nchw"),
                Example({}, [x], name="default_reverse"),
                Example({"perm": [0, 2, 1, 3]}, [x], opset=7, name="opset7")]
