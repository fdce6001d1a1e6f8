"""Quantisation settings: default bit widths, observer, and per-layer overrides from a file.

A config file is JSON (or TOML on Python ≥ 3.11)::

    {"bits": 8, "observer": "percentile", "percentile": 99.99,
     "layers": {"/0/Conv": {"weight_bits": 4, "act_bits": 6, "folding": {"pe": 4, "simd": 1}}}}

Methods that choose better weights, biases and rounding (they keep the integer contract: they only
change the float weights and biases quantised, and which way each weight rounds; see
quant/methods.py): ``"equalize"`` (cross-layer equalisation, true/false; default false), ``"bias_correction"``
(true/false; on by default) and ``"adaround"`` (false, true, or ``{"seconds": S, "iterations": N}``: learned
rounding of the weights, layer by layer, at most S seconds in all, N steps per layer).

``"fifo_depths"`` ({"s3": 64, ...}) sets the depth pragma of streams of the generated HLS, named as
`fpga-accel simulate` names them (the full name or its ``s<k>`` prefix); compile --fifo-depth adds to it.

A layer's ``folding`` fixes its PE / SIMD for the auto-folder (fpga_accel/fold), which checks it
against the layer's dimensions. The whole config is checked when it is made, every error naming
the key: an unknown key (with the nearest known one), a value of the wrong type or range, an
observer option for another observer. A per-layer setting the layer has no use for (weight bits
on a layer without weights) is an error when the model is quantised.
"""
from __future__ import annotations

import difflib
import json
import os
from dataclasses import dataclass, field
from typing import Any

from ..errors import InputError
from .observers import OBSERVERS

_TOP_KEYS = ("bits", "weight_bits", "act_bits", "observer", "layers", "equalize", "bias_correction", "adaround",
             "fifo_depths")
_LAYER_KEYS = {"weight_bits", "act_bits", "folding"}


def _number(lo: float, hi: float):
    def check(v, where: str):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not lo < v <= hi:
            raise InputError(f"{where} must be a number in ({lo:g}, {hi:g}], got {v!r}")
    return check


def _choice(*options: str):
    def check(v, where: str):
        if v not in options:
            raise InputError(f"{where} must be one of {', '.join(map(repr, options))}, got {v!r}")
    return check


def _even_bins(v, where: str):
    if isinstance(v, bool) or not isinstance(v, int) or v < 16 or v % 2 or v > 1 << 20:
        raise InputError(f"{where} must be an even integer from 16 to {1 << 20}, got {v!r}")


#: the options each observer takes in a config, with their checks (see quant/observers.py)
OBSERVER_OPTIONS = {
    "minmax": {},
    "percentile": {"percentile": _number(50, 100), "tails": _choice("both", "abs"), "bins": _even_bins},
    "mse": {"bins": _even_bins},
}


def _unknown_key(key, where: str, known) -> InputError:
    near = difflib.get_close_matches(str(key), list(known), n=1)
    hint = f"; did you mean '{near[0]}'?" if near else ""
    return InputError(f"{where}: unknown key {key!r}{hint} Known keys: {', '.join(sorted(known))}")


def _check_observer_args(observer: str, args: dict) -> None:
    options = OBSERVER_OPTIONS.get(observer, {})
    every = {k for opts in OBSERVER_OPTIONS.values() for k in opts}
    for key, value in args.items():
        if key in options:
            options[key](value, f"config key '{key}' (observer '{observer}')")
        elif key in every:
            users = [o for o, opts in OBSERVER_OPTIONS.items() if key in opts]
            raise InputError(f"config key '{key}' is an option of the {' / '.join(users)} observer, but the "
                             f"config uses the '{observer}' observer; set \"observer\": \"{users[0]}\" or "
                             f"remove '{key}'")
        else:
            raise _unknown_key(key, "config", set(_TOP_KEYS) | set(options))


