"""Float IR (after the ``hardware`` flow) + calibration ranges → :class:`QModel`.

The partition decides what runs where; layout-only nodes at the edges of the accelerated part
(the Reshape/Transpose of an NCHW input, say) move to the host, where they are free. Each
hardware node is lowered by its op's ``quantize`` with a :class:`QuantContext` that hands out
activation parameters: given ones (QDQ/QONNX models) first, the input's for pass-through ops,
else derived from the calibrated range at the layer's activation bit width.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np

from ..errors import InputError, Problem, UnsupportedModelError
from ..ir.serialize import subgraph
from ..ops import get_op
from ..partition import partition
from .config import QuantConfig
from .given import given_by_node, given_qparams, given_weights, resolve_given
from .host_float import host_float_layer
from .params import QParams, activation_params
from .qmodel import QModel, QTensor
from .qtype import QType

#: ops that only move data; at the edges of the accelerated part they run on the host
LAYOUT_ONLY = {"Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze", "Identity"}


class QuantContext:
    """What an op's ``quantize`` may ask: the float graph, activation params, bit widths.

    ``given`` parameters (default: those a QDQ / QONNX model carries, ``g.meta["qparams"]``) win
    over calibration; ``given_weights`` are the model's own integer weights (``quant/given.py``).
    """

    def __init__(self, g, hw, ranges: Mapping[str, tuple[float, float]], config: QuantConfig,
                 given: Mapping[str, QParams] | None = None):
        self.g, self.ranges, self.config = g, ranges, config
        self.params: dict[str, QParams] = {**given_qparams(g), **(given or {})}
        self.given_weights = given_weights(g)
        self.chosen_weights: dict[str, np.ndarray] = {}  # integer weights a method chose, by layer
        self._by_node = given_by_node(g)
        self._producer = {o: n for n in hw for o in n.outputs}  # hardware inputs have none

    def act(self, name: str) -> QParams:
        """Quantisation parameters of activation tensor ``name``."""
        if name not in self.params:
            node = self._producer.get(name)
            if node is not None and node.name in self._by_node:  # given, under a name the passes changed
                self.params[name] = self._by_node[node.name]
            elif node is not None and get_op(node).passthrough_q:
                self.params[name] = self.act(node.inputs[0])
            elif name in self.ranges:
                lo, hi = self.ranges[name]
                bits = self.config.act_bits_of(node.name) if node is not None else \
                    self.config.act_bits or self.config.bits
                self.params[name] = activation_params(lo, hi, bits=bits, name=name)
            else:  # a reshaping, on the host, of a tensor the model gives parameters for
                p = resolve_given(self.g, name, self.params)
                if p is None:
                    raise InputError(f"tensor '{name}' has no quantisation parameters: the model gives none "
                                     f"and calibration did not observe it; pass calibration data (the "
                                     f"tensors to observe are tensors_to_observe(...))")
                self.params[name] = p
        return self.params[name]

    def weight_qtype(self, node) -> QType:
        return QType(self.config.weight_bits_of(node.name), signed=True)

    def const(self, name: str) -> np.ndarray | None:
        return self.g.const(name)


def split_edges(g):
    """(host_before, hardware, host_after) node lists, layout-only edge nodes moved to the host.

    Host ops between hardware nodes (``partition(g).splitting``) are refused unless
    ``g.meta["host_between"]`` is set (compile sets it: either engine runs them on the host between its
    segments): then they stay in the hardware list and :func:`quantize_model` makes float host layers
    of them."""
    p = partition(g)
    if p.splitting and g.meta.get("host_between"):
        p.hardware = [n for n in g.nodes if any(n is m for m in (*p.hardware, *p.splitting))]
    elif p.splitting:
        raise UnsupportedModelError([Problem(n.name, n.op_type, "runs on the host in float but sits inside the "
                                             "accelerated part (hardware nodes before and after it); `compile` runs "
                                             "it on the host between segments (of either engine), or end the "
                                             f"accelerated part before it (--host-nodes {n.name})") for n in p.splitting],
                                    g.name)
    before, hw, after = list(p.host_before), list(p.hardware), list(p.host_after)
    host_ready = set(g.input_names) | {o for n in before for o in n.outputs}
    moved = True
    while moved:  # leading layout nodes fed only by the host
        moved = False
        for n in hw:
            if n.op_type in LAYOUT_ONLY and all(i in host_ready or g.is_const(i) for i in n.inputs if i):
                hw.remove(n)
                before.append(n)
                host_ready.update(n.outputs)
                moved = True
                break
    moved = True
    while moved:  # trailing layout nodes whose readers are all on the host
        moved = False
        for n in reversed(hw):
            readers = [r for o in n.outputs for r in g.consumers(o)]
            hw_readers = [r for r in readers if any(r is h for h in hw)]
            if n.op_type in LAYOUT_ONLY and not hw_readers and hw.index(n) > 0:
                hw.remove(n)
                after.insert(0, n)
                moved = True
                break
    order = {id(n): i for i, n in enumerate(g.nodes)}
    key = lambda n: order[id(n)]  # noqa: E731
    return sorted(before, key=key), sorted(hw, key=key), sorted(after, key=key)


def boundary(g, hw) -> tuple[list[str], list[str]]:
    """Tensors entering and leaving the accelerated part, in graph order."""
    made = {o for n in hw for o in n.outputs}
    ins, outs = [], []
    for n in hw:
        for i in n.inputs:
            if i and i not in made and not g.is_const(i) and i not in ins:
                ins.append(i)
    for n in hw:
        for o in n.outputs:
            outside = [r for r in g.consumers(o) if not any(r is h for h in hw)]
            if o and (outside or g.is_graph_output(o)) and o not in outs:
                outs.append(o)
    return ins, outs


def tensors_to_observe(g, hw, config: QuantConfig) -> dict[str, dict]:
    """Every tensor whose parameters come from calibration, with its observer's arguments
    (none for the tensors whose parameters the model gives, ``g.meta["qparams"]``)."""
    ins, _ = boundary(g, hw)
    given, by_node = given_qparams(g), given_by_node(g)
    want: dict[str, dict] = {}
    for t in ins:
        if resolve_given(g, t, given) is None:
            want[t] = {"bits": config.act_bits or config.bits}
    for n in hw:
        if not get_op(n).passthrough_q and n.name not in by_node:
            for o in n.outputs:
                if o not in given:
                    want[o] = {"bits": config.act_bits_of(n.name)}
    kw = dict(config.observer_args)
    if config.observer != "mse":
        return {t: kw for t in want}
    return {t: {**kw, **b} for t, b in want.items()}


def _refines(g, hw, config: QuantConfig, ctx) -> bool:
    """Whether quant/methods.py would refine some layer of ``hw`` (it runs every layer in integers)."""
    return bool(config.adaround_options()) or (config.corrects_bias() and bool(hw))


def quantize_model(g, ranges: Mapping[str, tuple[float, float]], config: QuantConfig | None = None,
                   given: Mapping[str, QParams] | None = None, calib: Mapping[str, np.ndarray] | None = None) -> QModel:
    """Lower the hardware part of ``g`` to integer layers; ``ranges`` come from calibration.

    With ``calib`` (the calibration feeds) the config's layer-by-layer methods (learned rounding,
    bias correction: quant/methods.py) refine the layers; they may change ``g``'s float biases.
    What they did is in the QModel's ``methods``."""
    config = config or QuantConfig()
    before, hw, after = split_edges(g)
    between = {n.name for n in partition(g).splitting} if g.meta.get("host_between") else set()
    config.check_layers([n.name for n in hw])
    missing = [Problem(n.name, n.op_type, "has no integer implementation for the accelerator yet")
               for n in hw if not get_op(n).has_int() and n.name not in between]
    if missing:
        raise UnsupportedModelError(missing, g.name)
    ins, outs = boundary(g, hw)
    ctx = QuantContext(g, hw, ranges, config, given)
    layers = [host_float_layer(n, g, ctx) if n.name in between else get_op(n).quantize(n, ctx) for n in hw]
    methods = {}
    own = ctx.given_weights or g.meta.get("qparams")  # a model with its own quantisation is used as given
    if calib is not None and between and not own and not config.adaround_options() and config.bias_correction is None:
        # only the default asked for it: quantise without it, saying why it did not run
        methods = {"bias_correction": {"applied": False, "why": "float host ops run between hardware nodes "
                                       f"({sorted(between)[:4]}); bias correction does not run across them yet"}}
        calib = None
    if calib is not None and between and _refines(g, hw, config, ctx):
        raise InputError(f"learned rounding and bias correction do not run across float host ops between hardware "
                         f"nodes yet ({sorted(between)[:4]}); turn them off in the config (adaround, "
                         f"bias_correction = false)")
    if calib is not None:
        from .methods import refine_model

        probe = QModel(g.name, [QTensor(t, g.shape(t), ctx.act(t)) for t in boundary(g, hw)[0]], [],
                       {t: QTensor(t, g.shape(t), ctx.act(t)) for t in boundary(g, hw)[0]}, layers, None, None)
        for lay in layers:
            for o in lay.outputs:
                probe.tensors[o] = QTensor(o, g.shape(o), ctx.act(o))
        methods = refine_model(g, probe, ctx, calib, config)
    config.check_overrides_used({n.name: n.op_type for n in hw})
    # a pass-through op keeps its input's integers: parameters a model gives must agree
    mismatch = [Problem(n.name, n.op_type, f"the model gives its output '{n.outputs[0]}' the parameters "
                        f"{ctx.act(n.outputs[0])} but its input '{n.inputs[0]}' {ctx.act(n.inputs[0])}; this op "
                        f"passes the input's integers through, so they must be equal")
                for n in hw if get_op(n).passthrough_q and ctx.act(n.outputs[0]) != ctx.act(n.inputs[0])]
    if mismatch:
        raise UnsupportedModelError(mismatch, g.name)
    tensors = {t: QTensor(t, g.shape(t), ctx.act(t)) for t in ins}
    for lay in layers:
        for o in lay.outputs:
            tensors[o] = QTensor(o, g.shape(o), ctx.act(o))
    host_before = subgraph(g, before, g.input_names, ins, f"{g.name}_host_before")
    host_after = subgraph(g, after, outs, g.output_names, f"{g.name}_host_after")
    return QModel(g.name, [tensors[t] for t in ins], [tensors[t] for t in outs], tensors, layers,
                  host_before, host_after, methods)
