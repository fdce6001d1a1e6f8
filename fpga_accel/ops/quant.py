"""QONNX ``Quant``: uniform quantisation to ``bitwidth`` bits and back to float (a fused Q/DQ).

Float reference as qonnx defines it (docs/qonnx-custom-ops/quant_op.md and its executor):

    y_int = clamp(x / scale + zeropt, min_int, max_int), then rounded (``rounding_mode``)
    y     = (y_int − zeropt) · scale

with [min_int, max_int] = [−2^(b−1) + narrow, 2^(b−1) − 1] signed, [0, 2^b − 1 − narrow] unsigned.
qonnx's executor turns a signed 1-bit Quant into bipolar (x/scale + zeropt ≥ 0 → +1, else −1); so
does this one. Registered under the domains Brevitas and qonnx export it with.
"""
import numpy as np

from ..quant.given import record_weights
from .base import HOST, REMOVED, Example, Op, register

DOMAINS = ("qonnx.custom_op.general", "onnx.brevitas", "finn.custom_op.general")

ROUNDING = {
    "ROUND": np.rint,  # half to even
    "CEIL": np.ceil,
    "FLOOR": np.floor,
    "UP": lambda v: np.sign(v) * np.ceil(np.abs(v)),  # away from zero
    "DOWN": np.trunc,  # towards zero
    "HALF_UP": lambda v: np.sign(v) * np.floor(np.abs(v) + 0.5),  # ties away from zero
    "HALF_DOWN": lambda v: np.sign(v) * np.ceil(np.abs(v) - 0.5),  # ties towards zero
}


def int_range(bits: int, signed: bool, narrow: bool) -> tuple[int, int]:
    """[min_int, max_int] of qonnx's Quant."""
    if signed:
        return -(1 << (bits - 1)) + int(narrow), (1 << (bits - 1)) - 1
    return 0, (1 << bits) - 1 - int(narrow)


def bitwidth(node, graph) -> int | None:
    """The constant integer bit width of a Quant node, None when it is not one."""
    b = graph.const(node.inputs[3])
    if b is None or b.size != 1 or not np.isfinite(b).all() or float(b.reshape(())) != int(b.reshape(())):
        return None
    return int(b.reshape(()))


def quant_int(node, x, scale, zeropt, bits):
    """The integers y_int (as floats) of a Quant node."""
    a = node.attrs
    y = x / scale + zeropt
    if bits == 1 and a["signed"]:
        return np.where(y >= 0, 1.0, -1.0).astype(y.dtype)
    lo, hi = int_range(bits, a["signed"], a["narrow"])
    return ROUNDING[a["rounding_mode"].upper()](np.clip(y, lo, hi))


class Quant(Op):
    op_type = "Quant"
    placement = REMOVED
    notes = "QONNX; weights folded with their integers kept, activations absorbed at import (2..16 bits)"
    attrs = {"signed": 1, "narrow": 0, "rounding_mode": "ROUND"}

    def placement_of(self, node, graph):
        return HOST  # only a quantiser of a model output is left after import

    def check(self, node, graph):
        problems = super().check(node, graph)
        if len(node.inputs) != 4:
            problems.append(f"needs 4 inputs (x, scale, zeropt, bitwidth), got {len(node.inputs)}")
            return problems
        if str(node.attrs["rounding_mode"]).upper() not in ROUNDING:
            problems.append(f"rounding_mode '{node.attrs['rounding_mode']}' is unknown; qonnx defines "
                            f"{', '.join(ROUNDING)}")
        bits = bitwidth(node, graph)
        if bits is None or bits < 1:
            problems.append("bitwidth must be a constant positive integer")
        x = graph.shape(node.inputs[0])
        for i, what in ((1, "scale"), (2, "zeropt")):
            try:
                if np.broadcast_shapes(graph.shape(node.inputs[i]), x) != x:
                    raise ValueError
            except ValueError:
                problems.append(f"{what} of shape {graph.shape(node.inputs[i])} does not broadcast onto the "
                                f"input's {x}")
        return problems

    def infer(self, node, graph):
        return [(graph.shape(node.inputs[0]), graph.info(node.inputs[0]).dtype)]

    def run(self, node, inputs):
        x, scale, zeropt, bits = inputs
        b = int(np.asarray(bits).reshape(()))
        y = quant_int(node, x, scale, zeropt, b)
        return [((y - zeropt) * scale).astype(x.dtype, copy=False)]

    def const_value(self, node, graph):
        """Folding quantised weights keeps their integers (``graph.meta["weights"]``)."""
        value = super().const_value(node, graph)
        if value is not None:
            x, scale, zp = (graph.const(i) for i in node.inputs[:3])
            bits = bitwidth(node, graph)
            q = quant_int(node, x, scale, zp, bits)
            fmt = (-1, 1) if bits == 1 and node.attrs["signed"] else \
                int_range(bits, node.attrs["signed"], node.attrs["narrow"])
            record_weights(graph, node.outputs[0], q, scale, zp, fmt)
        return value

    def examples(self):
        r = np.random.default_rng(62)
        x = (r.standard_normal((2, 3, 4)) * 4).astype(np.float32)
        x.flat[:4] = [0.5, 1.5, -2.5, 2.5]
        f = lambda v: np.array(v, np.float32)  # noqa: E731
        cases = [({}, [x, f(0.5), f(0), f(4)], "int4"),
                 ({"narrow": 1}, [x, f(0.5), f(0), f(2)], "int2_narrow"),
                 ({"signed": 0}, [x, f(0.25), f(3), f(3)], "uint3_zeropt"),
                 ({"signed": 0, "narrow": 1}, [x, f(0.25), f(0), f(8)], "uint8_narrow"),
                 ({}, [x, f([[0.5], [1.0], [2.0]]), f(0), f(3)], "per_channel"),
                 ({"rounding_mode": "FLOOR"}, [x, f(0.5), f(0), f(4)], "floor"),
                 ({"rounding_mode": "HALF_UP"}, [x, f(0.5), f(0), f(4)], "half_up"),
                 ({"rounding_mode": "HALF_DOWN"}, [x, f(0.5), f(0), f(4)], "half_down"),
                 ({"rounding_mode": "UP"}, [x, f(0.5), f(0), f(4)], "up"),
                 ({"rounding_mode": "DOWN"}, [x, f(0.5), f(0), f(4)], "down"),
                 ({"rounding_mode": "ceil"}, [x, f(0.5), f(0), f(4)], "ceil")]
        return [Example(a, inputs, const=(1, 2, 3), name=n, extra={"functions": [onnx_function(self.domain, a)]})
                for a, inputs, n in cases]


