import numpy as np

from ..emulator.windows import holding
from ..pe.pad import pad_stage
from ..quant.qmodel import QLayer
from .base import Example, Op, register, unsupported
from .family.attrs import const_inputs, normalize_axes

MODES = {"constant": "constant", "reflect": "reflect", "edge": "edge"}  # ONNX name → numpy name


@register
class Pad(Op):
    op_type = "Pad"
    notes = "constant/reflect/edge; pads as attribute (opset < 11) or constant input, axes (opset 18)"
    attrs = {"mode": "constant", "pads": None, "value": 0.0}  # pads/value: opset < 11

    def check(self, node, graph):
        problems = super().check(node, graph)
        if node.attrs["mode"] not in MODES:
            problems.append(f"mode '{node.attrs['mode']}' is not supported; use one of {sorted(MODES)}")
        for i, what in ((1, "pads"), (2, "constant_value"), (3, "axes")):
            if node.input(i) and not graph.is_const(node.input(i)):
                problems.append(f"{what} is computed at run time; only constant {what} is supported")
        if node.attrs["pads"] is None and not node.input(1):
            problems.append("no pads given (neither the 'pads' attribute nor the pads input)")
        return problems

    def _params(self, node, values, rank: int) -> tuple[list[tuple[int, int]], object]:
        """Per-axis (begin, end) pads of every axis, and the constant fill value."""
        pads, value = node.attrs["pads"], node.attrs["value"]
        if pads is None:
            pads = values[1]
            value = values[2] if len(values) > 2 and values[2] is not None else 0
        pads = [int(p) for p in np.ravel(pads)]
        axes = values[3] if len(values) > 3 and values[3] is not None else range(rank)
        axes = normalize_axes(node, list(axes), rank)
        if len(pads) != 2 * len(axes):
            raise self.fail(node, f"pads {pads} must hold 2 values per padded axis ({len(axes)} axes)")
        per_axis = [(0, 0)] * rank
        for k, a in enumerate(axes):
            per_axis[a] = (pads[k], pads[k + len(axes)])
        return per_axis, np.asarray(value).reshape(())

    def infer(self, node, graph):
        x = graph.info(node.inputs[0])
        per_axis, _ = self._params(node, const_inputs(node, graph), len(x.shape))
        shape = tuple(n + b + e for n, (b, e) in zip(x.shape, per_axis))
        if min(shape, default=1) < 0:
            raise self.fail(node, f"pads {per_axis} crop more than the input shape {x.shape}")
        if node.attrs["mode"] == "reflect" and any(max(b, e) >= n for n, (b, e) in zip(x.shape, per_axis) if b or e):
            raise self.fail(node, f"reflect pads {per_axis} must be smaller than the input dims {x.shape}")
        return [(shape, x.dtype)]

    def run(self, node, inputs):
        x = inputs[0]
        per_axis, value = self._params(node, inputs, x.ndim)
        # negative pads crop: slice those away first, then pad the rest
        x = x[tuple(slice(max(-b, 0), n - max(-e, 0)) for n, (b, e) in zip(x.shape, per_axis))]
        width = [(max(b, 0), max(e, 0)) for b, e in per_axis]
        mode = MODES[node.attrs["mode"]]
        if mode == "constant":
            return [np.pad(x, width, mode, constant_values=value.astype(x.dtype))]
        return [np.pad(x, width, mode)]

    passthrough_q = True  # the input's integers, and padding by the integer of 0.0

    def quantize(self, node, ctx):
        """Constant padding with 0.0 inserts the input's zero point; edge and reflect copy integers.
        Negative pads crop. The batch axis is never padded."""
        x = node.inputs[0]
        shape = ctx.g.shape(x)
        per_axis, value = self._params(node, const_inputs(node, ctx.g), len(shape))
        mode = node.attrs["mode"]
        if per_axis[0] != (0, 0):
            raise unsupported(node, f"it pads the batch axis ({per_axis[0]})", ctx.g)
        if mode == "constant" and float(value) != 0.0:
            raise unsupported(node, f"constant padding with {float(value)!r}: only 0.0 has an integer (the zero "
                                    f"point) in every quantisation of the input", ctx.g)
        return QLayer(node.name, self.op_type, [x], [node.outputs[0]],
                      {"pads": [list(p) for p in per_axis], "mode": MODES[mode], "value": ctx.act(x).zero_point})

    def run_int(self, layer, inputs):
        c = layer.config
        x = inputs[0]
        x = x[tuple(slice(max(-b, 0), n - max(-e, 0)) for n, (b, e) in zip(x.shape, c["pads"]))]
        width = [(max(b, 0), max(e, 0)) for b, e in c["pads"]]
        if c["mode"] == "constant":
            return np.pad(holding(x, c["value"]), width, "constant", constant_values=c["value"])
        return np.pad(x, width, c["mode"])

    lowering = "pad (constant padding of one or two adjacent axes)"

    def lower(self, layer, ctx):
        """Constant padding of one or two adjacent axes: the pad PE (the zero point in the padded
        positions), PE elements per word. Edge/reflect modes and cropping have no PE."""
        x, y = layer.inputs[0], layer.outputs[0]
        return [pad_stage(layer.name, ctx.port(x, ctx.pe), ctx.port(y, ctx.pe), ctx.shape(x), layer.config)]

    def examples(self):
        x = np.random.default_rng(55).standard_normal((2, 3, 4, 5)).astype(np.float32)
        p = lambda *v: np.array(v, np.int64)
        sp = p(0, 0, 1, 2, 0, 0, 2, 1)
        return [Example({}, [x, sp], const=(1,), name="constant_zero"),
                Example({}, [x, sp, np.array(1.5, np.float32)], const=(1, 2), name="constant_value"),
                Example({"mode": "reflect"}, [x, sp], const=(1,), name="reflect"),
                Example({"mode": "edge"}, [x, sp], const=(1,), name="edge"),
                Example({}, [x, p(0, 0, -1, 1, 0, 0, 1, -2)], const=(1,), name="negative_crops"),
                Example({"mode": "reflect"}, [x, p(1, 2, 2, 1), None, p(2, -1)], const=(1, 3), opset=18,
                        name="axes_opset18"),
                Example({"pads": [0, 0, 1, 1, 0, 0, 1, 1], "value": -1.0}, [x], opset=7, name="attrs_opset7"),
                Example({"mode": "edge", "pads": [0, 1, 0, 0, 0, 1, 0, 2]}, [x], opset=10, name="edge_opset10")]
