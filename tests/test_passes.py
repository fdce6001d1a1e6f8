"""Every graph pass on small graphs: verifier on both sides, same outputs, the intended rewrite."""
import math

import numpy as np
import pytest
from onnx import helper
from pass_util import check_rewrite, ir_graph, onnx_graph, op_types, rand

from fpga_accel.errors import GraphError
from fpga_accel.passes import FLOWS, all_passes, run_flow

N = helper.make_node


def bn_params(c: int, prefix: str = "bn") -> dict:
    return {f"{prefix}_s": rand(c, seed=11), f"{prefix}_b": rand(c, seed=12),
            f"{prefix}_m": rand(c, seed=13), f"{prefix}_v": rand(c, seed=14, positive=True)}


def bn(x: str, y: str, prefix: str = "bn", **attrs):
    return N("BatchNormalization", [x] + [f"{prefix}_{k}" for k in "sbmv"], [y], **attrs)


def bn_affine(p: dict, prefix: str = "bn", eps: float = 1e-5):
    s = p[f"{prefix}_s"].astype(np.float64) / np.sqrt(p[f"{prefix}_v"].astype(np.float64) + eps)
    return s, p[f"{prefix}_b"] - p[f"{prefix}_m"] * s


def count(g, op_type: str) -> int:
    return op_types(g).count(op_type)


# --- fold_constants --------------------------------------------------------------------------
def test_fold_constants_evaluates_constant_nodes_and_prunes_dead_code():
    c1, c2 = rand(4, seed=1), rand(4, seed=2)
    g = ir_graph({"x": (1, 4)},
                 [("Mul", ["c1", "c2"], ["m"], {}), ("Add", ["x", "m"], ["y"], {}), ("Relu", ["x"], ["dead"], {})],
                 ["y"], {"c1": c1, "c2": c2, "unused": rand(3)})
    h = check_rewrite(g, ["fold_constants"])
    assert op_types(h) == ["Add"]
    assert set(h.initializers) == {"m"}
    np.testing.assert_array_equal(h.const("m"), c1 * c2)


def test_fold_constants_uses_shapes_but_keeps_graph_outputs_computed():
    # Shape(x)[1:] is known without x; a constant-only node that is a graph output stays
    g = ir_graph({"x": (1, 4)},
                 [("Shape", ["x"], ["s"], {"start": 1}), ("Cast", ["s"], ["sf"], {"to": 1}),
                  ("Add", ["x", "sf"], ["y"], {}), ("Neg", ["k"], ["z"], {})],
                 ["y", "z"], {"k": rand(2)})
    h = check_rewrite(g, ["fold_constants"])
    assert op_types(h) == ["Add", "Neg"]
    np.testing.assert_array_equal(h.const("sf"), [4.0])


# --- drop_identity -----------------------------------------------------------------------------
def test_drop_identity_removes_identity_and_dropout_keeping_output_names():
    g = onnx_graph([N("Identity", ["x"], ["a"]), N("Relu", ["a"], ["b"]),
                    N("Dropout", ["b", "ratio"], ["c"]), N("Identity", ["c"], ["y"])],
                   {"x": (1, 5)}, ["y"], {"ratio": np.array(0.3, np.float32)})
    h = check_rewrite(g, ["drop_identity"])
    assert op_types(h) == ["Relu"]
    assert h.nodes[0].inputs == ["x"] and h.nodes[0].outputs == ["y"]


def test_drop_identity_keeps_an_identity_that_renames_an_input_to_an_output():
    g = onnx_graph([N("Identity", ["x"], ["y"]), N("Dropout", ["x"], ["z"])], {"x": (1, 5)}, ["y", "z"])
    h = check_rewrite(g, ["drop_identity"])
    assert op_types(h) == ["Identity", "Identity"]  # the Dropout became the Identity it is


def test_drop_identity_keeps_dropout_whose_mask_is_read():
    g = onnx_graph([N("Dropout", ["x"], ["a", "mask"]), N("Cast", ["mask"], ["mf"], to=1),
                    N("Add", ["a", "mf"], ["y"])], {"x": (1, 5)}, ["y"])
    h = check_rewrite(g, ["drop_identity"])
    assert count(h, "Dropout") == 1


