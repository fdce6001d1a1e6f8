"""The partition rule: host ops before or after the accelerated part, and host ops that split it."""
import numpy as np
import pytest
from onnx import TensorProto as TP
from onnx import helper, numpy_helper

from fpga_accel.frontend import import_onnx
from fpga_accel.ops import lookup
from fpga_accel.partition import partition

vi = helper.make_tensor_value_info


@pytest.fixture(autouse=True)
def _need_ops():
    missing = [op for op in ("Softmax", "ArgMax", "ReduceMean", "Cast", "Gemm", "Relu") if lookup(op) is None]
    if missing:
        pytest.skip(f"ops not registered yet: {missing}")


def graph(nodes, inputs, outputs, weights):
    inits = [numpy_helper.from_array(np.ones(s, np.float32), n) for n, s in weights.items()]
    g = helper.make_graph(nodes, "p", inputs, outputs, inits)
    return import_onnx(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]))


def fc(name, x, y, w):
    return helper.make_node("Gemm", [x, w], [y], name=name)


def names(nodes):
    return [n.name for n in nodes]


def test_softmax_at_the_end_is_host_after():
    g = graph([fc("fc1", "x", "h", "w1"), helper.make_node("Relu", ["h"], ["r"], name="act"),
               fc("fc2", "r", "z", "w2"), helper.make_node("Softmax", ["z"], ["y"], name="sm")],
              [vi("x", TP.FLOAT, ["N", 4])], [vi("y", TP.FLOAT, ["N", 2])], {"w1": (4, 3), "w2": (3, 2)})
    p = partition(g)
    assert names(p.hardware) == ["fc1", "act", "fc2"]
    assert names(p.host_after) == ["sm"] and not p.host_before and not p.splitting and p.ok
    assert p.placement(g.node("sm")) == "host" and p.placement(g.node("fc1")) == "hardware"


def test_host_op_at_the_start_is_host_before():
    g = graph([helper.make_node("ReduceMean", ["x"], ["m"], name="mean", axes=[2], keepdims=0),
               fc("fc", "m", "y", "w")],
              [vi("x", TP.FLOAT, ["N", 4, 3])], [vi("y", TP.FLOAT, ["N", 2])], {"w": (4, 2)})
    p = partition(g)
    assert names(p.host_before) == ["mean"] and names(p.hardware) == ["fc"]
    assert not p.host_after and p.ok


def test_host_op_between_hardware_nodes_splits():
    g = graph([fc("fc1", "x", "h", "w1"), helper.make_node("Softmax", ["h"], ["s"], name="sm"),
               fc("fc2", "s", "y", "w2")],
              [vi("x", TP.FLOAT, ["N", 4])], [vi("y", TP.FLOAT, ["N", 2])], {"w1": (4, 3), "w2": (3, 2)})
    p = partition(g)
    assert names(p.splitting) == ["sm"] and not p.ok
    assert names(p.hardware) == ["fc1", "fc2"] and not p.host_after and not p.host_before


def test_rule_follows_the_data_not_the_node_order():
    """Softmax ends one branch; the other branch's nodes are listed after it but do not read it."""
    g = graph([fc("fc1", "x", "a", "w1"), helper.make_node("Softmax", ["a"], ["y1"], name="sm"),
               fc("fc2", "x", "b", "w2"), helper.make_node("Relu", ["b"], ["y2"], name="act")],
              [vi("x", TP.FLOAT, ["N", 4])], [vi("y1", TP.FLOAT, ["N", 3]), vi("y2", TP.FLOAT, ["N", 2])],
              {"w1": (4, 3), "w2": (4, 2)})
    assert [n.name for n in g.nodes].index("sm") < [n.name for n in g.nodes].index("fc2")
    p = partition(g)
    assert names(p.host_after) == ["sm"] and names(p.hardware) == ["fc1", "fc2", "act"] and p.ok


def test_removed_op_after_a_host_op_stays_on_the_host():
    """ArgMax → Cast: the Cast has no hardware after it and a host op before it."""
    g = graph([fc("fc", "x", "z", "w"), helper.make_node("ArgMax", ["z"], ["i"], name="argmax", axis=1),
               helper.make_node("Cast", ["i"], ["y"], name="cast", to=TP.INT32)],
              [vi("x", TP.FLOAT, ["N", 4])], [vi("y", TP.INT32, ["N", 1])], {"w": (4, 3)})
    p = partition(g)
    assert names(p.hardware) == ["fc"] and names(p.host_after) == ["argmax", "cast"] and p.ok
