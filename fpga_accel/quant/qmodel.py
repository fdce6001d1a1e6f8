"""The quantised model: integer layers between a float host part before and after them.

A :class:`QModel` is what the compiler hands to the emulator, the HLS code generator and the
bundle: every hardware tensor has a shape (batch 1, hardware layout NHWC) and per-tensor
:class:`QParams`; every layer has a JSON-able ``config`` and integer ``consts``. Host parts are
plain float IR graphs run with the ops' numpy references.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..ir.graph import Graph, TensorInfo
from ..ir.serialize import graph_from_dict, graph_to_dict
from .params import QParams
from .qtype import parse_qtype


@dataclass
class QTensor:
    name: str
    shape: tuple[int, ...]
    qparams: QParams

    def to_dict(self) -> dict:
        q = self.qparams
        return {"name": self.name, "shape": list(self.shape), "scale": q.scale, "zero_point": q.zero_point,
                "qtype": q.qtype.name}

    @staticmethod
    def from_dict(d) -> "QTensor":
        return QTensor(d["name"], tuple(d["shape"]), QParams(d["scale"], d["zero_point"], parse_qtype(d["qtype"])))


@dataclass
class QLayer:
    """One integer layer. ``op_type`` names the op file that made it and runs it (``run_int``)."""

    name: str
    op_type: str
    inputs: list[str]
    outputs: list[str]
    config: dict[str, Any] = field(default_factory=dict)
    consts: dict[str, np.ndarray] = field(default_factory=dict)
    domain: str = ""


@dataclass
class QModel:
    name: str
    inputs: list[QTensor]  # hardware inputs: quantised on the host
    outputs: list[QTensor]  # hardware outputs: dequantised on the host
    tensors: dict[str, QTensor]
    layers: list[QLayer]
    host_before: Graph  # float: model inputs -> hardware inputs (may have no nodes)
    host_after: Graph  # float: hardware outputs -> model outputs
    methods: dict[str, Any] = field(default_factory=dict)  # what quant/methods.py did (manifest record)

    @property
    def model_inputs(self) -> list[TensorInfo]:
        return self.host_before.inputs

    @property
    def model_outputs(self) -> list[TensorInfo]:
        return self.host_after.outputs

    def layer(self, name: str) -> QLayer:
        for lay in self.layers:
            if lay.name == name:
                return lay
        raise KeyError(name)

    # --- bundle form ----------------------------------------------------------
    def to_dict(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """(JSON-able manifest section, arrays for weights.npz)."""
        arrays: dict[str, np.ndarray] = {}
        layers = []
        for i, lay in enumerate(self.layers):
            keys = {}
            for k, v in lay.consts.items():
                keys[k] = f"layer{i}.{k}"
                arrays[keys[k]] = v
            layers.append({"name": lay.name, "op_type": lay.op_type, "domain": lay.domain, "inputs": lay.inputs,
                           "outputs": lay.outputs, "config": lay.config, "consts": keys})
        before, a1 = graph_to_dict(self.host_before, "host_before")
        after, a2 = graph_to_dict(self.host_after, "host_after")
        arrays.update(a1)
        arrays.update(a2)
        d = {"name": self.name, "inputs": [t.name for t in self.inputs], "outputs": [t.name for t in self.outputs],
             "tensors": [t.to_dict() for t in self.tensors.values()], "layers": layers,
             "host_before": before, "host_after": after}
        return d, arrays

    @staticmethod
    def from_dict(d: dict[str, Any], arrays: dict[str, np.ndarray]) -> "QModel":
        tensors = {t["name"]: QTensor.from_dict(t) for t in d["tensors"]}
        layers = [QLayer(x["name"], x["op_type"], list(x["inputs"]), list(x["outputs"]), x["config"],
                         {k: arrays[key] for k, key in x["consts"].items()}, x.get("domain", ""))
                  for x in d["layers"]]
        return QModel(d["name"], [tensors[n] for n in d["inputs"]], [tensors[n] for n in d["outputs"]], tensors,
                      layers, graph_from_dict(d["host_before"], arrays), graph_from_dict(d["host_after"], arrays))
