import numpy as np

from ..quant.given import record_bias, record_weights
from .base import HOST, REMOVED, Example, Op, register
from .quantize_linear import QUANT_DTYPES, check_params, per_axis

INPUTS = tuple(QUANT_DTYPES.values()) + (np.dtype(np.int32),)


@register
class DequantizeLinear(Op):
    """y = (x − x_zero_point) · x_scale, per tensor or per axis, computed in float32.

    Folding one of constant integers (a QDQ model's weights or bias) keeps the integers: they go
    to ``graph.meta["weights"]`` (int8/16, zero point folded in) or ``["biases"]`` (int32), so
    the quantiser uses them exactly. A pair with a QuantizeLinear is absorbed at import
    (``frontend/qdq.py``); one that stays reads an integer model input and runs on the host.
    """

    op_type = "DequantizeLinear"
    placement = REMOVED
    notes = "constant weights/biases folded with their integers kept; activation pairs absorbed at import"
    attrs = {"axis": 1, "block_size": 0, "output_dtype": 0}

    def placement_of(self, node, graph):
        return HOST  # only a dequantiser of a model input is left after import

    def check(self, node, graph):
        problems = super().check(node, graph) + check_params(node, graph)
        dt = graph.info(node.inputs[0]).dtype
        if dt not in INPUTS:
            problems.append(f"dequantising {dt} is not supported; use int8, uint8, int16, uint16 or int32")
        zp = node.input(2)
        if zp and graph.info(zp).dtype != dt:
            problems.append(f"zero point of type {graph.info(zp).dtype} differs from the input's {dt}")
        if node.attrs.get("output_dtype") and node.attrs["output_dtype"] not in (1, 10, 11):
            problems.append(f"output type {node.attrs['output_dtype']} is not supported (float, float16, double)")
        return problems

    def infer(self, node, graph):
        od = node.attrs.get("output_dtype") or 0
        dt = {1: np.float32, 10: np.float16, 11: np.float64}.get(od) or graph.info(node.inputs[1]).dtype
        return [(graph.shape(node.inputs[0]), np.dtype(dt))]

    def run(self, node, inputs):
        x, scale = inputs[0], inputs[1]
        zp = inputs[2] if len(inputs) > 2 and inputs[2] is not None else None
        axis = node.attrs["axis"] % max(x.ndim, 1)
        dx = x.astype(np.float32)
        if zp is not None:
            dx = dx - per_axis(zp, x.shape, axis).astype(np.float32)
        y = dx * per_axis(scale, x.shape, axis)
        od = node.attrs.get("output_dtype") or 0
        return [y.astype({1: np.float32, 10: np.float16, 11: np.float64}.get(od) or scale.dtype)]

    def const_value(self, node, graph):
        value = super().const_value(node, graph)
        if value is not None:
            x, scale = graph.const(node.inputs[0]), graph.const(node.inputs[1])
            zp = graph.const(node.input(2)) if node.input(2) else None
            axis = node.attrs["axis"] % max(x.ndim, 1) if scale.size > 1 else None
            if x.dtype == np.int32:
                record_bias(graph, node.outputs[0], x if zp is None else x.astype(np.int64) - zp, scale)
            else:
                info = np.iinfo(x.dtype)
                record_weights(graph, node.outputs[0], x, scale, zp, (info.min, info.max), axis)
        return value

    def examples(self):
        r = np.random.default_rng(61)
        q8 = r.integers(-128, 128, (2, 3, 4)).astype(np.int8)
        u8 = r.integers(0, 256, (2, 3, 4)).astype(np.uint8)
        s = np.array(0.05, np.float32)
        return [Example({}, [q8, s, np.array(-3, np.int8)], const=(1, 2), name="int8"),
                Example({}, [u8, s, np.array(128, np.uint8)], const=(1, 2), name="uint8"),
                Example({}, [u8, s], const=(1,), name="no_zero_point"),
                Example({"axis": 1}, [q8, np.array([0.25, 1.0, 3.0], np.float32), np.array([0, 5, -7], np.int8)],
                        const=(1, 2), name="per_axis"),
                Example({}, [r.integers(-2**31, 2**31, (4,)).astype(np.int32), s, np.array(0, np.int32)],
                        const=(1, 2), name="int32"),
                Example({}, [r.integers(-2**15, 2**15, (3, 4)).astype(np.int16), s, np.array(9, np.int16)],
                        const=(1, 2), opset=21, name="int16"),
                Example({}, [u8, s, np.array(7, np.uint8)], const=(1, 2), opset=10, name="opset10")]
