"""Pass reduce_mean_to_pool: a ReduceMean over exactly the spatial axes becomes a GlobalAveragePool
(plus a Flatten for keepdims=0), with the same outputs; every other ReduceMean stays."""
import numpy as np
import pytest
from onnx import helper
from pass_util import check_rewrite, onnx_graph, op_types, rand

N = helper.make_node
X = {"x": (1, 3, 5, 4)}


def mean(axes, keepdims: int = 1, opset: int = 18, shape=(1, 3, 5, 4), **attrs):
    """A one-ReduceMean graph; the axes are an input from opset 18 and an attribute before."""
    if opset >= 18:
        node = N("ReduceMean", ["x", "axes"], ["y"], keepdims=keepdims, **attrs)
        inits = {"axes": np.array(axes, np.int64)}
    else:
        node = N("ReduceMean", ["x"], ["y"], axes=axes, keepdims=keepdims, **attrs)
        inits = {}
    return onnx_graph([node], {"x": shape}, ["y"], inits, opset=opset)


@pytest.mark.parametrize("opset", [13, 18])
@pytest.mark.parametrize("axes", [[2, 3], [3, 2], [-2, -1], [-1, 2]])
def test_mean_over_height_and_width_is_a_global_average_pool(axes, opset):
    h = check_rewrite(mean(axes, opset=opset), ["reduce_mean_to_pool"])
    assert op_types(h) == ["GlobalAveragePool"]
    pool = h.nodes[0]
    assert pool.inputs == ["x"] and pool.outputs == ["y"] and pool.attrs["layout"] == "NCHW"
    assert h.shape("y") == (1, 3, 1, 1)
    assert "axes" not in h.initializers  # the axes constant is dead afterwards


@pytest.mark.parametrize("opset", [13, 18])
def test_keepdims_0_adds_a_flatten_and_keeps_the_output_name_and_shape(opset):
    h = check_rewrite(mean([2, 3], keepdims=0, opset=opset), ["reduce_mean_to_pool"])
    assert op_types(h) == ["GlobalAveragePool", "Flatten"]
    pool, flat = h.nodes
    assert flat.inputs == pool.outputs and flat.outputs == ["y"] and flat.attrs["axis"] == 1
    assert h.shape("y") == (1, 3)


@pytest.mark.parametrize("keepdims, ops, out", [(1, ["GlobalAveragePool"], (1, 1, 1, 4)),
                                                (0, ["GlobalAveragePool", "Flatten"], (1, 4))])
def test_mean_over_axes_1_and_2_is_a_channels_last_pool(keepdims, ops, out):
    h = check_rewrite(mean([1, 2], keepdims=keepdims), ["reduce_mean_to_pool"])
    assert op_types(h) == ops
    assert h.nodes[0].attrs["layout"] == "NHWC"
    assert h.shape("y") == out


@pytest.mark.parametrize("axes", [[1], [2], [3], [1, 3], [0, 2, 3], [1, 2, 3], [0, 1, 2, 3]])
def test_mean_over_channels_or_one_spatial_axis_stays(axes):
    h = check_rewrite(mean(axes), ["reduce_mean_to_pool"])
    assert op_types(h) == ["ReduceMean"]


def test_mean_over_every_axis_and_noop_stay():
    every = onnx_graph([N("ReduceMean", ["x"], ["y"])], X, ["y"], opset=18)
    noop = onnx_graph([N("ReduceMean", ["x", "axes"], ["y"], noop_with_empty_axes=1)], X, ["y"],
                      {"axes": np.array([], np.int64)}, opset=18)
    for g in (every, noop):
        assert op_types(check_rewrite(g, ["reduce_mean_to_pool"])) == ["ReduceMean"]


@pytest.mark.parametrize("shape, axes", [((1, 6, 5), [2]), ((1, 6, 5), [1]), ((1, 2, 3, 4, 5), [2, 3, 4]),
                                         ((1, 2, 3, 4, 5), [3, 4])])
def test_other_ranks_stay(shape, axes):
    # a rank-3 mean over the last axis is how LayerNorm is written: it stays on the host
    assert op_types(check_rewrite(mean(axes, shape=shape), ["reduce_mean_to_pool"])) == ["ReduceMean"]


def test_in_the_hardware_flow_the_pool_is_channels_last_and_takes_the_relu6():
    # Conv -> x.mean((2, 3), keepdim=True) -> ReLU6 -> flatten -> Linear, as PyTorch's dynamo exporter
    # writes it
    w, b = rand(4, 3, 3, 3, seed=2), rand(4, seed=3)
    wf, bf = rand(5, 4, seed=4), rand(5, seed=5)
    g = onnx_graph([N("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
                    N("ReduceMean", ["c", "axes"], ["m"], keepdims=1),
                    N("Clip", ["m", "lo", "hi"], ["r"]),
                    N("Reshape", ["r", "shape"], ["f"]),
                    N("Gemm", ["f", "wf", "bf"], ["y"], transB=1)],
                   {"x": (1, 3, 6, 6)}, ["y"],
                   {"w": w, "b": b, "axes": np.array([-1, -2], np.int64), "lo": np.float32(0), "hi": np.float32(6),
                    "shape": np.array([-1, 4], np.int64), "wf": wf, "bf": bf}, opset=18)
    h = check_rewrite(g, "hardware")
    assert op_types(h) == ["Transpose", "Conv", "GlobalAveragePool", "Reshape", "Gemm"]
    pool = h.nodes[2]
    assert pool.attrs["layout"] == "NHWC" and pool.attrs["clip"] == [0.0, 6.0]
