"""Branchy test networks for the timed simulation (residual, inception-style concat, forks in a row),
built with onnx.helper and compiled for a board with only the HLS generator."""
from __future__ import annotations

import numpy as np
from onnx import helper

from codegen_util import make_model


def _conv(name, x, y, c_in, c_out, k, r, pad=None):
    pad = k // 2 if pad is None else pad
    w = (r.standard_normal((c_out, c_in, k, k)) / np.sqrt(c_in * k * k)).astype(np.float32)
    b = (0.1 * r.standard_normal(c_out)).astype(np.float32)
    node = helper.make_node("Conv", [x, f"{name}_w", f"{name}_b"], [y], name=name, kernel_shape=[k, k],
                            pads=[pad] * 4)
    return node, {f"{name}_w": w, f"{name}_b": b}


def _relu(name, x, y):
    return helper.make_node("Relu", [x], [y], name=name)


def residual(c=8, hw=12, seed=0):
    """conv → relu → fork: (conv3x3 → relu → conv3x3) + skip → relu → global average pool."""
    r = np.random.default_rng(seed)
    nodes, inits = [], {}
    for n, i in (_conv("stem", "x", "s", 1, c, 3, r), _conv("c1", "a", "b", c, c, 3, r), _conv("c2", "b1", "d", c, c, 3, r)):
        nodes.append(n)
        inits.update(i)
    nodes = [nodes[0], _relu("r0", "s", "a"), nodes[1], _relu("r1", "b", "b1"), nodes[2],
             helper.make_node("Add", ["d", "a"], ["e"], name="add"), _relu("r2", "e", "f"),
             helper.make_node("GlobalAveragePool", ["f"], ["y"], name="gap")]
    return make_model(nodes, {"x": [1, hw, hw]}, inits)


def inception(c=8, hw=10, seed=1):
    """conv → relu → fork of three: conv1x1, conv3x3, maxpool3x3 (stride 1, pad 1) → concat."""
    r = np.random.default_rng(seed)
    nodes, inits = [], {}
    for n, i in (_conv("stem", "x", "s", 1, c, 3, r), _conv("b1", "a", "p", c, c, 1, r),
                 _conv("b3", "a", "q", c, c, 3, r)):
        nodes.append(n)
        inits.update(i)
    nodes = [nodes[0], _relu("r0", "s", "a"), nodes[1], nodes[2],
             helper.make_node("MaxPool", ["a"], ["m"], name="mp", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             helper.make_node("Concat", ["p", "q", "m"], ["y"], name="cat", axis=1)]
    return make_model(nodes, {"x": [1, hw, hw]}, inits)


def forks_in_a_row(c=8, hw=10, seed=2):
    """Two residual blocks back to back, then a tensor read by three layers (a fork of three)."""
    r = np.random.default_rng(seed)
    nodes, inits = [], {}

    def conv(*a, **k):
        n, i = _conv(*a, r=r, **k)
        inits.update(i)
        return n

    nodes += [conv("stem", "x", "s", 1, c, 3), _relu("r0", "s", "a0")]
    for blk in range(2):
        a = f"a{blk}"
        nodes += [conv(f"c{blk}", a, f"b{blk}", c, c, 3), _relu(f"rb{blk}", f"b{blk}", f"bb{blk}"),
                  helper.make_node("Add", [f"bb{blk}", a], [f"e{blk}"], name=f"add{blk}"),
                  _relu(f"re{blk}", f"e{blk}", f"a{blk + 1}")]
    nodes += [conv("t1", "a2", "t1o", c, c, 1), conv("t3", "a2", "t3o", c, c, 3),
              helper.make_node("Add", ["t1o", "t3o"], ["u"], name="add_t"),
              helper.make_node("Add", ["u", "a2"], ["y"], name="add_skip")]
    return make_model(nodes, {"x": [1, hw, hw]}, inits)


def fork_to_output(c=8, hw=12, seed=3):
    """conv → relu → a, a fork: hardware output ``a``, and conv3x3 → hardware output ``y``."""
    r = np.random.default_rng(seed)
    (n0, i0), (n1, i1) = _conv("stem", "x", "s", 1, c, 3, r), _conv("c1", "a", "y", c, c, 3, r)
    return make_model([n0, _relu("r0", "s", "a"), n1], {"x": [1, hw, hw]}, {**i0, **i1}, outputs=["a", "y"])


def residual_output(c=8, hw=12, seed=4):
    """The residual block's fork also a hardware output: conv → relu → a; a → output, and
    a + (conv3x3 → relu → conv3x3) → relu → maxpool 2x2 → output ``y``."""
    r = np.random.default_rng(seed)
    nodes, inits = [], {}
    for n, i in (_conv("stem", "x", "s", 1, c, 3, r), _conv("c1", "a", "b", c, c, 3, r), _conv("c2", "b1", "d", c, c, 3, r)):
        nodes.append(n)
        inits.update(i)
    nodes = [nodes[0], _relu("r0", "s", "a"), nodes[1], _relu("r1", "b", "b1"), nodes[2],
             helper.make_node("Add", ["a", "d"], ["e"], name="add"), _relu("r2", "e", "f"),
             helper.make_node("MaxPool", ["f"], ["y"], name="mp", kernel_shape=[2, 2], strides=[2, 2])]
    return make_model(nodes, {"x": [1, hw, hw]}, inits, outputs=["a", "y"])


NETS = {"residual": residual, "inception": inception, "forks_in_a_row": forks_in_a_row,
        "fork_to_output": fork_to_output, "residual_output": residual_output}


def compile_net(name: str, path, board: str = "pynq-z2", config=None, fifo_sizing: str = "model"):
    """The bundle of test network ``name`` (random calibration data, HLS generator only)."""
    import fpga_accel
    from fpga_accel.codegen.hls_project import generate_hls

    model = NETS[name]()
    shape = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim[1:]]
    calib = np.random.default_rng(0).uniform(-1, 1, (16, *shape)).astype(np.float32)
    return fpga_accel.compile(model, path, board=board, calib=calib, config=config, progress=False,
                              generators=[generate_hls], fifo_sizing=fifo_sizing)
