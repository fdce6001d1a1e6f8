"""QONNX models in standard ONNX, so onnxruntime can run them as the reference."""
import numpy as np
import onnx
from onnx import helper, numpy_helper, version_converter

QONNX_DOMAINS = ("qonnx.custom_op.general", "onnx.brevitas", "finn.custom_op.general")


def has_qonnx_nodes(model: onnx.ModelProto) -> bool:
    return any(n.domain in QONNX_DOMAINS for n in model.graph.node)


def to_qcdq(model: onnx.ModelProto) -> onnx.ModelProto:
    """A QONNX model in standard ONNX (opset 13): an activation Quant becomes QuantizeLinear → Clip →
    DequantizeLinear (int8/uint8, ≤ 8 bits, rounding ROUND); Quant / BipolarQuant of a constant
    becomes the constant it computes (qonnx's formula, in numpy here)."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    consts = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    saved = {}
    for n in m.graph.node:  # the version converter does not know QONNX nodes: Identity stand-ins
        if n.domain in QONNX_DOMAINS:
            saved[n.output[0]] = onnx.NodeProto()
            saved[n.output[0]].CopyFrom(n)
            x = n.input[0]
            del n.input[:], n.attribute[:]
            n.input.append(x)
            n.op_type, n.domain = "Identity", ""
    m = version_converter.convert_version(m, 13)
    nodes = []
    for n in m.graph.node:
        q = saved.get(n.output[0]) if n.op_type == "Identity" else None
        if q is None:
            nodes.append(n)
            continue
        a = {x.name: helper.get_attribute_value(x) for x in q.attribute}
        x, y = q.input[0], q.output[0]
        if q.op_type == "BipolarQuant":
            w = np.where(consts[x] >= 0, 1.0, -1.0) * consts[q.input[1]]
            m.graph.initializer.append(numpy_helper.from_array(w.astype(np.float32), y))
            continue
        s, z, bits = (consts[i] for i in q.input[1:4])
        bits, signed, narrow = int(bits), int(a.get("signed", 1)), int(a.get("narrow", 0))
        lo, hi = (-(1 << (bits - 1)) + narrow, (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1 - narrow)
        if x in consts:
            v = np.clip(consts[x] / s + z, lo, hi)
            m.graph.initializer.append(numpy_helper.from_array(((np.rint(v) - z) * s).astype(np.float32), y))
            continue
        assert bits <= 8 and a.get("rounding_mode", b"ROUND") in (b"ROUND", "ROUND")
        dt = np.int8 if signed else np.uint8
        m.graph.initializer.extend([numpy_helper.from_array(np.asarray(s, np.float32), y + "_s"),
                                    numpy_helper.from_array(np.asarray(z).astype(dt), y + "_z"),
                                    numpy_helper.from_array(np.array(lo, dt), y + "_lo"),
                                    numpy_helper.from_array(np.array(hi, dt), y + "_hi")])
        nodes += [helper.make_node("QuantizeLinear", [x, y + "_s", y + "_z"], [y + "_q"]),
                  helper.make_node("Clip", [y + "_q", y + "_lo", y + "_hi"], [y + "_c"]),
                  helper.make_node("DequantizeLinear", [y + "_c", y + "_s", y + "_z"], [y])]
    del m.graph.node[:]
    m.graph.node.extend(nodes)
    inits = {t.name for t in m.graph.initializer}
    inputs = [vi for vi in m.graph.input if vi.name not in inits]  # old exporters list weights as inputs
    del m.graph.input[:]
    m.graph.input.extend(inputs)
    m.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "N"
    for o in m.graph.output:
        o.type.tensor_type.ClearField("shape")
    keep = [o for o in m.opset_import if o.domain in ("", "ai.onnx")]
    del m.opset_import[:]
    m.opset_import.extend(keep)
    return m
