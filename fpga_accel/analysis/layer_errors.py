"""Where accuracy goes: per layer, the emulator's integers against the float model's values.

The float side is the IR float reference of the model after the ``hardware`` flow (the graph
compile quantised: same tensor names, NHWC shapes), run on the inputs; the integer side is the
emulator's tensor of the same name on the same inputs, dequantised (real = scale · (q − zp)).
Both carry everything upstream, so a layer's figures include the error of the layers before it;
``own_snr_db`` estimates the layer's own share (noise powers taken as adding up).

A model that carries its own quantisation (QDQ, QONNX) is defined with its quantisers: there the
float side is fake-quantised, each tensor of the accelerated part rounded and clamped with the
model's own parameters as it is computed (what onnxruntime computes for a QDQ model), and the
figures say how far the integers are from that definition (at most about one step).

Saturation is counted against the float model: an output at its type's limit is saturated when
the float value lies more than half a step beyond the range the type represents, i.e. where a
wider range would have given another integer. An output at the limit because the float model
clips there too (a fused ReLU6 whose calibrated range ends at 6.0) is not saturation.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np

#: samples per pass: the float reference keeps every tensor of a pass in memory
LAYER_BATCH = 64


@dataclass
class LayerError:
    """Float-vs-integer figures of one tensor of the accelerated part."""

    index: int  # position in graph order (hardware inputs first)
    layer: str  # layer name; the tensor name for a hardware input
    op_type: str  # "input" for a hardware input
    tensor: str
    bits: int
    scale: float
    cosine: float  # cosine similarity of the dequantised integers and the float values
    snr_db: float  # 10·log10(Σ float² / Σ (deq − float)²); inf when equal
    own_snr_db: float  # the SNR this layer would have if only its own error counted (estimate)
    max_abs_steps: float  # max |deq − float| in steps of the tensor's scale
    saturated: int  # outputs clamped at a type limit where the float value lies beyond the range
    at_limit: int  # outputs at a type limit, saturated or not
    size: int  # values compared


@dataclass
class LayerErrors:
    """:func:`layer_errors`' table: one :class:`LayerError` per tensor, in graph order."""

    rows: list[LayerError]
    samples: int
    reference: str = "float reference"  # what the integers were compared with

    @property
    def worst(self) -> LayerError | None:
        """The row with the lowest own SNR (the largest error a layer adds), None if all are exact."""
        finite = [r for r in self.rows if math.isfinite(r.own_snr_db)]
        return min(finite, key=lambda r: r.own_snr_db) if finite else None

    def row(self, name: str) -> LayerError:
        """The row of a layer (or hardware input tensor) by name."""
        for r in self.rows:
            if r.layer == name or r.tensor == name:
                return r
        raise KeyError(name)

    def as_dicts(self) -> list[dict]:
        return [asdict(r) for r in self.rows]


class _Acc:
    """Running sums of one tensor over the batches."""

    def __init__(self):
        self.ff = self.qq = self.fq = self.ee = self.max_e = 0.0
        self.sat = self.at_limit = self.size = 0

    def add(self, f: np.ndarray, q: np.ndarray, p) -> None:
        deq = p.scale * (q.astype(np.float64) - p.zero_point)
        f = f.astype(np.float64)
        e = deq - f
        self.ff += float(np.sum(f * f))
        self.qq += float(np.sum(deq * deq))
        self.fq += float(np.sum(f * deq))
        self.ee += float(np.sum(e * e))
        self.max_e = max(self.max_e, float(np.max(np.abs(e))) if e.size else 0.0)
        t = p.qtype
        hi, lo = q == t.max, q == t.min
        self.at_limit += int(np.count_nonzero(hi | lo))
        # beyond the representable range by more than half a step: a wider range would not round
        # to the limit
        self.sat += int(np.count_nonzero(hi & (f > p.scale * (t.max - p.zero_point + 0.5))))
        self.sat += int(np.count_nonzero(lo & (f < p.scale * (t.min - p.zero_point - 0.5))))
        self.size += q.size

    def nsr(self) -> float:
        """Noise-to-signal power ratio."""
        if self.ee == 0:
            return 0.0
        return self.ee / self.ff if self.ff > 0 else math.inf


def _db(nsr: float) -> float:
    if nsr <= 0:
        return math.inf
    return -10 * math.log10(nsr) if math.isfinite(nsr) else -math.inf


