import numpy as np

from ..pe.channel_shuffle import channel_shuffle_stage
from ..pe.stage import LoweringError, vectors
from ..quant.qmodel import QLayer
from .base import Example, Op, register
from .family.attrs import normalize_axis
from .family.bases import channel_lanes

#: the domain of the ops fpga-accel's own passes create (no model is expected to hold them)
DOMAIN = "ai.fpga_accel"


def shuffle(x: np.ndarray, groups: int, axis: int) -> np.ndarray:
    """Axis ``axis`` viewed as (groups, C/groups), the two swapped: output channel o is input
    channel (o mod groups)·C/groups + o div groups."""
    s = x.shape
    v = x.reshape(*s[:axis], groups, s[axis] // groups, *s[axis + 1:])
    return np.ascontiguousarray(np.swapaxes(v, axis, axis + 1)).reshape(s)


@register
class ChannelShuffle(Op):
    """ShuffleNet's channel shuffle: what the passes make of the Reshape → Transpose → Reshape that
    PyTorch exports for it (``passes/channel_shuffle.py``)."""

    op_type = "ChannelShuffle"
    domain = DOMAIN
    notes = "made by the compiler from Reshape(N,g,C/g,H,W) → Transpose(0,2,1,3,4) → Reshape(N,C,H,W)"
    attrs = {"group": 1, "axis": 1}

    def check(self, node, graph):
        problems = super().check(node, graph)
        if int(node.attrs["group"]) < 1:
            problems.append(f"group {node.attrs['group']} is not a positive number")
        return problems

    def _axis(self, node, rank: int) -> int:
        return normalize_axis(node, node.attrs["axis"], rank)

    def infer(self, node, graph):
        x = graph.info(node.inputs[0])
        c = x.shape[self._axis(node, len(x.shape))]
        if c % int(node.attrs["group"]):
            raise self.fail(node, f"{c} channels do not split into {node.attrs['group']} groups")
        return [(x.shape, x.dtype)]

    def run(self, node, inputs):
        x = inputs[0]
        return [shuffle(x, int(node.attrs["group"]), self._axis(node, x.ndim))]

    passthrough_q = True  # the same integers in another order

    def quantize(self, node, ctx):
        axis = self._axis(node, len(ctx.g.shape(node.inputs[0])))
        return QLayer(node.name, self.op_type, [node.inputs[0]], [node.outputs[0]],
                      {"group": int(node.attrs["group"]), "axis": axis}, domain=self.domain)

    def run_int(self, layer, inputs):
        return shuffle(inputs[0], layer.config["group"], layer.config["axis"])

    lowering = "channel_shuffle (the channels of each pixel permuted in the stream)"

    def lower(self, layer, ctx):
        shape = ctx.shape(layer.inputs[0])
        if layer.config["axis"] != len(shape) - 1:
            raise LoweringError(f"a shuffle of axis {layer.config['axis']} of a {shape} tensor; the PE shuffles "
                                f"the channels (the last axis) only")
        lanes = channel_lanes(ctx, shape)
        return [channel_shuffle_stage(layer.name, ctx.port(layer.inputs[0], lanes), ctx.port(layer.outputs[0], lanes),
                                      vectors(shape), int(shape[-1]), layer.config["group"])]

    def examples(self):
        r = np.random.default_rng(75)
        return [Example({"group": g, "axis": a}, [r.standard_normal(s).astype(np.float32)], name=n,
                        extra={"functions": [onnx_function(g, a, s)]})
                for g, a, s, n in ((2, 1, (1, 8, 3, 2), "nchw"), (3, 3, (2, 2, 3, 6), "nhwc"),
                                   (4, 1, (2, 8, 5), "rank3"))]


def onnx_function(groups: int, axis: int, shape):
    """The op in standard ONNX ops for one input shape (the export PyTorch makes), so onnxruntime
    runs the conformance examples."""
    from onnx import helper

    s = list(shape)
    split = s[:axis] + [groups, s[axis] // groups] + s[axis + 1:]
    perm = list(range(len(split)))
    perm[axis], perm[axis + 1] = axis + 1, axis
    const = lambda name, v: helper.make_node(  # noqa: E731
        "Constant", [], [name], value=helper.make_tensor(name, 7, [len(v)], v))
    nodes = [const("split", split), const("back", s), helper.make_node("Reshape", ["x", "split"], ["v"]),
             helper.make_node("Transpose", ["v"], ["t"], perm=perm), helper.make_node("Reshape", ["t", "back"], ["y"])]
    return helper.make_function(DOMAIN, "ChannelShuffle", ["x"], ["y"], nodes, [helper.make_opsetid("", 13)],
                                attributes=["group", "axis"])
