"""Properties of the auto-folder over random models, boards and budgets (hypothesis):

- more budget never predicts fewer frames per second;
- every chosen PE divides the layer's output channels (or lanes), every SIMD its input columns (or,
  for a convolution, is its input channels times a divisor of its kernel positions);
- a design reported as fitting never exceeds the ceiling of any resource.
"""
from __future__ import annotations

import dataclasses
from functools import cache
from pathlib import Path

import numpy as np
import onnx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import helper, numpy_helper

import fpga_accel
from fpga_accel.compiler import load_qmodel
from fpga_accel.fold import FoldError, board_names, fold_model, get_board
from fpga_accel.fold.boards import RESOURCES
from models import data

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def conv_net(c0, hw, c1, k, stride, pool, c2, depthwise, n_out, seed) -> onnx.ModelProto:
    """Conv(k, stride) → Relu → [MaxPool 2] → Conv 3x3 (or depthwise) → Relu → GlobalAveragePool →
    Flatten → Gemm."""
    r = np.random.default_rng(seed)

    def init(name, *shape):
        return numpy_helper.from_array((r.standard_normal(shape) * 0.3).astype(np.float32), name)

    c2 = c1 if depthwise else c2
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["a"], name="conv1", kernel_shape=[k, k],
                              strides=[stride, stride], pads=[k // 2] * 4),
             helper.make_node("Relu", ["a"], ["ar"], name="relu1")]
    last = "ar"
    if pool:
        nodes.append(helper.make_node("MaxPool", [last], ["p"], name="pool", kernel_shape=[2, 2], strides=[2, 2]))
        last = "p"
    nodes += [helper.make_node("Conv", [last, "w2"], ["c"], name="conv2", kernel_shape=[3, 3], pads=[1, 1, 1, 1],
                               group=c1 if depthwise else 1),
              helper.make_node("Relu", ["c"], ["cr"], name="relu2"),
              helper.make_node("GlobalAveragePool", ["cr"], ["g"], name="gap"),
              helper.make_node("Flatten", ["g"], ["f"], name="flat"),
              helper.make_node("Gemm", ["f", "w3", "b3"], ["y"], name="fc", transB=1)]
    inits = [init("w1", c1, c0, k, k), init("b1", c1), init("w2", c2, 1 if depthwise else c1, 3, 3),
             init("w3", n_out, c2), init("b3", n_out)]
    g = helper.make_graph(nodes, "net", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, c0, hw, hw])],
                          [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, n_out])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    return m


nets = st.builds(conv_net, c0=st.sampled_from([1, 2, 3, 4]), hw=st.sampled_from([6, 8, 12]),
                 c1=st.sampled_from([2, 4, 6, 8, 12, 16]), k=st.sampled_from([1, 3]), stride=st.sampled_from([1, 2]),
                 pool=st.booleans(), c2=st.sampled_from([4, 8, 10, 32]), depthwise=st.booleans(),
                 n_out=st.sampled_from([3, 10]), seed=st.integers(0, 3))


@cache
def compiled(model_bytes: bytes, bits: int, tmp: str):
    m = onnx.load_from_string(model_bytes)
    shape = [d.dim_value for d in m.graph.input[0].type.tensor_type.shape.dim]
    calib = np.random.default_rng(0).standard_normal([8] + shape[1:]).astype(np.float32)
    out = Path(tmp) / f"m{abs(hash(model_bytes)) % 10**8}_{bits}.fpga"
    return load_qmodel(fpga_accel.compile(model_bytes, out, calib=calib, bits=bits, progress=False, generators=[]))


@cache
def example(name: str, tmp: str):
    calib = None if name.endswith("_qdq") else data.load_calib(name)
    b = fpga_accel.compile(data.model_path(name), Path(tmp) / f"{name}.fpga", calib=calib, progress=False,
                           generators=[])
    return load_qmodel(b)


@pytest.fixture(scope="module")
def tmp(tmp_path_factory):
    return str(tmp_path_factory.mktemp("props"))


def scaled(board, f: dict[str, float]):
    """``board`` with each resource count scaled by f[kind] (a what-if board)."""
    return dataclasses.replace(board, name=board.name + "-scaled",
                               **{k: max(0, int(board.total(k) * f[k])) for k in RESOURCES})


def dimensions(layer) -> tuple[int, int]:
    """(what PE divides, what SIMD divides) of a layer, from its own config and constants."""
    c = layer.config
    if layer.op_type == "Conv":
        w = layer.consts["weights"]
        depthwise = c["group"] > 1  # SIMD 1 or PE, or the channels times kernel positions (PE = C)
        return (w.shape[0], w.shape[0]) if depthwise else (w.shape[0], c["in_shape"][-1])
    if layer.op_type in ("Gemm", "MatMul"):
        return c["out_features"], c["in_features"]
    return None