def compare_layers(qm, g, feeds: Mapping[str, np.ndarray], batch_size: int = LAYER_BATCH) -> LayerErrors:
    """:class:`LayerErrors` of the QModel ``qm`` against the float graph ``g`` (the model after the
    ``hardware`` flow, :func:`fpga_accel.analysis.reference.hardware_graph`) on the model inputs
    ``feeds`` (float, preprocessed as for the float model)."""
    from ..emulator import emulate
    from ..errors import InputError
    from ..ir.execute import check_feeds, run_graph
    from ..quant.arith import dequantize, quantize

    feeds = check_feeds(qm.host_before, feeds)
    after = None
    if g.meta.get("qparams"):  # the model defines its tensors quantised: so does the reference
        def after(name: str, value: np.ndarray) -> np.ndarray:
            t = qm.tensors.get(name)
            return value if t is None else dequantize(quantize(value, t.qparams, name=name), t.qparams, value.dtype)

    tracked = [(t.name, "input", t.name) for t in qm.inputs]
    tracked += [(lay.name, lay.op_type, o) for lay in qm.layers for o in lay.outputs if o in qm.tensors]
    missing = [t for _, _, t in tracked if t not in g.tensors and t not in g.input_names]
    if missing:
        raise InputError(f"the float model has no tensor {missing[0]!r} of the bundle ({len(missing)} missing); "
                         f"pass the model the bundle was compiled from")
    acc = {t: _Acc() for _, _, t in tracked}
    n = next(iter(feeds.values())).shape[0] if feeds else 0
    for s in range(0, n, batch_size):
        part = {k: v[s:s + batch_size] for k, v in feeds.items()}
        if after is not None:  # a hardware input fed as it is: quantised as the model defines it
            part = {k: after(k, v) for k, v in part.items()}
        ref = run_graph(g, part, keep=True, after=after)
        got = emulate(qm, part, keep=True).tensors
        for t, a in acc.items():
            a.add(ref[t], got[t], qm.tensors[t].qparams)

    producer = {o: lay for lay in qm.layers for o in lay.outputs}
    rows = []
    for i, (layer, op_type, t) in enumerate(tracked):
        a, p = acc[t], qm.tensors[t].qparams
        nsr_in = max((acc[x].nsr() for x in (producer[t].inputs if t in producer else []) if x in acc), default=0.0)
        own = a.nsr() - nsr_in if math.isfinite(a.nsr()) else math.inf
        denom = math.sqrt(a.ff * a.qq)
        cos = a.fq / denom if denom > 0 else (1.0 if a.ff == a.qq == 0 else 0.0)
        rows.append(LayerError(i, layer, op_type, t, p.qtype.bits, float(p.scale), cos, _db(a.nsr()),
                               _db(own), a.max_e / p.scale, a.sat, a.at_limit, a.size))
    return LayerErrors(rows, n, "float reference" if after is None else
                       "float reference with the model's own quantisers (its QDQ / QONNX definition)")


def layer_errors(bundle, inputs, model=None, batch_size: int = LAYER_BATCH) -> LayerErrors:
    """Per layer of a compiled bundle, float-vs-integer error of its output on ``inputs``.

    ``bundle``: a path or :class:`fpga_accel.Bundle`. ``inputs``: an array (one input) or a dict
    keyed by input name, float and preprocessed as for the float model. ``model``: the float ONNX
    model (default: the source the manifest names; its sha256 must match). For each tensor of the
    accelerated part, in graph order: cosine similarity, SNR in dB, the layer's own SNR, max
    absolute error in steps of the tensor's scale, and saturation counted against the float
    model (module docstring). ``.worst`` is the layer that adds the most error.
    """
    from ..bundle import Bundle, load_bundle
    from ..compiler import load_qmodel
    from .reference import hardware_graph, source_model

    if not isinstance(bundle, Bundle):
        bundle = load_bundle(bundle)
    qm = load_qmodel(bundle)
    _, data = source_model(bundle.manifest, model)
    g = hardware_graph(data, bundle.manifest)
    return compare_layers(qm, g, model_feeds(qm, inputs), batch_size)


def model_feeds(qm, inputs) -> dict[str, np.ndarray]:
    """``inputs`` as ``{model input name: array}`` (an array alone for a one-input model)."""
    from ..errors import InputError

    names = [t.name for t in qm.model_inputs]
    if isinstance(inputs, Mapping):
        return dict(inputs)
    if len(names) != 1:
        raise InputError(f"the model has inputs {names}; pass a dict keyed by input name")
    return {names[0]: np.asarray(inputs)}
