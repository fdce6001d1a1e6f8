"""Spatial ops with ``layout="NHWC"``: the channels-last node on the transposed input gives the
NCHW node's result, transposed (shape rule and float reference both)."""
import numpy as np
import pytest

from fpga_accel.ir import Graph, Node, TensorInfo
from fpga_accel.ops import lookup

r = np.random.default_rng(11)


def f(*s):
    return r.standard_normal(s).astype(np.float32)


def bn_params(c):
    return [f(c), f(c), f(c), r.uniform(0.5, 2.0, c).astype(np.float32)]


# (op, attrs, x shape NCHW, constant inputs after x)
CASES = [
    ("Conv", {"strides": [2, 2], "pads": [1, 0, 1, 2]}, (2, 3, 7, 6), [f(4, 3, 3, 3), f(4)]),
    ("Conv", {"group": 3, "dilations": [2, 1]}, (1, 3, 8, 5), [f(3, 1, 2, 2)]),
    ("Conv", {"pads": [1, 1], "clip": [0.0, 6.0]}, (2, 2, 9), [f(3, 2, 3), f(3)]),
    ("MaxPool", {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 0, 1]}, (2, 3, 7, 8), []),
    ("MaxPool", {"kernel_shape": [2, 2], "strides": [2, 2], "ceil_mode": 1}, (1, 4, 5, 7), []),
    ("MaxPool", {"kernel_shape": [3], "strides": [2], "auto_pad": "SAME_UPPER"}, (2, 3, 10), []),
    ("AveragePool", {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1], "ceil_mode": 1,
                     "count_include_pad": 1}, (2, 3, 8, 9), []),
    ("AveragePool", {"kernel_shape": [2, 3], "dilations": [2, 1], "clip": [-0.5, 0.5]}, (1, 2, 6, 6), []),
    ("AveragePool", {"kernel_shape": [4], "strides": [3], "pads": [2, 1]}, (2, 3, 11), []),
    ("GlobalAveragePool", {}, (2, 5, 4, 3), []),
    ("GlobalAveragePool", {"clip": [0.0, 0.1]}, (2, 5, 7), []),
    ("GlobalMaxPool", {}, (2, 5, 4, 3), []),
    ("GlobalMaxPool", {}, (1, 3, 6), []),
    ("BatchNormalization", {"epsilon": 1e-3}, (2, 4, 3, 5), bn_params(4)),
    ("BatchNormalization", {}, (2, 3, 7), bn_params(3)),
]


def one_node_graph(op_type, attrs, x_shape, consts):
    op = lookup(op_type)
    g = Graph(name=op_type)
    g.inputs = [TensorInfo("x", x_shape)]
    g.tensors["x"] = g.inputs[0]
    names = [g.add_const(f"c{i}", c) for i, c in enumerate(consts)]
    node = Node(op_type.lower(), op_type, ["x", *names], ["y"], {**op.attrs, **attrs})
    g.nodes.append(node)
    return op, g, node


def to_last(a):
    return np.moveaxis(a, 1, -1)


@pytest.mark.parametrize("op_type,attrs,x_shape,consts", CASES,
                         ids=[f"{c[0]}-{len(c[2]) - 2}d-{i}" for i, c in enumerate(CASES)])
def test_nhwc_equals_transposed_nchw(op_type, attrs, x_shape, consts):
    x = f(*x_shape)
    op, g1, n1 = one_node_graph(op_type, attrs, x_shape, consts)
    x_last = np.ascontiguousarray(to_last(x))
    _, g2, n2 = one_node_graph(op_type, {**attrs, "layout": "NHWC"}, x_last.shape, consts)
    (s1, d1), = op.infer(n1, g1)
    (s2, d2), = op.infer(n2, g2)
    assert s2 == to_last(np.empty(s1)).shape and d1 == d2
    y1, = op.run(n1, [x, *consts])
    y2, = op.run(n2, [x_last, *consts])
    assert y1.shape == s1 and y2.shape == s2
    assert y1.dtype == y2.dtype == x.dtype
    np.testing.assert_allclose(y2, to_last(y1), rtol=1e-6, atol=1e-6)


def test_layout_is_not_ignored():
    """A channels-last node really reads channels from the last axis (not just a relabel)."""
    x = f(1, 4, 5, 3)  # (N, H, W, C): 3 channels
    op, g, node = one_node_graph("BatchNormalization", {"layout": "NHWC"}, x.shape, bn_params(3))
    (shape, _), = op.infer(node, g)
    assert shape == x.shape
    y, = op.run(node, [x, *[g.initializers[i] for i in node.inputs[1:]]])
    scale, b, mean, var = (g.initializers[i] for i in node.inputs[1:])
    want = (x - mean) / np.sqrt(var + 1e-5) * scale + b  # broadcasts on the last axis
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-6)