# --- matmul_add_to_gemm ----------------------------------------------------------------------
@pytest.mark.parametrize("bias_shape", [(4,), (1, 4), (1,)])
def test_matmul_plus_constant_becomes_gemm(bias_shape):
    w, b = rand(6, 4), rand(*bias_shape, seed=3)
    g = onnx_graph([N("MatMul", ["x", "w"], ["m"]), N("Add", ["b", "m"], ["y"])], {"x": (1, 6)}, ["y"],
                   {"w": w, "b": b})
    h = check_rewrite(g, ["matmul_add_to_gemm"])
    assert op_types(h) == ["Gemm"]
    gemm = h.nodes[0]
    assert gemm.outputs == ["y"] and gemm.attrs["transB"] == 0
    np.testing.assert_array_equal(h.const(gemm.inputs[1]), w)
    np.testing.assert_array_equal(h.const(gemm.inputs[2]), b)


@pytest.mark.parametrize("case", ["runtime_bias", "rank3", "wide_bias"])
def test_matmul_add_that_is_no_gemm_stays(case):
    w = rand(6, 4)
    inputs = {"x": (1, 2, 6) if case == "rank3" else (1, 6)}
    inits = {"w": w}
    if case == "runtime_bias":
        inputs["z"] = (1, 4)
    else:
        inits["z"] = rand(3, 4) if case == "wide_bias" else rand(4)
    g = onnx_graph([N("MatMul", ["x", "w"], ["m"]), N("Add", ["m", "z"], ["y"])], inputs, ["y"], inits)
    h = check_rewrite(g, ["matmul_add_to_gemm"])
    assert op_types(h) == ["MatMul", "Add"]