def check_design(qm, r, board, ceiling):
    board = get_board(board)
    used = r.design.usage.as_dict()
    for k in RESOURCES:
        assert used[k] <= int(board.available(k) * ceiling)
    for layer in qm.layers:
        fold = r.foldings[layer.name]
        dims = dimensions(layer)
        if dims is not None:
            simd = fold.get("simd", 1)
            # a convolution's SIMD may also be whole pixels times a divisor of its kernel positions
            taps = int(np.prod(layer.config["kernel"])) if layer.op_type == "Conv" else 1
            assert dims[0] % fold.get("pe", 1) == 0
            assert dims[1] % simd == 0 or (simd % dims[1] == 0 and taps % (simd // dims[1]) == 0), (layer.name, fold)
            if layer.op_type == "Conv" and layer.config["group"] > 1 and simd > 1:
                assert simd == fold["pe"] or fold["pe"] == dims[0], (layer.name, fold)
        elif "pe" in fold:
            assert qm.tensors[layer.outputs[0]].shape[-1] % fold["pe"] == 0


def fps_or_none(qm, board, ceiling=0.8):
    try:
        r = fold_model(qm, board, ceiling=ceiling)
    except FoldError:
        return None, None
    check_design(qm, r, board, ceiling)
    return r.fps, r


budgets = st.fixed_dictionaries({k: st.floats(0.002, 1.0) for k in RESOURCES})


@SETTINGS
@given(net=nets, bits=st.sampled_from([4, 8]), board=st.sampled_from(board_names()), f=budgets,
       grow=st.fixed_dictionaries({k: st.floats(1.0, 4.0) for k in RESOURCES}))
def test_more_budget_never_slower_random_nets(tmp, net, bits, board, f, grow):
    qm = compiled(net.SerializeToString(), bits, tmp)
    small = scaled(get_board(board), f)
    big = scaled(get_board(board), {k: f[k] * grow[k] for k in RESOURCES})
    fps_small, _ = fps_or_none(qm, small)
    fps_big, _ = fps_or_none(qm, big)
    if fps_small is not None:
        assert fps_big is not None and fps_big >= fps_small


@SETTINGS
@given(name=st.sampled_from(data.names()), board=st.sampled_from(board_names()), c1=st.floats(0.01, 1.0),
       c2=st.floats(0.01, 1.0), f=budgets)
def test_higher_ceiling_never_slower_examples(tmp, name, board, c1, c2, f):
    qm = example(name, tmp)
    lo, hi = sorted((c1, c2))
    b = scaled(get_board(board), f)
    fps_lo, _ = fps_or_none(qm, b, lo)
    fps_hi, _ = fps_or_none(qm, b, hi)
    if fps_lo is not None:
        assert fps_hi is not None and fps_hi >= fps_lo


@SETTINGS
@given(net=nets, bits=st.sampled_from([4, 6, 8]), board=st.sampled_from(board_names()),
       ceiling=st.floats(0.05, 1.0), target=st.one_of(st.none(), st.floats(10, 1e6)))
def test_divisors_and_ceiling_random_nets(tmp, net, bits, board, ceiling, target):
    qm = compiled(net.SerializeToString(), bits, tmp)
    try:
        r = fold_model(qm, board, ceiling=ceiling, target_fps=target)
    except FoldError as e:
        assert "does not fit" in str(e)
        return
    check_design(qm, r, board, ceiling)
    if target is not None:
        full = fold_model(qm, board, ceiling=ceiling)
        assert r.fps >= min(target, full.fps) * (1 - 1e-12)


@pytest.mark.parametrize("ceiling", [0.05, 0.1, 0.2])
@pytest.mark.parametrize("c1,c2", [(16, 32), (12, 10)])
def test_a_goal_between_two_bottlenecks_is_met_by_the_faster(tmp, ceiling, c1, c2):
    """A --target-fps whose cycles fall just above a bottleneck the folding reaches (goal = its cycles +
    0.5) is met: the search may stop no slower than that bottleneck, not at the next slower one."""
    net = conv_net(c0=3, hw=12, c1=c1, k=3, stride=1, pool=True, c2=c2, depthwise=False, n_out=10, seed=0)
    qm = compiled(net.SerializeToString(), 8, tmp)
    try:
        full = fold_model(qm, "pynq-z2", ceiling=ceiling)
    except FoldError:
        pytest.skip("does not fit at this ceiling")
    target = full.clock_mhz * 1e6 / (full.design.cycles + 0.5)
    r = fold_model(qm, "pynq-z2", ceiling=ceiling, target_fps=target)
    assert r.fps >= target * (1 - 1e-12), (r.design.cycles, full.design.cycles, r.reason)
