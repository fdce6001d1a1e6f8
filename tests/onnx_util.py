"""Helpers for tests: build ONNX models from examples and run them in onnxruntime."""
from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

from fpga_accel.frontend import import_onnx
from fpga_accel.ir import run_graph


def _vi(name, arr_or_shape, dtype=np.float32, batch=None):
    if isinstance(arr_or_shape, np.ndarray):
        dtype, shape = arr_or_shape.dtype, list(arr_or_shape.shape)
    else:
        shape = list(arr_or_shape)
    if batch is not None and shape:
        shape[0] = batch
    return helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(np.dtype(dtype)), shape)


def node_model(op_type, attrs, inputs, const=(), opset=13, n_outputs=1, domain="", functions=()):
    """One-node model: inputs at positions in ``const`` become initializers, the rest graph inputs.
    Output shapes are left for onnx shape inference. ``functions`` (FunctionProtos) define an op of
    another domain in standard ops, so onnxruntime can run it."""
    names = [f"in{i}" if a is not None else "" for i, a in enumerate(inputs)]
    outs = [f"out{i}" for i in range(n_outputs)]
    attrs = {k: v for k, v in attrs.items() if v is not None}
    node = helper.make_node(op_type, names, outs, name=f"{op_type.lower()}_0", domain=domain or None, **attrs)
    graph_inputs = [_vi(n, a) for i, (n, a) in enumerate(zip(names, inputs)) if a is not None and i not in const]
    inits = [numpy_helper.from_array(a, n) for i, (n, a) in enumerate(zip(names, inputs)) if a is not None and i in const]
    graph = helper.make_graph([node], f"{op_type}_test", graph_inputs,
                              [helper.make_tensor_value_info(o, onnx.TensorProto.UNDEFINED, None) for o in outs], inits)
    opsets = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, 1) for d in {f.domain for f in functions}]
    m = helper.make_model(graph, opset_imports=opsets, functions=list(functions))
    m.ir_version = min(m.ir_version, 8)
    m = onnx.shape_inference.infer_shapes(m)
    # graph outputs must carry a type for onnxruntime
    inferred = {vi.name: vi for vi in m.graph.value_info}
    for i, o in enumerate(m.graph.output):
        if o.name in inferred:
            m.graph.output[i].CopyFrom(inferred[o.name])
    return m


def feeds_of(model, inputs, const=()):
    return {f"in{i}": a for i, a in enumerate(inputs) if a is not None and i not in const}


def run_ort(model, feeds) -> list[np.ndarray]:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def run_ir(model, feeds) -> list[np.ndarray]:
    g = import_onnx(model)
    res = run_graph(g, feeds)
    return [res[o] for o in g.output_names]


def assert_close(got, want, rtol=1e-5, what=""):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    scale = max(float(np.max(np.abs(want))) if want.size else 0.0, 1e-6)
    err = float(np.max(np.abs(got.astype(np.float64) - want.astype(np.float64)))) if want.size else 0.0
    assert err <= rtol * scale, f"{what}: max abs error {err:g} > {rtol:g} x max|ref| {scale:g}"
