"""Quantisation settings: default bit widths, observer, and per-layer overrides from a file.

A config file is JSON (or TOML on Python ≥ 3.11)::

    {"bits": 8, "observer": "percentile", "percentile": 99.99,
     "layers": {"/0/Conv": {"weight_bits": 4, "act_bits": 6, "folding": {"pe": 4, "simd": 1}}}}

A layer's ``folding`` fixes its PE / SIMD for the auto-folder (fpga_accel/fold), which checks it
against the layer's dimensions.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

from ..errors import InputError
from .observers import OBSERVERS

_LAYER_KEYS = {"weight_bits", "act_bits", "folding"}


def _bits(v, where: str) -> int:
    if not isinstance(v, int) or isinstance(v, bool) or not 2 <= v <= 16:
        raise InputError(f"{where}: bit width must be an integer from 2 to 16, got {v!r}")
    return v


def _folding(v, where: str) -> None:
    ok = isinstance(v, dict) and all(k in ("pe", "simd") and isinstance(n, int) and not isinstance(n, bool) and n >= 1
                                     for k, n in v.items())
    if not ok:
        raise InputError(f"{where}: must be a mapping like {{\"pe\": 4, \"simd\": 8}} with positive integers, "
                         f"got {v!r}")


@dataclass
class QuantConfig:
    bits: int = 8
    weight_bits: int | None = None  # default: ``bits``
    act_bits: int | None = None  # default: ``bits``
    observer: str = "minmax"
    observer_args: dict[str, Any] = field(default_factory=dict)
    layers: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self):
        _bits(self.bits, "bits")
        for k in ("weight_bits", "act_bits"):
            if getattr(self, k) is not None:
                _bits(getattr(self, k), k)
        if self.observer not in OBSERVERS:
            raise InputError(f"unknown observer '{self.observer}'; use one of {sorted(OBSERVERS)}")
        for name, over in self.layers.items():
            bad = set(over) - _LAYER_KEYS
            if bad:
                raise InputError(f"config for layer '{name}': unknown key(s) {sorted(bad)}; use {sorted(_LAYER_KEYS)}")
            for k, v in over.items():
                if k == "folding":
                    _folding(v, f"config for layer '{name}', folding")
                else:
                    _bits(v, f"config for layer '{name}', {k}")

    def foldings(self) -> dict[str, dict[str, int]]:
        """Per-layer folding overrides: layer name -> {"pe": P, "simd": S}."""
        return {name: dict(over["folding"]) for name, over in self.layers.items() if "folding" in over}

    def weight_bits_of(self, node: str) -> int:
        return self.layers.get(node, {}).get("weight_bits", self.weight_bits or self.bits)

    def act_bits_of(self, node: str) -> int:
        return self.layers.get(node, {}).get("act_bits", self.act_bits or self.bits)

    def check_layers(self, names) -> None:
        unknown = sorted(set(self.layers) - set(names))
        if unknown:
            raise InputError(f"config names layer(s) {unknown} that are not in the accelerated part; "
                             f"`fpga-accel inspect --flow hardware` lists the node names")

    @staticmethod
    def from_file(path: str | os.PathLike, **overrides) -> "QuantConfig":
        where = os.fspath(path)
        try:
            with open(where, "rb") as f:
                raw = f.read()
        except OSError as e:
            raise InputError(f"{where}: cannot read config ({e.strerror})") from None
        try:
            if where.endswith(".toml"):
                import tomllib

                data = tomllib.loads(raw.decode())
            else:
                data = json.loads(raw)
        except Exception as e:
            raise InputError(f"{where}: not a valid config file ({e})") from None
        if not isinstance(data, dict):
            raise InputError(f"{where}: the config must be a mapping")
        known = {"bits", "weight_bits", "act_bits", "observer", "layers"}
        args = {k: v for k, v in data.items() if k not in known}
        data = {k: v for k, v in data.items() if k in known}
        data.update({k: v for k, v in overrides.items() if v is not None})
        return QuantConfig(**data, observer_args=args)
