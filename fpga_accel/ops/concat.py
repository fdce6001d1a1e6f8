import numpy as np

from ..pe.channel_concat import channel_concat_stage, input_lanes
from ..pe.eltwise import concat_stage
from ..pe.stage import LoweringError, Port, vectors
from ..quant import rescale
from ..quant.arith import requant_multiplier
from ..quant.qmodel import QLayer
from .base import Example, Op, register, unsupported
from .family.attrs import normalize_axis
from .family.bases import channel_lanes


@register
class Concat(Op):
    op_type = "Concat"
    notes = "any axis, any number of inputs; inputs requantised to one scale in hardware"
    attrs = {"axis": None}  # required since opset 4

    def check(self, node, graph):
        problems = super().check(node, graph)
        if node.attrs["axis"] is None:
            problems.append("attribute 'axis' is required")
        return problems

    def infer(self, node, graph):
        infos = [graph.info(i) for i in node.inputs]
        first = infos[0].shape
        axis = normalize_axis(node, node.attrs["axis"], len(first))
        for k, t in enumerate(infos[1:], 1):
            if len(t.shape) != len(first) or any(a != b for d, (a, b) in enumerate(zip(t.shape, first)) if d != axis):
                raise self.fail(node, f"input {k} ('{t.name}') has shape {t.shape}, which does not match input 0 "
                                      f"{first} outside axis {axis}; only the concat axis may differ")
        shape = first[:axis] + (sum(t.shape[axis] for t in infos),) + first[axis + 1:]
        return [(shape, np.result_type(*(t.dtype for t in infos)))]

    def run(self, node, inputs):
        return [np.concatenate(inputs, axis=normalize_axis(node, node.attrs["axis"], inputs[0].ndim))]

    def quantize(self, node, ctx):
        """Each input requantised to the output's parameters (quant.rescale.concat; an input with the
        output's parameters is copied exactly), then joined along a non-batch axis."""
        axis = normalize_axis(node, node.attrs["axis"], len(ctx.g.shape(node.inputs[0])))
        if axis == 0:
            raise unsupported(node, "it concatenates along the batch axis", ctx.g)
        consts = [i for i in node.inputs if ctx.g.is_const(i)]
        if consts:
            raise unsupported(node, f"input(s) {consts} are constants; only computed tensors are concatenated "
                                    f"in hardware", ctx.g)
        y = node.outputs[0]
        rs = rescale.concat_constants([ctx.act(i) for i in node.inputs], ctx.act(y), name=node.name)
        config = {"axis": axis, "rescales": [{"multipliers": list(r.multipliers), "zero_points": list(r.zero_points),
                                              "shift": r.shift, "zp_out": r.zp_out, "lo": r.lo, "hi": r.hi}
                                             for r in rs]}
        return QLayer(node.name, self.op_type, list(node.inputs), [y], config)

    def run_int(self, layer, inputs):
        c = layer.config
        rs = [rescale.Rescale(tuple(r["multipliers"]), tuple(r["zero_points"]), r["shift"], r["zp_out"], r["lo"],
                              r["hi"]) for r in c["rescales"]]
        return rescale.concat(inputs, rs, c["axis"], name=layer.name)

    lowering = ("concat (channel axis; chained for more than two inputs); channel_concat where the lanes do not "
                "divide an input's channels")

    def lower(self, layer, ctx):
        """Channel concat PEs, chained: the intermediate result has the output's parameters, so
        the next link copies it exactly (M = 2^16, shift 16). The folding's PE must divide the output's
        channels; a link whose inputs it does not divide is a channel_concat, each input at lanes
        dividing its own channels (the smallest such count of at least PE)."""
        y = layer.outputs[0]
        ys = ctx.shape(y)
        if layer.config["axis"] != len(ys) - 1:
            raise LoweringError(f"concat along axis {layer.config['axis']} of a rank-{len(ys)} tensor; the PE "
                                f"joins channels (the last axis) only")
        if len(layer.inputs) < 2:
            raise LoweringError("a single input")
        lanes = channel_lanes(ctx, ys)
        rs = layer.config["rescales"]
        ident_m, ident_s = requant_multiplier(1.0)
        out = ctx.port(y, lanes)
        src_c, src_r = ctx.shape(layer.inputs[0])[-1], rs[0]
        src = ctx.port(layer.inputs[0], input_lanes(src_c, lanes))
        stages = []
        for i in range(1, len(layer.inputs)):
            b, b_c = layer.inputs[i], ctx.shape(layer.inputs[i])[-1]
            last = i == len(layer.inputs) - 1
            dst = out if last else Port(f"{y}#concat{i}", input_lanes(src_c + b_c, lanes), out.bits, out.signed)
            bp = ctx.port(b, input_lanes(b_c, dst.lanes))
            make = concat_stage if src.lanes == bp.lanes == dst.lanes else channel_concat_stage
            stages.append(make(layer.name, src, bp, dst, vectors(ys), src_c, b_c, src_r, rs[i]))
            src, src_c = dst, src_c + b_c
            src_r = dict(rs[0], multipliers=[ident_m], zero_points=[rs[0]["zp_out"]], shift=ident_s)
        return stages

    def examples(self):
        r = np.random.default_rng(54)
        f = lambda *s: r.standard_normal(s).astype(np.float32)
        return [Example({"axis": 1}, [f(2, 3, 4), f(2, 5, 4)], name="channels"),
                Example({"axis": -1}, [f(2, 3, 4), f(2, 3, 1), f(2, 3, 2)], name="negative_three"),
                Example({"axis": 0}, [f(2, 3), f(1, 3)], name="axis0"),
                Example({"axis": 1}, [f(2, 3), f(2, 2)], const=(1,), name="constant_input"),
                Example({"axis": 1}, [f(1, 2, 3), f(1, 1, 3)], opset=7, name="opset7")]
