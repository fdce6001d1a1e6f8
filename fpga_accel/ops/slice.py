import numpy as np

from ..pe.channel_slice import channel_slice_stage, slice_lanes
from ..pe.stage import LoweringError, vectors
from ..quant.qmodel import QLayer
from .base import HARDWARE, HOST, Example, Op, register
from .family.attrs import normalize_axes


@register
class Slice(Op):
    """Numpy-style slicing with ONNX's clamping: ``starts``, ``ends`` (and ``axes``) as attributes
    before opset 10, as constant inputs with optional ``axes`` and ``steps`` from opset 10."""

    op_type = "Slice"
    placement = HARDWARE  # a channel range; any other slice goes to the host (placement_of)
    notes = ("constant starts / ends / axes / steps (attributes before opset 10); in hardware a step-1 range "
             "of the channels (after the layout passes: the last axis), on the host otherwise")
    attrs = {"starts": None, "ends": None, "axes": None}

    def check(self, node, graph):
        problems = super().check(node, graph)
        runtime = [i for i in node.inputs[1:] if i and not graph.is_const(i)]
        if runtime:
            problems.append(f"input(s) {runtime} are computed at run time; only constant starts, ends, axes "
                            f"and steps are supported")
        if len(node.inputs) == 1 and (node.attrs["starts"] is None or node.attrs["ends"] is None):
            problems.append("starts and ends are required")
        return problems

    def index(self, node, values, shape) -> tuple:
        """The numpy index that takes this slice of a tensor of ``shape``."""
        if len(node.inputs) > 1:
            starts, ends = values[1], values[2]
            axes = values[3] if len(values) > 3 else None
            steps = values[4] if len(values) > 4 else None
        else:
            starts, ends, axes, steps = node.attrs["starts"], node.attrs["ends"], node.attrs["axes"], None
        starts, ends = np.ravel(starts).astype(np.int64), np.ravel(ends).astype(np.int64)
        axes = list(range(len(starts))) if axes is None else normalize_axes(node, axes, len(shape))
        steps = np.ones(len(starts), np.int64) if steps is None else np.ravel(steps).astype(np.int64)
        if not len(starts) == len(ends) == len(axes) == len(steps):
            raise self.fail(node, f"starts, ends, axes and steps differ in length ({len(starts)}, {len(ends)}, "
                                  f"{len(axes)}, {len(steps)})")
        index = [slice(None)] * len(shape)
        for a, s, e, k in zip(axes, starts.tolist(), ends.tolist(), steps.tolist()):
            if k == 0:
                raise self.fail(node, f"step 0 on axis {a}")
            index[a] = _clamped(s, e, k, shape[a])
        return tuple(index)

    def infer(self, node, graph):
        x = graph.info(node.inputs[0])
        values = [graph.const(i) if i else None for i in node.inputs]
        shape = np.empty(x.shape, np.bool_)[self.index(node, values, x.shape)].shape
        return [(shape, x.dtype)]

    def run(self, node, inputs):
        x = inputs[0]
        return [np.ascontiguousarray(x[self.index(node, inputs, x.shape)])]

    def _index_of(self, node, graph) -> tuple:
        values = [graph.const(i) if i else None for i in node.inputs]
        return self.index(node, values, graph.shape(node.inputs[0]))

    def placement_of(self, node, graph):
        """In hardware when it takes a step-1 range of the channel axis only, else on the host. The
        channels are the last axis, or axis 1 of a rank ≥ 3 tensor before the layout passes (while
        spatial ops are still "NCHW"): the passes then move the slice to channels-last."""
        if not all(graph.is_const(i) for i in node.inputs[1:] if i):
            return HOST
        shape = graph.shape(node.inputs[0])
        index = self._index_of(node, graph)
        cut = [d for d, s in enumerate(index) if s.indices(shape[d]) != (0, shape[d], 1)]
        nchw = len(shape) >= 3 and any(n.attrs.get("layout") == "NCHW" for n in graph.nodes)
        channels = 1 if nchw else len(shape) - 1
        ok = len(shape) >= 2 and cut == [channels] and index[channels].step in (None, 1)
        return HARDWARE if ok else HOST

    passthrough_q = True  # some of the same integers

    def quantize(self, node, ctx):
        shape = ctx.g.shape(node.inputs[0])
        index = self._index_of(node, ctx.g)
        ranges = [list(s.indices(shape[d])) for d, s in enumerate(index)]
        return QLayer(node.name, self.op_type, [node.inputs[0]], [node.outputs[0]], {"ranges": ranges})

    def run_int(self, layer, inputs):
        x = inputs[0]
        index = (slice(None),) + tuple(slice(a, b if b >= 0 else None, k) for a, b, k in layer.config["ranges"][1:])
        return np.ascontiguousarray(x[index])

    lowering = "channel_slice (a step-1 channel range)"

    def lower(self, layer, ctx):
        """A step-1 range of the channels (the last axis): the channel_slice PE, at the folding's
        lanes where they divide the channels and both ends of the range."""
        shape = ctx.shape(layer.inputs[0])
        ranges = layer.config["ranges"]
        cut = [d for d, r in enumerate(ranges) if d and tuple(r) != (0, shape[d], 1)]
        start, stop, step = ranges[-1]
        if cut != [len(shape) - 1] or step != 1 or stop <= start:
            raise LoweringError(f"slice {ranges} of a {shape} tensor; the PE takes a step-1 range of the channels "
                                f"(the last axis) only")
        c, n = int(shape[-1]), stop - start
        lanes = slice_lanes(ctx.pe, c, start, n)
        return [channel_slice_stage(layer.name, ctx.port(layer.inputs[0], lanes), ctx.port(layer.outputs[0], lanes),
                                    vectors(shape), c, start, n)]

    def examples(self):
        x = np.random.default_rng(73).standard_normal((2, 6, 5)).astype(np.float32)
        i = lambda *v: np.array(v, np.int64)
        big = np.iinfo(np.int64).max
        return [Example({}, [x, i(1), i(4), i(1)], const=(1, 2, 3), name="channels"),
                Example({}, [x, i(3, -1), i(big, -6), i(1, 2), i(1, -2)], const=(1, 2, 3, 4), name="steps"),
                Example({}, [x, i(0, 1), i(1, 3)], const=(1, 2), name="no_axes"),
                Example({}, [x, i(-2), i(-big), i(-1), i(-1)], const=(1, 2, 3, 4), name="reverse_to_start"),
                Example({"starts": [2], "ends": [5], "axes": [1]}, [x], opset=9, name="attributes")]


def _clamped(start: int, end: int, step: int, dim: int) -> slice:
    """ONNX's bounds: negative indices count from the end, then clamp to the axis (to -1 for the
    end of a backward slice, which means "up to and including index 0")."""
    start += dim if start < 0 else 0
    end += dim if end < 0 else 0
    if step > 0:
        return slice(min(max(start, 0), dim), min(max(end, 0), dim), step)
    start, end = min(max(start, 0), dim - 1), min(max(end, -1), dim - 1)
    return slice(start, None if end < 0 else end, step)
