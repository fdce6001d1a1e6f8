import numpy as np

from .base import HOST, REMOVED, Example, Op, register

#: ONNX TensorProto types of quantised tensors that numpy holds (int4, int2, float8 it does not)
QUANT_DTYPES = {2: np.dtype(np.uint8), 3: np.dtype(np.int8), 4: np.dtype(np.uint16), 5: np.dtype(np.int16)}
#: float inputs and scales QuantizeLinear / DequantizeLinear compute with
FLOATS = (np.dtype(np.float32), np.dtype(np.float16), np.dtype(np.float64))


def per_axis(v: np.ndarray | None, shape: tuple[int, ...], axis: int):
    """A scale or zero point broadcast along ``axis`` of ``shape`` (a 1-element one is a scalar)."""
    if v is None or v.size == 1:
        return None if v is None else v.reshape(())
    view = [1] * len(shape)
    view[axis] = v.size
    return v.reshape(view)


def check_params(node, graph) -> list[str]:
    """Shared checks of QuantizeLinear / DequantizeLinear: per tensor or per axis, no blocks."""
    problems = []
    if node.attrs.get("block_size"):
        problems.append(f"blocked quantisation (block_size={node.attrs['block_size']}) is not supported; "
                        f"quantise per tensor or per axis")
    shape = graph.shape(node.inputs[0])
    scale = graph.info(node.inputs[1])
    if scale.dtype not in FLOATS:
        problems.append(f"scale of type {scale.dtype} is not supported (float, float16, double)")
    if len(scale.shape) > 1:
        problems.append(f"scale of shape {scale.shape}: only a scalar or a 1-D per-axis scale is supported")
    elif scale.shape and scale.shape[0] != 1:
        axis = node.attrs["axis"]
        if not -len(shape) <= axis < len(shape) or shape[axis] != scale.shape[0]:
            problems.append(f"per-axis scale of {scale.shape[0]} values does not fit axis {axis} of the "
                            f"input of shape {shape}")
    zp = node.input(2)
    if zp and graph.info(zp).shape != scale.shape and graph.info(zp).size != scale.size:
        problems.append(f"zero point of shape {graph.info(zp).shape} does not match the scale's {scale.shape}")
    return problems


@register
class QuantizeLinear(Op):
    """y = saturate(round_half_even(x / y_scale) + y_zero_point), per tensor or per axis.

    A model's quantisers are absorbed at import (``frontend/qdq.py``): a QuantizeLinear /
    DequantizeLinear pair gives the parameters of the tensor between them and disappears. One
    that stays produces an integer model output and runs on the host.
    """

    op_type = "QuantizeLinear"
    placement = REMOVED
    notes = "absorbed at import (QDQ models: the tensor's scale and zero point); per tensor or per axis"
    attrs = {"axis": 1, "saturate": 1, "block_size": 0, "output_dtype": 0}

    def placement_of(self, node, graph):
        return HOST  # only a quantiser of a model output is left after import

    def check(self, node, graph):
        problems = super().check(node, graph) + check_params(node, graph)
        if graph.info(node.inputs[0]).dtype not in FLOATS + (np.dtype(np.int32),):
            problems.append(f"input of type {graph.info(node.inputs[0]).dtype} is not supported")
        try:
            self.out_dtype(node, graph)
        except ValueError as e:
            problems.append(str(e))
        return problems

    @staticmethod
    def out_dtype(node, graph) -> np.dtype:
        zp, od = node.input(2), node.attrs.get("output_dtype") or 0
        if zp:
            dt = graph.info(zp).dtype
            if dt not in QUANT_DTYPES.values():
                raise ValueError(f"quantising to {dt} is not supported; use int8, uint8, int16 or uint16")
            return dt
        if od and od not in QUANT_DTYPES:
            raise ValueError(f"quantising to ONNX type {od} is not supported; use int8, uint8, int16 or uint16")
        return QUANT_DTYPES[od] if od else np.dtype(np.uint8)

    def infer(self, node, graph):
        return [(graph.shape(node.inputs[0]), self.out_dtype(node, graph))]

    def run(self, node, inputs):
        x, scale = inputs[0], inputs[1]
        zp = inputs[2] if len(inputs) > 2 and inputs[2] is not None else None
        dt = np.dtype(zp.dtype) if zp is not None else QUANT_DTYPES.get(node.attrs.get("output_dtype") or 2)
        axis = node.attrs["axis"] % max(x.ndim, 1)
        work = x.dtype if x.dtype.kind == "f" else np.dtype(np.float32)
        # one IEEE division in the input's precision, round half to even, as onnxruntime does
        y = np.rint(x.astype(work) / per_axis(scale, x.shape, axis).astype(work)).astype(np.float64)
        if zp is not None:
            y = y + per_axis(zp, x.shape, axis).astype(np.float64)
        info = np.iinfo(dt)
        return [np.clip(y, info.min, info.max).astype(dt)]

    def examples(self):
        r = np.random.default_rng(60)
        x = (r.standard_normal((2, 3, 4)) * 40).astype(np.float32)
        x.flat[:4] = [0.5, 1.5, -2.5, 1e9]  # ties to even; saturation
        s = np.array(0.5, np.float32)
        return [Example({}, [x, s, np.array(-3, np.int8)], const=(1, 2), name="int8"),
                Example({}, [x, s, np.array(128, np.uint8)], const=(1, 2), name="uint8"),
                Example({}, [x, s], const=(1,), name="default_uint8"),
                Example({"axis": 1}, [x, np.array([0.25, 1.0, 3.0], np.float32), np.array([0, 5, -7], np.int8)],
                        const=(1, 2), name="per_axis"),
                Example({"axis": -1}, [x, np.array([0.25, 1.0, 2.0, 4.0], np.float32),
                                       np.array([0, 1, 2, 3], np.uint8)], const=(1, 2), name="per_last_axis"),
                Example({}, [x * 300, s, np.array(100, np.int16)], const=(1, 2), opset=21, name="int16"),
                Example({}, [x, s, np.array(7, np.uint8)], const=(1, 2), opset=10, name="opset10")]