def _bits(v, where: str) -> int:
    if not isinstance(v, int) or isinstance(v, bool) or not 2 <= v <= 16:
        raise InputError(f"{where}: bit width must be an integer from 2 to 16, got {v!r}")
    return v


def _folding(v, where: str) -> None:
    ok = isinstance(v, dict) and all(k in ("pe", "simd", "px") and isinstance(n, int) and not isinstance(n, bool) and n >= 1
                                     or k == "mul" and n in ("dsp", "lut") for k, n in v.items())
    if not ok:
        raise InputError(f"{where}: must be a mapping like {{\"pe\": 4, \"simd\": 8}} with positive integers, "
                         f"and \"mul\": \"dsp\" or \"lut\" for the multipliers; got {v!r}")


def _flag(v, where: str) -> None:
    if not isinstance(v, bool):
        raise InputError(f"config key '{where}' must be true or false, got {v!r}")


#: the options of ``"adaround"`` given as a mapping, with their checks and defaults
ADAROUND_OPTIONS = {"seconds": (_number(0, 86400), 60.0), "iterations": (_number(0, 100000), 1000)}


def _adaround(v) -> dict[str, float] | None:
    """``"adaround"`` as None (off) or its full options: ``true`` means every default."""
    if v is None or v is False:
        return None
    if v is True:
        return {k: d for k, (_, d) in ADAROUND_OPTIONS.items()}
    if not isinstance(v, dict):
        raise InputError(f"config key 'adaround' must be true, false or a mapping like "
                         f"{{\"seconds\": 60, \"iterations\": 1000}}, got {v!r}")
    for k, x in v.items():
        if k not in ADAROUND_OPTIONS:
            raise _unknown_key(k, "config key 'adaround'", ADAROUND_OPTIONS)
        ADAROUND_OPTIONS[k][0](x, f"config key 'adaround', {k}")
    if "iterations" in v and int(v["iterations"]) != v["iterations"]:
        raise InputError(f"config key 'adaround', iterations must be a whole number, got {v['iterations']!r}")
    return {k: v.get(k, d) for k, (_, d) in ADAROUND_OPTIONS.items()}


def _fifo_depths(v) -> None:
    """``"fifo_depths"``: {stream: depth} with positive integer depths (the names are checked against
    the network when its HLS is generated)."""
    if not isinstance(v, dict) or not all(isinstance(k, str) and k for k in v):
        raise InputError(f"config key 'fifo_depths' must map stream names to depths, like {{\"s3\": 64}}, got {v!r}")
    for k, d in v.items():
        if isinstance(d, bool) or not isinstance(d, int) or d < 1:
            raise InputError(f"config key 'fifo_depths', stream '{k}': the depth must be a positive integer, "
                             f"got {d!r}")