# --- fold_batchnorm --------------------------------------------------------------------------
def test_batchnorm_folds_into_conv_and_creates_the_bias():
    w, p = rand(4, 3, 3, 3), bn_params(4)
    g = onnx_graph([N("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]), bn("c", "y", epsilon=1e-3)],
                   {"x": (1, 3, 6, 6)}, ["y"], {"w": w, **p})
    h = check_rewrite(g, ["fold_batchnorm"])
    assert op_types(h) == ["Conv"]
    conv = h.nodes[0]
    s, t = bn_affine(p, eps=1e-3)
    assert conv.outputs == ["y"] and len(conv.inputs) == 3
    np.testing.assert_allclose(h.const(conv.inputs[1]), w * s[:, None, None, None], rtol=1e-6)
    np.testing.assert_allclose(h.const(conv.inputs[2]), t, rtol=1e-6, atol=1e-7)


def test_batchnorm_folds_into_conv1d_with_bias():
    g = onnx_graph([N("Conv", ["x", "w", "b"], ["c"]), bn("c", "y")], {"x": (1, 3, 10)}, ["y"],
                   {"w": rand(5, 3, 3), "b": rand(5, seed=4), **bn_params(5)})
    assert op_types(check_rewrite(g, ["fold_batchnorm"])) == ["Conv"]


@pytest.mark.parametrize("trans_b", [0, 1])
def test_batchnorm_folds_into_gemm(trans_b):
    w = rand(4, 6) if trans_b else rand(6, 4)
    g = onnx_graph([N("Gemm", ["x", "w", "c"], ["g"], transB=trans_b, beta=0.5), bn("g", "y")],
                   {"x": (1, 6)}, ["y"], {"w": w, "c": rand(4, seed=5), **bn_params(4)})
    h = check_rewrite(g, ["fold_batchnorm"])
    assert op_types(h) == ["Gemm"] and h.nodes[0].attrs["beta"] == 1.0


def test_batchnorm_after_matmul_makes_a_gemm():
    g = onnx_graph([N("MatMul", ["x", "w"], ["m"]), bn("m", "y")], {"x": (1, 6)}, ["y"],
                   {"w": rand(6, 4), **bn_params(4)})
    h = check_rewrite(g, ["fold_batchnorm"])
    assert op_types(h) == ["Gemm"]


@pytest.mark.parametrize("shape,const_shape", [((1, 4, 5, 5), (4, 1, 1)), ((1, 4, 7), (4, 1)), ((1, 4), (4,))])
def test_batchnorm_without_foldable_producer_becomes_mul_add(shape, const_shape):
    p = bn_params(4)
    g = onnx_graph([N("Relu", ["x"], ["r"]), bn("r", "y")], {"x": shape}, ["y"], p)
    h = check_rewrite(g, ["fold_batchnorm"])
    assert op_types(h) == ["Relu", "Mul", "Add"]
    mul, add = h.nodes[1:]
    s, t = bn_affine(p)
    np.testing.assert_allclose(h.const(mul.inputs[1]), s.reshape(const_shape), rtol=1e-6)
    np.testing.assert_allclose(h.const(add.inputs[1]), t.reshape(const_shape), rtol=1e-6)
    assert add.outputs == ["y"]


def test_batchnorm_between_unsqueeze_and_squeeze_folds_into_gemm():
    g = onnx_graph([N("Gemm", ["x", "w"], ["g"]), N("Unsqueeze", ["g", "axes"], ["u"]), bn("u", "b"),
                    N("Squeeze", ["b", "axes"], ["y"])],
                   {"x": (1, 6)}, ["y"], {"w": rand(6, 4), "axes": np.array([2], np.int64), **bn_params(4)})
    h = check_rewrite(g, ["fold_batchnorm"])
    assert op_types(h) == ["Gemm"] and h.nodes[0].outputs == ["y"]


def test_channels_last_batchnorm_folds_into_channels_last_conv():
    w, p = rand(4, 3, 3, 3), bn_params(4)
    nhwc = {"layout": "NHWC"}
    g = ir_graph({"x": (1, 6, 6, 3)}, [("Conv", ["x", "w"], ["c"], nhwc),
                                       ("BatchNormalization", ["c", "bn_s", "bn_b", "bn_m", "bn_v"], ["y"], nhwc)],
                 ["y"], {"w": w, **p})
    h = check_rewrite(g, ["fold_batchnorm"])
    assert op_types(h) == ["Conv"]
    np.testing.assert_allclose(h.const(h.nodes[0].inputs[1]), w * bn_affine(p)[0][:, None, None, None], rtol=1e-6)


def test_batchnorm_after_conv_with_another_reader_is_not_folded():
    g = onnx_graph([N("Conv", ["x", "w"], ["c"]), bn("c", "y")], {"x": (1, 3, 5, 5)}, ["y", "c"],
                   {"w": rand(4, 3, 3, 3), **bn_params(4)})
    h = check_rewrite(g, ["fold_batchnorm"])
    assert op_types(h) == ["Conv", "Mul", "Add"]


# --- fold_scale_bias ---------------------------------------------------------------------------
def test_per_channel_add_mul_sub_fold_into_conv():
    w, b, s, t = rand(4, 3, 3, 3), rand(4, 1, 1, seed=6), rand(1, 4, 1, 1, seed=7), rand(4, 1, 1, seed=8)
    g = onnx_graph([N("Conv", ["x", "w"], ["c"]), N("Add", ["c", "b"], ["a"]), N("Mul", ["s", "a"], ["m"]),
                    N("Sub", ["m", "t"], ["y"])], {"x": (1, 3, 6, 6)}, ["y"], {"w": w, "b": b, "s": s, "t": t})
    h = check_rewrite(g, ["fold_scale_bias"])
    assert op_types(h) == ["Conv"] and h.nodes[0].outputs == ["y"]


def test_scale_and_bias_fold_into_gemm():
    g = onnx_graph([N("Gemm", ["x", "w"], ["g"], transB=1, alpha=2.0), N("Mul", ["g", "s"], ["m"]),
                    N("Add", ["m", "b"], ["y"])], {"x": (1, 5)}, ["y"],
                   {"w": rand(3, 5), "s": rand(3, seed=2), "b": np.full((1, 1), 0.5, np.float32)})
    assert op_types(check_rewrite(g, ["fold_scale_bias"])) == ["Gemm"]


@pytest.mark.parametrize("case", ["spatial", "const_minus_y", "runtime"])
def test_scale_bias_that_does_not_fold_stays(case):
    inputs, inits = {"x": (1, 3, 6, 6)}, {"w": rand(4, 3, 3, 3)}
    if case == "runtime":
        inputs["k"] = (1, 4, 1, 1)
    else:
        inits["k"] = rand(1, 4, 4) if case == "spatial" else rand(4, 1, 1)
    second = N("Sub", ["k", "c"], ["y"]) if case == "const_minus_y" else N("Add", ["c", "k"], ["y"])
    g = onnx_graph([N("Conv", ["x", "w"], ["c"]), second], inputs, ["y"], inits)
    assert len(check_rewrite(g, ["fold_scale_bias"]).nodes) == 2


# --- fuse_activation ---------------------------------------------------------------------------
PRODUCERS = {
    "Conv": ([N("Conv", ["x", "w"], ["p"])], {"x": (1, 3, 5, 5)}, {"w": rand(4, 3, 3, 3)}),
    "Gemm": ([N("Gemm", ["x", "w"], ["p"])], {"x": (1, 5)}, {"w": rand(5, 4)}),
    "MatMul": ([N("MatMul", ["x", "w"], ["p"])], {"x": (1, 5)}, {"w": rand(5, 4)}),
    "Add": ([N("Add", ["x", "z"], ["p"])], {"x": (1, 4, 3), "z": (1, 4, 3)}, {}),
}


@pytest.mark.parametrize("producer", sorted(PRODUCERS))
def test_relu_fuses_into_its_producer(producer):
    nodes, inputs, inits = PRODUCERS[producer]
    g = onnx_graph(nodes + [N("Relu", ["p"], ["y"])], inputs, ["y"], inits)
    h = check_rewrite(g, ["fuse_activation"])
    assert op_types(h) == [producer]
    assert h.nodes[0].attrs["clip"] == [0.0, math.inf] and h.nodes[0].outputs == ["y"]


@pytest.mark.parametrize("first,second,want", [((0, 6), (-1, 4), [0, 4]), ((0, 1), (2, 3), [2, 2]),
                                               ((-2, 2), (None, 1), [-2, 1])])
def test_clips_compose(first, second, want):
    def clip(x, y, bounds, k):
        names = [x] + [f"{k}_{i}" if v is not None else "" for i, v in enumerate(bounds)]
        consts = {f"{k}_{i}": np.array(v, np.float32) for i, v in enumerate(bounds) if v is not None}
        return N("Clip", names, [y]), consts
    c1, i1 = clip("p", "a", first, "c1")
    c2, i2 = clip("a", "y", second, "c2")
    g = onnx_graph([N("Gemm", ["x", "w"], ["p"]), c1, c2], {"x": (1, 5)}, ["y"], {"w": rand(5, 4) * 3, **i1, **i2})
    h = check_rewrite(g, ["fuse_activation"])
    assert op_types(h) == ["Gemm"] and h.nodes[0].attrs["clip"] == want


def test_relu6_as_opset10_clip_attributes_fuses():
    g = onnx_graph([N("Conv", ["x", "w"], ["p"]), N("Clip", ["p"], ["y"], min=0.0, max=6.0)],
                   {"x": (1, 3, 5, 5)}, ["y"], {"w": rand(4, 3, 3, 3) * 4}, opset=10)
    h = check_rewrite(g, ["fuse_activation"])
    assert op_types(h) == ["Conv"] and h.nodes[0].attrs["clip"] == [0.0, 6.0]


def test_relu_whose_input_has_another_reader_stays():
    g = onnx_graph([N("Conv", ["x", "w"], ["p"]), N("Relu", ["p"], ["y"]), N("Sigmoid", ["p"], ["z"])],
                   {"x": (1, 3, 5, 5)}, ["y", "z"], {"w": rand(4, 3, 3, 3)})
    h = check_rewrite(g, ["fuse_activation"])
    assert count(h, "Relu") == 1 and h.nodes[0].attrs["clip"] is None


# --- layout: to_nhwc, transpose_sinking, cancel_transposes, transpose_into_weights ---------------
def test_to_nhwc_wraps_every_spatial_op_and_cancel_leaves_the_boundaries():
    g = onnx_graph([N("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
                    N("MaxPool", ["c"], ["m"], kernel_shape=[2, 2], strides=[2, 2]),
                    N("AveragePool", ["m"], ["a"], kernel_shape=[2, 2]), N("GlobalAveragePool", ["a"], ["y"])],
                   {"x": (1, 3, 8, 8)}, ["y"], {"w": rand(4, 3, 3, 3)})
    h = check_rewrite(g, ["to_nhwc"])
    spatial = [n for n in h.nodes if n.op_type != "Transpose"]
    assert all(n.attrs["layout"] == "NHWC" for n in spatial) and count(h, "Transpose") == 8
    h = check_rewrite(g, ["to_nhwc", "cancel_transposes"])
    assert count(h, "Transpose") == 2
    first, last = h.nodes[0], h.nodes[-1]
    assert first.op_type == last.op_type == "Transpose"
    assert first.inputs == ["x"] and first.attrs["perm"] == [0, 2, 3, 1]
    assert last.outputs == ["y"] and last.attrs["perm"] == [0, 3, 1, 2]


def keras_cnn(rank: int):
    """A tf2onnx-style net: NHWC input, Transpose to NCHW, conv stack, Transpose back, Flatten, Dense."""
    if rank == 4:
        shape, to_first, to_last, w = (1, 8, 8, 3), [0, 3, 1, 2], [0, 2, 3, 1], rand(4, 3, 3, 3)
        pool = [N("MaxPool", ["s"], ["mp"], kernel_shape=[2, 2], strides=[2, 2])]
        feat = 4 * 3 * 3
    else:
        shape, to_first, to_last, w = (1, 10, 3), [0, 2, 1], [0, 2, 1], rand(4, 3, 3)
        pool = [N("MaxPool", ["s"], ["mp"], kernel_shape=[2], strides=[2])]
        feat = 4 * 4
    nodes = [N("Transpose", ["x"], ["xt"], perm=to_first), N("Conv", ["xt", "w", "b"], ["c"]), N("Relu", ["c"], ["r"]),
             bn("r", "n"), N("Selu", ["n"], ["s"]), *pool, N("Transpose", ["mp"], ["back"], perm=to_last),
             N("Identity", ["back"], ["id"]), N("Flatten", ["id"], ["f"]), N("MatMul", ["f", "dw"], ["d"]),
             N("Add", ["d", "db"], ["dense"]), N("Relu", ["dense"], ["y"])]
    return onnx_graph(nodes, {"x": shape}, ["y"],
                      {"w": w, "b": rand(4, seed=3), **bn_params(4), "dw": rand(feat, 5), "db": rand(5, seed=9)})


@pytest.mark.parametrize("rank", [3, 4])
def test_keras_style_net_loses_every_transpose(rank):
    h = check_rewrite(keras_cnn(rank), "hardware")
    assert count(h, "Transpose") == 0 and count(h, "BatchNormalization") == 0
    conv = h.nodes[0]
    assert conv.op_type == "Conv" and conv.inputs[0] == "x" and conv.attrs["layout"] == "NHWC"
    assert conv.attrs["clip"] == [0.0, math.inf]
    assert op_types(h)[-2:] == ["Flatten", "Gemm"] and h.nodes[-1].attrs["clip"] == [0.0, math.inf]


@pytest.mark.parametrize("flatten", ["Flatten", "Reshape"])
def test_nchw_cnn_dense_weights_are_permuted_to_nhwc_order(flatten):
    c, hw = 4, 3
    w_dense = rand(c * hw * hw, 6, seed=21)
    fl = (N("Flatten", ["p"], ["f"]) if flatten == "Flatten" else N("Reshape", ["p", "shape"], ["f"]))
    g = onnx_graph([N("Conv", ["x", "w"], ["cv"]), N("Add", ["cv", "cb"], ["a"]), N("Relu", ["a"], ["r"]),
                    N("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]), fl,
                    N("MatMul", ["f", "dw"], ["m"]), N("Add", ["m", "db"], ["y"])],
                   {"x": (1, 2, 8, 8)}, ["y"],
                   {"w": rand(c, 2, 3, 3), "cb": rand(c, 1, 1, seed=5), "shape": np.array([1, -1], np.int64),
                    "dw": w_dense, "db": rand(6, seed=22)})
    h = check_rewrite(g, "hardware")
    assert op_types(h) == ["Transpose", "Conv", "MaxPool", flatten, "Gemm"]
    assert h.nodes[0].inputs == ["x"]  # the NCHW input is transposed once, on the way in
    order = np.arange(c * hw * hw).reshape(c, hw, hw).transpose(1, 2, 0).ravel()
    np.testing.assert_array_equal(h.const(h.nodes[-1].inputs[1]), w_dense[order])


def test_a_transpose_read_by_two_dense_heads_goes_into_both_weights():
    # one feature map, flattened into two Linear heads (PyTorch: torch.flatten and view of the same tensor)
    g = onnx_graph([N("Conv", ["x", "w"], ["cv"], pads=[1, 1, 1, 1]), N("Flatten", ["cv"], ["f1"]),
                    N("Gemm", ["f1", "w1"], ["a"], transB=1), N("Reshape", ["cv", "shape"], ["f2"]),
                    N("MatMul", ["f2", "w2"], ["b"]), N("Add", ["a", "b"], ["y"])],
                   {"x": (1, 2, 4, 4)}, ["y"], {"w": rand(3, 2, 3, 3), "w1": rand(5, 48, seed=7),
                                                "shape": np.array([1, 48], np.int64), "w2": rand(48, 5, seed=8)})
    h = check_rewrite(g, "hardware")
    assert sorted(op_types(h)) == ["Add", "Conv", "Flatten", "Gemm", "MatMul", "Reshape", "Transpose"]
    assert h.nodes[0].op_type == "Transpose" and h.nodes[0].inputs == ["x"]  # only the input's is left


def test_gemm_transb_weights_are_permuted_along_their_columns():
    g = onnx_graph([N("Conv", ["x", "w"], ["cv"]), N("Flatten", ["cv"], ["f"]),
                    N("Gemm", ["f", "dw"], ["y"], transB=1)],
                   {"x": (1, 2, 5, 5)}, ["y"], {"w": rand(3, 2, 3, 3), "dw": rand(7, 3 * 3 * 3)})
    h = check_rewrite(g, "hardware")
    assert op_types(h) == ["Transpose", "Conv", "Flatten", "Gemm"]


def test_one_channel_input_transpose_becomes_a_reshape():
    g = onnx_graph([N("Conv", ["x", "w"], ["y"])], {"x": (1, 1, 6, 6)}, ["y"], {"w": rand(2, 1, 3, 3)})
    h = check_rewrite(g, "hardware")
    assert op_types(h) == ["Reshape", "Conv", "Transpose"]
    assert list(h.const(h.nodes[0].inputs[1])) == [0, 6, 6, 1]


def test_transpose_after_global_pool_goes_before_a_flatten_into_anything():
    g = onnx_graph([N("Conv", ["x", "w"], ["c"]), N("GlobalAveragePool", ["c"], ["p"]), N("Flatten", ["p"], ["f"]),
                    N("Sigmoid", ["f"], ["y"])], {"x": (1, 3, 6, 6)}, ["y"], {"w": rand(5, 3, 3, 3)})
    h = check_rewrite(g, "hardware")
    assert op_types(h) == ["Transpose", "Conv", "GlobalAveragePool", "Flatten", "Sigmoid"]


def test_swish_between_convs_is_crossed_as_one_region():
    g = onnx_graph([N("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]), N("Sigmoid", ["c"], ["s"]),
                    N("Mul", ["c", "s"], ["m"]), N("Conv", ["m", "w"], ["y"], pads=[1, 1, 1, 1])],
                   {"x": (1, 3, 5, 5)}, ["y"], {"w": rand(3, 3, 3, 3)})
    h = check_rewrite(g, "hardware")
    assert op_types(h) == ["Transpose", "Conv", "Sigmoid", "Mul", "Conv", "Transpose"]


def test_transposes_sink_through_residual_add_concat_pad_and_constants():
    w = rand(4, 4, 3, 3)
    g = onnx_graph([N("Conv", ["x", "w"], ["a"], pads=[1, 1, 1, 1]), N("Sigmoid", ["a"], ["sa"]),
                    N("Conv", ["x", "w"], ["b"], pads=[1, 1, 1, 1]), N("Add", ["sa", "b"], ["s"]),
                    N("Mul", ["s", "k"], ["mk"]), N("Concat", ["mk", "a"], ["cat"], axis=1),
                    N("Pad", ["cat", "pads"], ["pd"]), N("Conv", ["pd", "w2"], ["y"])],
                   {"x": (1, 4, 6, 6)}, ["y"],
                   {"w": w, "k": rand(6, 6, seed=2), "pads": np.array([0, 0, 1, 0, 0, 0, 0, 2], np.int64),
                    "w2": rand(2, 8, 3, 3)})
    h = check_rewrite(g, "hardware")
    assert count(h, "Transpose") == 2  # one on the NCHW input (shared by both convs), one on the output
    cat = next(n for n in h.nodes if n.op_type == "Concat")
    assert cat.attrs["axis"] == 3
    pad = next(n for n in h.nodes if n.op_type == "Pad")
    assert list(h.const(pad.inputs[1])) == [0, 1, 0, 0, 0, 0, 2, 0]


def test_graph_output_between_spatial_ops_keeps_its_layout():
    g = onnx_graph([N("Conv", ["x", "w"], ["c"]), N("Relu", ["c"], ["r"]),
                    N("MaxPool", ["r"], ["y"], kernel_shape=[2, 2])],
                   {"x": (1, 3, 6, 6)}, ["c", "y"], {"w": rand(4, 3, 3, 3)})
    h = check_rewrite(g, "hardware")
    assert h.info("c").shape == (1, 4, 4, 4) and h.producer("c").op_type == "Transpose"
    assert h.producer("y").op_type == "Transpose"


def test_sinking_never_adds_transposes():
    # moving either Transpose down would need one more Transpose for the outputs or for z
    g = ir_graph({"x": (1, 5, 5, 3), "z": (1, 3, 5, 5)},
                 [("Transpose", ["x"], ["t"], {"perm": [0, 3, 1, 2]}), ("Relu", ["t"], ["a"], {}),
                  ("Sigmoid", ["t"], ["b"], {}), ("Transpose", ["x"], ["u"], {"perm": [0, 3, 1, 2]}),
                  ("Add", ["u", "z"], ["c"], {})],
                 ["a", "b", "c"], {})
    h = check_rewrite(g, ["transpose_sinking"])
    assert count(h, "Transpose") == 2 and op_types(h)[0] == "Transpose"


def test_cancel_transposes_merges_and_removes_inverse_pairs():
    def tr(x, y, perm):
        return ("Transpose", [x], [y], {"perm": perm})
    g = ir_graph({"x": (1, 2, 3, 4)},
                 [tr("x", "a", [0, 2, 3, 1]), tr("a", "b", [0, 3, 1, 2]),  # inverse pair: gone
                  ("Relu", ["b"], ["r"], {}),
                  tr("r", "c", [0, 2, 1, 3]), tr("c", "d", [0, 1, 3, 2]),  # merged into one
                  tr("r", "e", [0, 2, 1, 3]),  # same as c, but a graph output: kept
                  ("Add", ["d", "d"], ["y"], {}),
                  tr("x", "f", [0, 2, 3, 1]), tr("f", "z", [0, 3, 1, 2])],  # inverse pair naming an output
                 ["y", "e", "z"])
    h = check_rewrite(g, ["cancel_transposes"])
    assert op_types(h) == ["Relu", "Transpose", "Transpose", "Add", "Identity"]
    assert h.nodes[0].inputs == ["x"]
    assert sorted(n.attrs["perm"] for n in h.nodes if n.op_type == "Transpose") == [[0, 2, 1, 3], [0, 2, 3, 1]]
    assert h.nodes[-1].inputs == ["x"] and h.nodes[-1].outputs == ["z"]


# --- flows -------------------------------------------------------------------------------------
def test_every_registered_pass_is_in_a_flow():
    in_flows = {p for flow in FLOWS.values() for p in flow}
    assert set(all_passes()) <= in_flows, f"passes in no flow: {sorted(set(all_passes()) - in_flows)}"
    assert in_flows <= set(all_passes())


def test_hardware_flow_starts_with_cleanup_and_reaches_a_fixed_point():
    assert FLOWS["hardware"][:len(FLOWS["cleanup"])] == FLOWS["cleanup"]
    g = keras_cnn(4)
    assert run_flow(g, "hardware", check=True)
    assert run_flow(g, "hardware", check=True) == []


def test_unknown_flow_names_the_known_ones():
    with pytest.raises(GraphError, match="no flow named 'fast'.*cleanup"):
        run_flow(keras_cnn(4), "fast")


# --- random conv nets ---------------------------------------------------------------------------
def random_cnn(seed: int, keras: bool = False):
    """A random NCHW net of conv / BN / activation / pool / residual / concat / pad / swish blocks,
    ending in Flatten + dense layer or in a feature map. ``keras``: the input and the result are
    NHWC, with Transposes around the net as tf2onnx writes them."""
    r = np.random.default_rng(seed)
    t, c0, hw = "x", int(r.integers(1, 4)), 8
    nodes, inits, c = [], {}, c0
    if keras:
        nodes.append(N("Transpose", ["x"], ["xt"], perm=[0, 3, 1, 2]))
        t = "xt"

    def conv(x, y, m):
        w = f"w{len(nodes)}"
        inits[w] = rand(m, c, 3, 3, seed=len(nodes))
        nodes.append(N("Conv", [x, w], [y], pads=[1, 1, 1, 1]))

    for _ in range(int(r.integers(2, 7))):
        kind = str(r.choice(["conv", "bn", "act", "pool", "residual", "concat", "pad", "swish"]))
        y = f"t{len(nodes)}"
        if kind == "conv":
            m = int(r.integers(2, 5))
            conv(t, y, m)
            c = m
        elif kind == "bn":
            inits.update(bn_params(c, f"bn{len(nodes)}"))
            nodes.append(bn(t, y, f"bn{len(nodes)}"))
        elif kind == "act":
            nodes.append(N(str(r.choice(["Relu", "Sigmoid", "LeakyRelu", "Tanh"])), [t], [y]))
        elif kind == "pool":
            if hw < 4:
                continue
            nodes.append(N(str(r.choice(["MaxPool", "AveragePool"])), [t], [y], kernel_shape=[2, 2], strides=[2, 2]))
            hw //= 2
        elif kind == "residual":
            conv(t, y + "a", c)
            nodes.append(N("Add", [y + "a", t], [y]))
        elif kind == "concat":
            k = f"k{len(nodes)}"
            inits[k] = rand(hw, hw, seed=len(nodes))
            nodes.append(N("Concat", [t, t], [y + "c"], axis=1))
            nodes.append(N("Mul", [y + "c", k], [y]))
            c *= 2
        elif kind == "pad":
            pads = f"pads{len(nodes)}"
            inits[pads] = np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64)
            nodes.append(N("Pad", [t, pads], [y]))
            hw += 2
        else:  # swish
            nodes.append(N("Sigmoid", [t], [y + "s"]))
            nodes.append(N("Mul", [t, y + "s"], [y]))
        t = y
    if keras:
        nodes.append(N("Transpose", [t], ["back"], perm=[0, 2, 3, 1]))
        t = "back"
    if r.random() < 0.5:
        inits["dw"] = rand(c * hw * hw, 3, seed=seed)
        nodes += [N("Flatten", [t], ["f"]), N("MatMul", ["f", "dw"], ["m"]), N("Add", ["m", "db"], ["y"])]
        inits["db"] = rand(3, seed=seed + 1)
        t = "y"
    return onnx_graph(nodes, {"x": (1, 8, 8, c0) if keras else (1, c0, 8, 8)}, [t], inits)


@pytest.mark.parametrize("seed", range(30))
def test_random_cnn_through_the_hardware_flow(seed):
    g = random_cnn(seed)
    h = check_rewrite(g, "hardware")
    types = op_types(h)
    assert "BatchNormalization" not in types and "Identity" not in types
    # only the NCHW boundary needs a Transpose: one on the input, one on a feature-map output
    assert types.count("Transpose") <= (1 if len(g.outputs[0].shape) == 2 else 2), str(h)


@pytest.mark.parametrize("seed", range(30))
def test_random_keras_style_cnn_loses_every_transpose(seed):
    h = check_rewrite(random_cnn(seed, keras=True), "hardware")
    assert "Transpose" not in op_types(h), str(h)
