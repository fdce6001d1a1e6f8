"""The tiled engine's reference executor against the emulator, bit for bit.

Small graphs (dense, strided, dilated, grouped and depthwise convolutions, GEMM, residual adds,
concatenations, lookup tables, pools, per-channel scaling, 1-D convolution) and the example models,
each at several array and tile sizes, including ones that divide no channel count or output size.
Every tensor the program keeps in DDR is compared too, not only the outputs.
"""
import numpy as np
import pytest
from onnx import helper
from tiled_util import check_exact, make_model, quantised, random_case, raw_inputs

from models import data

#: (Tm, Tn, tile cap): whole-output tiles, then sizes that divide nothing, then the smallest
TILINGS = [(16, 16, None), (3, 5, (2, 3)), (4, 3, (5, 1)), (1, 2, (1, 1))]


def _sweep(n: int, seed: int):
    """``n`` seeded (Tm, Tn, tile) choices beyond TILINGS."""
    r = np.random.default_rng(seed)
    return [(int(r.integers(1, 10)), int(r.integers(1, 10)), (int(r.integers(1, 7)), int(r.integers(1, 7))))
            for _ in range(n)]


def W(r, *shape):
    return r.standard_normal(shape).astype(np.float32) * 0.5


def conv(name, x, w, y, **attrs):
    return helper.make_node("Conv", [x, w, f"{w}_b"] if attrs.pop("bias", True) else [x, w], [y], name=name, **attrs)


