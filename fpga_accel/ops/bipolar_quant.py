"""QONNX ``BipolarQuant``: y = scale · (x ≥ 0 ? +1 : −1) (docs/qonnx-custom-ops/bipolar_quant_op.md).

The contract's narrowest type has 2 bits, so bipolar weights are int2 integers that only take
−1 and +1 (folding keeps them in ``graph.meta["weights"]``). Bipolar activations have no zero,
which requantisation (round and clamp) cannot produce: the importer rejects them.
"""
import numpy as np

from ..quant.given import record_weights
from .base import HOST, REMOVED, Example, Op, register
from .quant import DOMAINS


class BipolarQuant(Op):
    op_type = "BipolarQuant"
    placement = REMOVED
    notes = "QONNX; weights only (int2 holding ±1); bipolar activations are not supported"

    def placement_of(self, node, graph):
        return HOST  # only a quantiser of a model output is left after import

    def check(self, node, graph):
        problems = super().check(node, graph)
        if len(node.inputs) != 2:
            problems.append(f"needs 2 inputs (x, scale), got {len(node.inputs)}")
        return problems

    def infer(self, node, graph):
        return [(graph.shape(node.inputs[0]), graph.info(node.inputs[0]).dtype)]

    def run(self, node, inputs):
        x, scale = inputs
        return [(np.where(x >= 0, 1.0, -1.0) * scale).astype(x.dtype, copy=False)]

    def const_value(self, node, graph):
        """Folding bipolar weights keeps their integers ±1 (``graph.meta["weights"]``)."""
        value = super().const_value(node, graph)
        if value is not None:
            x, scale = graph.const(node.inputs[0]), graph.const(node.inputs[1])
            record_weights(graph, node.outputs[0], np.where(x >= 0, 1, -1), scale, 0, (-1, 1))
        return value

    def examples(self):
        r = np.random.default_rng(63)
        x = r.standard_normal((3, 4)).astype(np.float32)
        x.flat[:2] = [0.0, -0.0]  # zero (either sign) is +1
        fn = onnx_function(self.domain)
        return [Example({}, [x, np.array(0.5, np.float32)], const=(1,), name="scalar", extra={"functions": [fn]}),
                Example({}, [x, np.array([[1.0], [2.0], [0.25]], np.float32)], const=(1,), name="per_channel",
                        extra={"functions": [fn]})]


def onnx_function(domain: str):
    """BipolarQuant in standard ONNX ops, a model-local function for onnxruntime."""
    from onnx import helper

    n = helper.make_node
    c = lambda name, v: n("Constant", [], [name], value=helper.make_tensor(name, 1, [], [v]))  # noqa: E731
    nodes = [c("zero", 0.0), c("one", 1.0), c("minus", -1.0), n("GreaterOrEqual", ["x", "zero"], ["ge"]),
             n("Where", ["ge", "one", "minus"], ["s"]), n("Mul", ["s", "scale"], ["y"])]
    return helper.make_function(domain, "BipolarQuant", ["x", "scale"], ["y"], nodes, [helper.make_opsetid("", 13)])


for _d in DOMAINS:
    register(type("BipolarQuant", (BipolarQuant,), {"domain": _d, "__module__": __name__}))
