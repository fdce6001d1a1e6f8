import numpy as np

from .base import REMOVED, Example, Op, register

#: ONNX TensorProto data types with a numpy equivalent (float8, bfloat16, int4 and strings have none)
DTYPES = {1: np.float32, 2: np.uint8, 3: np.int8, 4: np.uint16, 5: np.int16, 6: np.int32, 7: np.int64,
          9: np.bool_, 10: np.float16, 11: np.float64, 12: np.uint32, 13: np.uint64}


@register
class Cast(Op):
    op_type = "Cast"
    placement = REMOVED
    notes = "numeric types and bool; folded at import or absorbed by quantisation"
    attrs = {"to": None}
    ignored_attrs = ("saturate", "round_mode")  # both only concern float8 targets, rejected below

    def check(self, node, graph):
        problems = super().check(node, graph)
        if node.attrs["to"] not in DTYPES:
            problems.append(f"casting to ONNX data type {node.attrs['to']} is not supported; "
                            f"supported: {sorted(DTYPES)} (numeric types and bool)")
        if graph.info(node.inputs[0]).dtype.kind not in "biuf":
            problems.append(f"casting from {graph.info(node.inputs[0]).dtype} is not supported")
        return problems

    def infer(self, node, graph):
        return [(graph.shape(node.inputs[0]), np.dtype(DTYPES[node.attrs["to"]]))]

    def run(self, node, inputs):
        return [inputs[0].astype(DTYPES[node.attrs["to"]])]

    def examples(self):
        x = np.random.default_rng(42).standard_normal((2, 3, 4)).astype(np.float32) * 10
        return [Example({"to": 7}, [x], name="float_to_int64"),
                Example({"to": 1}, [x.astype(np.int32)], name="int32_to_float"),
                Example({"to": 9}, [np.round(x)], name="float_to_bool"),
                Example({"to": 10}, [x], name="float_to_half"),
                Example({"to": 3, "saturate": 1}, [np.clip(x, -100, 100)], opset=19, name="saturate_opset19"),
                Example({"to": 11}, [x], opset=7, name="opset7")]
