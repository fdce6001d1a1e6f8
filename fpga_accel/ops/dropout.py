import numpy as np

from .base import REMOVED, Example, Op, register


@register
class Dropout(Op):
    op_type = "Dropout"
    placement = REMOVED
    notes = "inference: identity; the optional mask output is all ones"
    attrs = {"ratio": 0.5, "seed": None}  # ratio: attribute before opset 12, input after

    def check(self, node, graph):
        problems = super().check(node, graph)
        mode = node.input(2)
        if mode and not graph.is_const(mode):
            problems.append("training_mode is computed at run time; export the model for inference")
        elif mode and graph.const(mode).any():
            ratio = graph.const(node.input(1)) if node.input(1) else 0.5
            if ratio is None or np.any(ratio != 0):
                problems.append("training_mode=True drops values at random; export the model in eval mode")
        return problems

    def infer(self, node, graph):
        x = graph.info(node.inputs[0])
        return [(x.shape, x.dtype), (x.shape, np.dtype(bool))]

    def run(self, node, inputs):
        x = inputs[0]
        if len(node.outputs) < 2 or not node.outputs[1]:
            return [x]
        # all True as the ONNX reference gives (onnxruntime returns all False for opsets 10-11)
        return [x, np.ones(x.shape, bool)]

    def examples(self):
        x = np.random.default_rng(41).standard_normal((2, 3, 4)).astype(np.float32)
        return [Example({}, [x], name="default"),
                Example({}, [x], n_outputs=2, name="mask"),
                Example({}, [x, np.array(0.3, np.float32), np.array(False)], const=(1, 2), n_outputs=2,
                        name="inputs_eval"),
                Example({"seed": 3}, [x, np.array(0.0, np.float32), np.array(True)], const=(1, 2),
                        n_outputs=2, name="training_ratio0"),
                Example({"ratio": 0.2}, [x], opset=7, name="opset7"),
                Example({"ratio": 0.2}, [x], opset=10, name="opset10")]
