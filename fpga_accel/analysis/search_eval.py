"""What the mixed-precision search measures: one model prepared as ``compile`` prepares it, then,
for any choice of per-layer bits, the quantised model, its accuracy on a set of samples and the
folder's estimates for it.

Preparation follows :func:`fpga_accel.compile` step by step (import, ``hardware`` flow, host
nodes, equalisation, calibration with the config's observer), so the model quantised here for a
config is the model compile writes for that config (the tests compile the chosen config and
compare). Ranges are observed once per tensor and observer setting; only the MSE observer
depends on the bit width, and its ranges are observed again for each width asked.

A *knob* is one bit width the search may choose: ``(layer, "weight_bits")`` for a layer with
weights, ``(layer, "act_bits")`` for a layer whose output gets its own calibrated parameters,
and ``(INPUT, "act_bits")``, the width of the hardware inputs (the config's ``act_bits``).
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping

import numpy as np

from ..errors import InputError
from ..quant.config import QuantConfig

INPUT = "(hardware input)"
METRICS = ("top1", "agreement", "cosine")
OBJECTIVES = ("dsp", "lut", "fps")


def predicted(out: np.ndarray) -> np.ndarray:
    """Top-1 class of each sample of a model output (N, ...): argmax over the flattened rest."""
    return out.reshape(out.shape[0], -1).argmax(axis=1)


def metric_value(metric: str, out: np.ndarray, ref: np.ndarray, labels: np.ndarray | None) -> float:
    """``top1`` (% of labels matched), ``agreement`` (% of samples whose top-1 is the float
    model's) or ``cosine`` (mean cosine similarity of each sample's output with the float one)."""
    return float(np.mean(metric_samples(metric, out, ref, labels)))


def metric_samples(metric: str, out: np.ndarray, ref: np.ndarray, labels: np.ndarray | None) -> np.ndarray:
    """Each sample's share of :func:`metric_value` (100 or 0 for ``top1`` / ``agreement``, the
    cosine similarity for ``cosine``): their mean is the metric, their spread its noise."""
    if metric == "top1":
        return 100.0 * (predicted(out) == labels)
    if metric == "agreement":
        return 100.0 * (predicted(out) == predicted(ref))
    a = out.reshape(out.shape[0], -1).astype(np.float64)
    b = ref.reshape(ref.shape[0], -1).astype(np.float64)
    norm = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return np.where(norm > 0, np.sum(a * b, axis=1) / np.where(norm > 0, norm, 1), (a == b).all(axis=1))


def predicted_breakage(out: np.ndarray, ref: np.ndarray, labels: np.ndarray | None) -> float:
    """Points of right answers the quantised outputs ``out`` are expected to turn wrong on samples
    like these, from the noise of their logits: with the error of a logit difference taken as
    normal with the RMS ``sigma`` of every such difference over all samples and classes, a sample
    the float model ``ref`` answers right (its label, or without labels its own top-1) with a
    margin ``m`` over the runner-up breaks with probability Phi(-m / sigma). Low-noise: sigma comes
    from every logit of every sample, not from the few answers that happened to change."""
    f = ref.reshape(ref.shape[0], -1).astype(np.float64)
    e = out.reshape(out.shape[0], -1).astype(np.float64) - f
    n, c = f.shape
    if n == 0 or c < 2:
        return 0.0
    # mean of (e_a - e_b)^2 over a != b, from the per-sample sums (no (n, c, c) array)
    pair_sq = 2 * c * np.sum(e * e, axis=1) - 2 * np.sum(e, axis=1) ** 2
    sigma = float(np.sqrt(np.sum(pair_sq) / (n * c * (c - 1))))
    truth = predicted(ref) if labels is None else np.asarray(labels).reshape(-1)
    rows = np.arange(n)
    right = f.argmax(axis=1) == truth
    others = f.copy()
    others[rows, truth] = -np.inf
    margin = f[rows, truth] - others.max(axis=1)
    if sigma == 0:
        return 0.0
    p = [0.5 * math.erfc(m / (sigma * math.sqrt(2))) for m in margin[right]]
    return 100.0 * float(np.sum(p)) / n


def config_for(base: QuantConfig, bits: Mapping[tuple[str, str], int], top: int = 8) -> QuantConfig:
    """The base config with ``bits`` (every knob -> width; empty: every width ``top``): the
    hardware inputs' width is the config's ``act_bits``, weights default to ``top``, and each
    layer whose width differs from those gets an override. Per-layer foldings are kept."""
    act_in = int(bits.get((INPUT, "act_bits"), top))
    layers: dict[str, dict] = {}
    for (name, key), b in sorted(bits.items()):
        default = top if key == "weight_bits" else act_in
        if name != INPUT and int(b) != default:
            layers.setdefault(name, {})[key] = int(b)
    for name, over in base.layers.items():
        if "folding" in over:
            layers.setdefault(name, {})["folding"] = dict(over["folding"])
    return dataclasses.replace(base, bits=top, weight_bits=top, act_bits=act_in,
                               layers={k: dict(sorted(v.items())) for k, v in sorted(layers.items())})


class Evaluator:
    """The model ready to quantise with any bits; see the module docstring."""

    def __init__(self, model, calib, base: QuantConfig, board, ceiling: float = 0.8,
                 clock_mhz: float | None = None, input_shapes=None, host_nodes=None):
        from ..frontend import import_onnx
        from ..passes import run_flow
        from ..quant.calibrate import load_calibration
        from ..quant.methods import equalize_model
        from ..quant.quantizer import split_edges, tensors_to_observe

        self.base, self.board, self.ceiling, self.clock_mhz = base, board, float(ceiling), clock_mhz
        g = import_onnx(model, input_shapes=input_shapes)
        run_flow(g, "hardware")
        if host_nodes:
            from ..partition import place_on_host

            place_on_host(g, host_nodes)
        if g.meta.get("qparams") or g.meta.get("weights"):
            raise InputError(f"{g.meta.get('source', g.name)}: the model carries its own quantisation (QDQ / "
                             f"QONNX), which compile uses as given; there are no bit widths to search")
        self.float_graph = g.copy()  # before equalisation, which changes the float weights
        equalize_model(g, base, False)
        self.g = g
        _, hw, _ = split_edges(g)
        self.hw_names = [n.name for n in hw]
        self.feeds = load_calibration(calib, g.inputs)
        self._ranges: dict[tuple, tuple[float, float]] = {}
        observed = tensors_to_observe(g, hw, base)
        producer = {o: n for n in hw for o in n.outputs}
        probe = self.quantize(self.config({}), refine=False)
        weighted = {lay.name for lay in probe.layers if lay.config.get("weight_qtype")}
        acts = {producer[t].name for t in observed if t in producer}
        #: the knobs in graph order: the hardware input first, then per layer weights and output
        self.knobs: list[tuple[str, str]] = [(INPUT, "act_bits")]
        for name in self.hw_names:
            self.knobs += [(name, k) for k, on in (("weight_bits", name in weighted), ("act_bits", name in acts)) if on]
        made = {o: lay for lay in probe.layers for o in lay.outputs}

        def width_of(t: str) -> tuple[str, str]:  # the knob that sets tensor t's width
            lay = made.get(t)
            if lay is None:
                return (INPUT, "act_bits")
            return (lay.name, "act_bits") if lay.name in acts else width_of(lay.inputs[0])

        #: per layer with weights, (its weights' knob, its input's knob): a multiplier's cost
        #: depends on both widths, so the search also lowers them together
        self.pairs: list[tuple[tuple[str, str], tuple[str, str]]] = [
            ((lay.name, "weight_bits"), width_of(lay.inputs[0])) for lay in probe.layers if lay.name in weighted]

    # --- configs -----------------------------------------------------------------------------------
    def config(self, bits: Mapping[tuple[str, str], int], top: int = 8) -> QuantConfig:
        return config_for(self.base, bits, top)

    def ranges(self, cfg: QuantConfig) -> dict[str, tuple[float, float]]:
        """The calibrated range of every tensor ``cfg`` observes, observed on first use."""
        from ..quant.calibrate import observe_ranges
        from ..quant.quantizer import split_edges, tensors_to_observe

        _, hw, _ = split_edges(self.g)
        want = tensors_to_observe(self.g, hw, cfg)
        key = {t: (t, tuple(sorted(kw.items()))) for t, kw in want.items()}
        todo = {t: kw for t, kw in want.items() if key[t] not in self._ranges}
        if todo:
            got = observe_ranges(self.g, self.feeds, todo, kind=cfg.observer)
            self._ranges.update({key[t]: r for t, r in got.items()})
        return {t: self._ranges[key[t]] for t in want}

    def quantize(self, cfg: QuantConfig, refine: bool = True):
        """The QModel compile makes for ``cfg`` (``refine=False``: without the layer-by-layer
        methods, enough for the folder's estimates, which depend on widths and shapes)."""
        from ..quant.quantizer import quantize_model

        cfg = dataclasses.replace(cfg)  # a fresh one: the quantiser records which overrides it read
        return quantize_model(self.g.copy(), self.ranges(cfg), cfg, calib=self.feeds if refine else None)

    # --- measurements -----------------------------------------------------------------------------
    def float_outputs(self, feeds: Mapping[str, np.ndarray]) -> np.ndarray:
        from ..ir.execute import run_graph

        return _first(run_graph(self.float_graph, feeds), self.float_graph.output_names)

    def outputs(self, qm, feeds: Mapping[str, np.ndarray]) -> np.ndarray:
        from ..emulator import emulate

        return _first(emulate(qm, feeds).outputs, [t.name for t in qm.model_outputs])

    def fold(self, qm, target_fps: float | None):
        """The folder's result for ``qm`` (None when it does not fit the board)."""
        from ..fold import FoldError, fold_model

        try:
            return fold_model(qm, self.board, ceiling=self.ceiling, target_fps=target_fps,
                              overrides=self.base.foldings(), clock_mhz=self.clock_mhz)
        except FoldError:
            return None


def estimate(result) -> dict:
    """The figures of a fold result the search uses (all estimates)."""
    u = result.design.usage.as_dict()
    return {"fps": float(result.fps), "cycles": int(result.cycles), "dsp": u["dsp"], "lut": u["lut"],
            "bram18": u["bram18"], "uram": u["uram"], "budget": dict(result.design.budget)}


def _first(outs: Mapping[str, np.ndarray], names) -> np.ndarray:
    return np.asarray(outs[names[0]])