def onnx_function(domain: str, attrs: dict):
    """The node's semantics in standard ONNX ops, as a model-local function for ``domain``'s Quant
    with these attributes (onnxruntime runs it; the conformance examples use it)."""
    from onnx import helper

    a = {**Quant.attrs, **attrs}
    signed, narrow, mode = int(a["signed"]), int(a["narrow"]), a["rounding_mode"].upper()
    n = helper.make_node
    c = lambda name, v: n("Constant", [], [name], value=helper.make_tensor(name, 1, [], [v]))  # noqa: E731
    nodes = [c("one", 1.0), c("two", 2.0), c("narrow", float(narrow)), c("half", 0.5),
             n("Cast", ["bitwidth"], ["b"], to=1), n("Div", ["x", "scale"], ["xs"]), n("Add", ["xs", "zeropt"], ["v"])]
    if signed:
        nodes += [n("Sub", ["b", "one"], ["b1"]), n("Pow", ["two", "b1"], ["p"]), n("Sub", ["p", "one"], ["hi"]),
                  n("Sub", ["narrow", "p"], ["lo"])]
    else:
        nodes += [n("Pow", ["two", "b"], ["p"]), n("Sub", ["p", "one"], ["p1"]), n("Sub", ["p1", "narrow"], ["hi"]),
                  n("Sub", ["one", "one"], ["lo"])]
    nodes += [n("Max", ["v", "lo"], ["v1"]), n("Min", ["v1", "hi"], ["c"])]
    if mode in ("ROUND", "CEIL", "FLOOR"):
        nodes.append(n(mode.capitalize(), ["c"], ["r"]))
    else:  # sign · f(|c|)
        inner = {"UP": ("Ceil", None), "DOWN": ("Floor", None), "HALF_UP": ("Floor", "Add"),
                 "HALF_DOWN": ("Ceil", "Sub")}[mode]
        nodes += [n("Sign", ["c"], ["sg"]), n("Abs", ["c"], ["ab"])]
        if inner[1]:
            nodes.append(n(inner[1], ["ab", "half"], ["ab2"]))
        nodes += [n(inner[0], ["ab2" if inner[1] else "ab"], ["m"]), n("Mul", ["sg", "m"], ["r"])]
    nodes += [n("Sub", ["r", "zeropt"], ["d"]), n("Mul", ["d", "scale"], ["y"])]
    return helper.make_function(domain, "Quant", ["x", "scale", "zeropt", "bitwidth"], ["y"], nodes,
                                [helper.make_opsetid("", 13)], attributes=list(Quant.attrs))


for _d in DOMAINS:
    register(type("Quant", (Quant,), {"domain": _d, "__module__": __name__}))