def graphs():
    """name -> ONNX model of one small case."""
    r = np.random.default_rng(7)
    g = {}
    g["dense_stride_pad_dilation"] = make_model(
        [conv("c1", "x", "w1", "a", pads=[1, 1, 1, 1]), helper.make_node("Relu", ["a"], ["b"]),
         conv("c2", "b", "w2", "c", strides=[2, 1], pads=[1, 0, 2, 1], dilations=[1, 2])],
        {"x": [3, 9, 11]}, {"w1": W(r, 7, 3, 3, 3), "w1_b": W(r, 7), "w2": W(r, 5, 7, 3, 2), "w2_b": W(r, 5)})
    g["depthwise"] = make_model(
        [conv("dw", "x", "w1", "a", group=6, strides=[2, 2], pads=[1, 1, 1, 1]), helper.make_node("Relu", ["a"], ["b"]),
         conv("dwm", "b", "w2", "c", group=6, pads=[0, 1, 2, 1]),  # channel multiplier 2
         conv("pw", "c", "w3", "d")],
        {"x": [6, 10, 9]},
        {"w1": W(r, 6, 1, 3, 3), "w1_b": W(r, 6), "w2": W(r, 12, 1, 3, 3), "w2_b": W(r, 12), "w3": W(r, 5, 12, 1, 1),
         "w3_b": W(r, 5)})
    g["grouped"] = make_model(
        [conv("g2", "x", "w1", "a", group=2, pads=[2, 2, 2, 2], dilations=[2, 2]),
         conv("g5", "a", "w2", "b", group=5, strides=[2, 2])],
        {"x": [6, 8, 8]}, {"w1": W(r, 10, 3, 3, 3), "w1_b": W(r, 10), "w2": W(r, 15, 2, 2, 2), "w2_b": W(r, 15)})
    g["gemm"] = make_model(
        [helper.make_node("Flatten", ["x"], ["f"]), helper.make_node("Gemm", ["f", "w1", "b1"], ["a"], transB=1),
         helper.make_node("Relu", ["a"], ["b"]), helper.make_node("Gemm", ["b", "w2", "b2"], ["c"])],
        {"x": [3, 4, 5]}, {"w1": W(r, 13, 60), "b1": W(r, 13), "w2": W(r, 13, 7), "b2": W(r, 7)})
    g["residual"] = make_model(
        [conv("c1", "x", "w1", "a", pads=[1, 1, 1, 1]), helper.make_node("Relu", ["a"], ["b"]),
         conv("c2", "b", "w2", "c", pads=[1, 1, 1, 1]), helper.make_node("Add", ["c", "b"], ["d"]),
         helper.make_node("Relu", ["d"], ["e"]), conv("c3", "e", "w3", "f"),
         helper.make_node("Sub", ["e", "f"], ["h"])],  # a residual whose other input comes later
        {"x": [4, 7, 6]}, {"w1": W(r, 5, 4, 3, 3), "w1_b": W(r, 5), "w2": W(r, 5, 5, 3, 3), "w2_b": W(r, 5),
                           "w3": W(r, 5, 5, 1, 1), "w3_b": W(r, 5)})
    g["add_of_inputs"] = make_model([helper.make_node("Add", ["x", "y"], ["a"]), helper.make_node("Relu", ["a"], ["b"])],
                                    {"x": [3, 5, 4], "y": [3, 5, 4]})
    g["concat"] = make_model(
        [conv("c1", "x", "w1", "a", pads=[1, 1, 1, 1]), conv("c2", "x", "w2", "b"),
         helper.make_node("Concat", ["a", "b", "a"], ["c"], axis=1), conv("c3", "c", "w3", "d", pads=[1, 1, 1, 1]),
         conv("c4", "a", "w4", "e"),  # reads a concatenated input through its channel view
         helper.make_node("Concat", ["d", "e"], ["f"], axis=1)],
        {"x": [3, 6, 5]}, {"w1": W(r, 4, 3, 3, 3), "w1_b": W(r, 4), "w2": W(r, 3, 3, 1, 1), "w2_b": W(r, 3),
                           "w3": W(r, 6, 11, 3, 3), "w3_b": W(r, 6), "w4": W(r, 6, 4, 1, 1), "w4_b": W(r, 6)})
    g["concat_identity"] = make_model(
        [conv("c1", "x", "w1", "a"), helper.make_node("Concat", ["a", "a"], ["b"], axis=1), conv("c2", "b", "w2", "c")],
        {"x": [3, 5, 5]}, {"w1": W(r, 4, 3, 1, 1), "w1_b": W(r, 4), "w2": W(r, 3, 8, 3, 3), "w2_b": W(r, 3)})
    g["lut"] = make_model(
        [conv("c1", "x", "w1", "a", pads=[1, 1, 1, 1]), helper.make_node("Tanh", ["a"], ["b"]),  # a has two readers
         conv("c2", "b", "w2", "c"), helper.make_node("Add", ["c", "a"], ["d"]), helper.make_node("Sigmoid", ["d"], ["e"]),
         conv("c3", "e", "w3", "f"), helper.make_node("Sigmoid", ["f"], ["h"]), conv("c4", "h", "w4", "k")],
        {"x": [3, 6, 6]}, {"w1": W(r, 4, 3, 3, 3), "w1_b": W(r, 4), "w2": W(r, 4, 4, 1, 1), "w2_b": W(r, 4),
                           "w3": W(r, 3, 4, 1, 1), "w3_b": W(r, 3), "w4": W(r, 2, 3, 1, 1), "w4_b": W(r, 2)})
    g["pools"] = make_model(
        [conv("c1", "x", "w1", "a", pads=[1, 1, 1, 1]),
         helper.make_node("AveragePool", ["a"], ["b"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
         helper.make_node("MaxPool", ["b"], ["c"], kernel_shape=[2, 3], strides=[1, 2], pads=[1, 1, 0, 1]),
         helper.make_node("GlobalMaxPool", ["c"], ["d"]), helper.make_node("GlobalAveragePool", ["c"], ["e"]),
         helper.make_node("Add", ["d", "e"], ["f"])],
        {"x": [3, 11, 9]}, {"w1": W(r, 5, 3, 3, 3), "w1_b": W(r, 5)})
    g["scale"] = make_model(
        [conv("c1", "x", "w1", "a"), helper.make_node("Mul", ["a", "k"], ["b"]), conv("c2", "b", "w2", "c")],
        {"x": [3, 4, 4]}, {"w1": W(r, 5, 3, 1, 1), "w1_b": W(r, 5), "k": W(r, 1, 5, 1, 1), "w2": W(r, 2, 5, 1, 1),
                           "w2_b": W(r, 2)})
    g["conv1d"] = make_model(
        [conv("c1", "x", "w1", "a", pads=[2, 1], strides=[2]), helper.make_node("Relu", ["a"], ["b"]),
         helper.make_node("MaxPool", ["b"], ["c"], kernel_shape=[3], pads=[1, 1])],
        {"x": [4, 17]}, {"w1": W(r, 6, 4, 4), "w1_b": W(r, 6)})
    return g


GRAPHS = graphs()


@pytest.mark.parametrize("tiling", TILINGS + _sweep(2, 11), ids=str)
@pytest.mark.parametrize("name", sorted(GRAPHS))
def test_small_graphs_bit_exact(name, tiling):
    tm, tn, tile = tiling
    qm, q = random_case(GRAPHS[name], seed=len(name))
    check_exact(qm, q, tm=tm, tn=tn, tile=tile)


def test_sixteen_bit_activations_and_weights():
    qm, q = random_case(GRAPHS["residual"], seed=3, bits=12)
    assert {t.qparams.qtype.dtype.itemsize for t in qm.tensors.values()} == {2}
    for tm, tn, tile in TILINGS[:3]:
        check_exact(qm, q, tm=tm, tn=tn, tile=tile)


def test_fusion_and_addressing_as_described():
    """Lookup tables and residual adds join their producer's output path; concatenations are
    written in place (identity) or by a requant descriptor; reshapes are free."""
    from fpga_accel.tiled import build_program

    def kinds(name):
        qm, _ = random_case(GRAPHS[name], seed=len(name))
        return [(d["kind"], [p["op"] for p in d["post"]]) for d in build_program(qm).layers]

    assert kinds("residual") == [("conv", []), ("conv", ["add"]), ("conv", ["add"])]
    assert kinds("lut") == [("conv", []), ("lut", []), ("conv", ["add", "lut"]), ("conv", ["lut"]),
                             ("conv", [])]
    assert kinds("gemm") == [("gemm", []), ("gemm", [])]
    assert kinds("concat_identity") == [("conv", []), ("requant", []), ("conv", [])]
    qm, _ = random_case(GRAPHS["concat_identity"], seed=len("concat_identity"))
    p = build_program(qm)
    a, b = p.tensor("a_nhwc")["view"], p.tensor("b_t")["view"]
    assert (a["region"], a["offset"], a["pixel_stride"]) == (b["region"], b["offset"], 8)  # a lives inside b


@pytest.mark.parametrize("name", ["mnist_cnn", "digits_cnn", "mlp", "resnet_ds"])
def test_example_models_bit_exact(name):
    _, qm = quantised(data.model_path(name), data.load_calib(name))
    x, _ = data.load_test(name)
    q = raw_inputs(qm, {qm.model_inputs[0].name: x[:2]})
    for tm, tn, tile in TILINGS[:3] + _sweep(1, hash(name) % 1000):
        check_exact(qm, q, tm=tm, tn=tn, tile=tile)
