"""The unit of code generation: a :class:`Stage` is one processing-element instance.

An op's ``lower()`` returns the stages of its integer layer; each stage names the streams it reads
and writes (:class:`Port`: tensor, lanes, element type), the config struct members of its header's
template, the constant arrays it needs in the header's layout, and its integer parameters (kind +
params), which the fold/ package reads from ``manifest["hls"]`` to model cycles and resources.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import FpgaAccelError


class LoweringError(FpgaAccelError):
    """This layer (or this use of its op) has no processing element; the message says why."""


@dataclass(frozen=True)
class Port:
    """A stream: the tensor it carries, elements per word, element width and signedness."""

    tensor: str
    lanes: int
    bits: int
    signed: bool

    @property
    def word_bits(self) -> int:
        return self.lanes * self.bits

    @property
    def ctype(self) -> str:
        return f"ap_uint<{self.word_bits}>"


@dataclass
class Array:
    """A constant array: ``values`` (int64 or Python ints for wide words) of shape ``dims``."""

    name: str
    ctype: str
    values: Any
    word_bits: int = 0  # > 0: packed words, written in hex

    @property
    def dims(self) -> tuple[int, ...]:
        return tuple(np.shape(self.values))


@dataclass
class Stage:
    """One PE call in the dataflow region."""

    layer: str  # QLayer name (or the tensor name for stream plumbing)
    kind: str  # sliding_window, mvau, depthwise, max_pool, ... (the header function)
    inputs: list[Port]
    outputs: list[Port]
    config: dict[str, int | bool] = field(default_factory=dict)  # config struct members, in order
    template: list[str] | None = None  # explicit template arguments when there is no config struct
    arrays: list[Array] = field(default_factory=list)
    scalars: list[str] = field(default_factory=list)  # extra call arguments after the arrays
    params: dict[str, int] = field(default_factory=dict)  # integer parameters for fold/
    folding: dict[str, int] = field(default_factory=dict)
    reps: str = "n_images"  # the PE's `reps` argument: images, or images x an outer loop

    @property
    def func(self) -> str:
        return f"fa::{self.kind}"

    def describe(self) -> dict[str, Any]:
        """The manifest entry: kind, params, folding and stream widths."""
        return {"kind": self.kind, "params": {k: int(v) for k, v in self.params.items()},
                "folding": dict(self.folding),
                "in_bits": [p.word_bits for p in self.inputs], "out_bits": [p.word_bits for p in self.outputs]}


@dataclass
class LowerContext:
    """What an op's ``lower`` may read: the model's tensors and the layer's validated folding."""

    qmodel: Any
    folding: dict[str, int]

    def port(self, tensor: str, lanes: int) -> Port:
        q = self.qmodel.tensors[tensor].qparams.qtype
        return Port(tensor, int(lanes), q.bits, q.signed)

    def shape(self, tensor: str) -> tuple[int, ...]:
        return tuple(int(d) for d in self.qmodel.tensors[tensor].shape)

    def qtype(self, tensor: str):
        return self.qmodel.tensors[tensor].qparams.qtype

    @property
    def pe(self) -> int:
        return int(self.folding.get("pe", 1))

    @property
    def simd(self) -> int:
        return int(self.folding.get("simd", 1))

    def require(self, what: str, value: int, total: int, meaning: str) -> None:
        """Folding factor ``value`` must divide ``total``."""
        if value < 1 or total % value:
            divs = [d for d in range(1, total + 1) if total % d == 0]
            raise FoldingProblem(f"{what}={value} does not divide {meaning} ({total}); use one of "
                                 f"{divs[:12]}{' ...' if len(divs) > 12 else ''}")


class FoldingProblem(FpgaAccelError):
    """A folding factor does not fit the layer."""


def channels(shape: tuple[int, ...]) -> int:
    return int(shape[-1])


def vectors(shape: tuple[int, ...]) -> int:
    """Number of channel vectors (pixels) per image of an NHWC / (N, ..., C) tensor."""
    n = 1
    for d in shape[1:-1]:
        n *= int(d)
    return n