@dataclass
class QuantConfig:
    bits: int = 8
    weight_bits: int | None = None  # default: ``bits``
    act_bits: int | None = None  # default: ``bits``
    observer: str = "minmax"
    observer_args: dict[str, Any] = field(default_factory=dict)
    layers: dict[str, dict[str, Any]] = field(default_factory=dict)
    equalize: bool = False
    bias_correction: bool | None = None  # None: the default, on (methods.py skips it where it cannot run)
    adaround: Any = None  # None / False: off; True or {"seconds": S, "iterations": N}
    fifo_depths: dict[str, int] = field(default_factory=dict)  # stream -> depth pragma (codegen/network.py)

    def __post_init__(self):
        _bits(self.bits, "bits")
        _flag(self.equalize, "equalize")
        if self.bias_correction is not None:
            _flag(self.bias_correction, "bias_correction")
        _adaround(self.adaround)
        _fifo_depths(self.fifo_depths)
        for k in ("weight_bits", "act_bits"):
            if getattr(self, k) is not None:
                _bits(getattr(self, k), k)
        if not isinstance(self.observer, str) or self.observer not in OBSERVERS:
            raise InputError(f"unknown observer {self.observer!r}; use one of {sorted(OBSERVERS)}")
        if not isinstance(self.observer_args, dict):
            raise InputError(f"observer options must be a mapping, got {type(self.observer_args).__name__}")
        _check_observer_args(self.observer, self.observer_args)
        if not isinstance(self.layers, dict):
            raise InputError(f"config key 'layers' must map layer names to settings, got {self.layers!r}")
        for name, over in self.layers.items():
            if not isinstance(over, dict):
                raise InputError(f"config for layer '{name}' must be a mapping like {{\"weight_bits\": 4}}, "
                                 f"got {over!r}")
            bad = set(over) - _LAYER_KEYS
            if bad:
                raise _unknown_key(min(bad), f"config for layer '{name}'", _LAYER_KEYS)
            for k, v in over.items():
                if k == "folding":
                    _folding(v, f"config for layer '{name}', folding")
                else:
                    _bits(v, f"config for layer '{name}', {k}")
        self._asked: set[tuple[str, str]] = set()  # (layer, key) the quantiser read: see unused_overrides

    def corrects_bias(self) -> bool:
        """Whether bias correction runs on the Conv / Gemm layers. On by default at every width: on the
        held-out images of the eight benchmark models it lowered the logits' RMS error against the
        float model by 6–47 % at 8 bits too (docs/quantization-methods.md), with 10 calibration
        images as with 200."""
        return self.bias_correction if self.bias_correction is not None else True

    def adaround_options(self) -> dict[str, float] | None:
        """None when learned rounding is off, else its options with their defaults filled in."""
        return _adaround(self.adaround)

    def foldings(self) -> dict[str, dict[str, int]]:
        """Per-layer folding overrides: layer name -> {"pe": P, "simd": S}."""
        return {name: dict(over["folding"]) for name, over in self.layers.items() if "folding" in over}

    def weight_bits_of(self, node: str) -> int:
        self._asked.add((node, "weight_bits"))
        return self.layers.get(node, {}).get("weight_bits", self.weight_bits or self.bits)

    def act_bits_of(self, node: str) -> int:
        self._asked.add((node, "act_bits"))
        return self.layers.get(node, {}).get("act_bits", self.act_bits or self.bits)

    def check_layers(self, names) -> None:
        unknown = sorted(set(self.layers) - set(names))
        if unknown:
            raise InputError(f"config names layer(s) {unknown} that are not in the accelerated part; "
                             f"`fpga-accel inspect --flow hardware` lists the node names")

    def check_overrides_used(self, ops: dict[str, str]) -> None:
        """An InputError for each per-layer bit width the quantiser never read: the layer has no
        weights (``weight_bits``), or passes its input's integers through or takes its
        parameters from the model (``act_bits``). ``ops`` maps layer names to op types."""
        unused = [(name, k) for name, over in self.layers.items() for k in ("weight_bits", "act_bits")
                  if k in over and (name, k) not in self._asked]
        if unused:
            why = {"weight_bits": "has no weights", "act_bits": "takes its output's integers from its input or "
                   "from the model's own quantisation parameters"}
            lines = [f"layer '{n}' ({ops.get(n, '?')}) {why[k]}: remove '{k}'" for n, k in unused]
            raise InputError("config sets bit widths that no layer uses: " + "; ".join(lines))

    @staticmethod
    def from_file(path: str | os.PathLike, **overrides) -> QuantConfig:
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
        data.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return QuantConfig.from_mapping(data)
        except InputError as e:
            raise InputError(f"{where}: {e}") from None

    @staticmethod
    def from_mapping(data) -> QuantConfig:
        """A config from a dict of the file's keys (observer options beside the top-level keys)."""
        args = {k: v for k, v in data.items() if k not in _TOP_KEYS}
        return QuantConfig(**{k: v for k, v in data.items() if k in _TOP_KEYS}, observer_args=args)
