"""split_to_slices and fuse_channel_shuffle: small graphs before and after, equal outputs, the
verifier on both sides; and what the layout passes make of them in a channels-first model."""
import numpy as np
from onnx import helper
from pass_util import check_rewrite, onnx_graph, op_types, rand

from fpga_accel.passes.channel_shuffle import shuffle_of

i64 = lambda *v: np.array(v, np.int64)  # noqa: E731


def shuffle_nodes(x, y, shape5, shape4, perm=(0, 2, 1, 3, 4)):
    return [helper.make_node("Reshape", [x, "s5"], ["v"], name="view"),
            helper.make_node("Transpose", ["v"], ["t"], name="swap", perm=list(perm)),
            helper.make_node("Reshape", ["t", "s4"], [y], name="back")], {"s5": i64(*shape5), "s4": i64(*shape4)}


def test_split_becomes_one_slice_per_read_part():
    nodes = [helper.make_node("Split", ["x", "sizes"], ["a", "b", "c"], name="split", axis=1),
             helper.make_node("Relu", ["a"], ["ra"]), helper.make_node("Neg", ["c"], ["nc"])]
    g = onnx_graph(nodes, {"x": (1, 7, 3)}, ["ra", "nc"], {"sizes": i64(2, 4, 1)})
    h = check_rewrite(g, ["split_to_slices"])
    assert op_types(h).count("Slice") == 2 and "Split" not in op_types(h)  # part b has no reader


def test_channel_shuffle_is_fused_and_computes_the_same():
    nodes, inits = shuffle_nodes("x", "y", (-1, 3, 4, 5, 2), (-1, 12, 5, 2))
    g = onnx_graph(nodes, {"x": (1, 12, 5, 2)}, ["y"], inits)
    h = check_rewrite(g, ["fuse_channel_shuffle"])
    assert op_types(h) == ["ChannelShuffle"]
    n = h.nodes[0]
    assert (n.attrs["group"], n.attrs["axis"], n.outputs) == (3, 1, ["y"])


def test_other_reshape_transpose_reshape_chains_are_left_alone():
    # the transpose swaps the wrong axes: a different permutation of the channels' positions
    nodes, inits = shuffle_nodes("x", "y", (-1, 3, 4, 5, 2), (-1, 12, 5, 2), perm=(0, 1, 2, 4, 3))
    g = onnx_graph(nodes, {"x": (1, 12, 5, 2)}, ["y"], inits)
    assert shuffle_of(g, g.nodes[0]) is None
    # the second reshape does not restore the input's shape
    nodes, inits = shuffle_nodes("x", "y", (-1, 3, 4, 5, 2), (-1, 4, 3, 10))
    g = onnx_graph(nodes, {"x": (1, 12, 5, 2)}, ["y"], inits)
    assert shuffle_of(g, g.nodes[0]) is None


def test_hardware_flow_takes_split_and_shuffle_to_channels_last():
    """Conv → Split → (Conv on one part) → Concat → shuffle → Conv: after the hardware flow the
    slices and the shuffle work on the last axis between NHWC convs, no Transpose between them."""
    w = lambda *s: rand(*s, seed=len(s))  # noqa: E731
    nodes = [helper.make_node("Conv", ["x", "w0"], ["c0"], name="c0"),
             helper.make_node("Split", ["c0", "halves"], ["p", "q"], name="split", axis=1),
             helper.make_node("Conv", ["q", "w1"], ["c1"], name="c1"),
             helper.make_node("Concat", ["p", "c1"], ["cat"], name="cat", axis=1)]
    sh, inits = shuffle_nodes("cat", "s", (-1, 2, 4, 3, 3), (-1, 8, 3, 3))
    nodes += sh + [helper.make_node("Conv", ["s", "w2"], ["y"], name="c2")]
    inits.update(w0=w(8, 2, 1, 1), w1=w(4, 4, 1, 1), w2=w(5, 8, 1, 1), halves=i64(4, 4))
    g = onnx_graph(nodes, {"x": (1, 2, 3, 3)}, ["y"], inits)
    h = check_rewrite(g, "hardware")
    kinds = op_types(h)
    assert kinds.count("Transpose") == 2  # the graph input and output only
    for n in h.nodes:
        if n.op_type == "Slice":
            assert list(h.const(n.inputs[3])) == [3]
        if n.op_type == "ChannelShuffle":
            assert n.attrs["axis"] == 3 and n.attrs["group"] == 2
