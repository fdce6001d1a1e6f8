"""A :class:`Stage` is one processing-element instance, the one unit the folder prices and the
HLS writer places.

An op's ``lower()`` returns the stages of its integer layer, built by the PE modules of this
package; each stage names its PE (``kind``), the parameters its cycle and resource model reads,
the streams it reads and writes (:class:`Port`: tensor, lanes, element type), the config struct
members of its header's template and the constant arrays it needs in the header's layout. The
folder adds stages of its own (width converters, forks, I/O adapters) that carry parameters only.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import FpgaAccelError
from .base import ProcessingElement, pe_of
from .cost import Cost

#: the kind of a layer that only renames its stream (a reshape): no PE, nothing to price
RENAME = "rename"


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
    storage: str = ""  # the resource the generated top binds it to ("lutram", "bram"), "" the tool's choice

    @property
    def dims(self) -> tuple[int, ...]:
        return tuple(np.shape(self.values))


@dataclass
class Stage:
    """One PE call in the dataflow region: ``kind`` names its processing element (``PES``)."""

    layer: str  # QLayer name (or the tensor name for stream plumbing)
    kind: str  # sliding_window, mvau, depthwise, max_pool, ... (the header function)
    params: dict[str, Any] = field(default_factory=dict)  # what its cycle and resource model reads
    inputs: list[Port] = field(default_factory=list)
    outputs: list[Port] = field(default_factory=list)
    config: dict[str, int | bool] = field(default_factory=dict)  # config struct members, in order
    template: list[str] | None = None  # explicit template arguments when there is no config struct
    arrays: list[Array] = field(default_factory=list)
    scalars: list[str] = field(default_factory=list)  # extra call arguments after the arrays
    header_params: dict[str, int] | None = None  # the header's parameters as manifest["hls"] lists them
    folding: dict[str, int] = field(default_factory=dict)
    reps: str = "n_images"  # the PE's `reps` argument: images, or images x an outer loop

    @property
    def func(self) -> str:
        return f"fa::{self.kind}"

    @property
    def name(self) -> str:
        """"layer_name/pe_kind", as the C simulation names its stages."""
        return f"{self.layer}/{self.kind}"

    @property
    def pe(self) -> ProcessingElement:
        return pe_of(self.kind)

    def cycles(self) -> int:
        # asked for again and again while the folder compares designs; params never change after lowering
        c = self.__dict__.get("_cycles")
        if c is None:
            c = self.__dict__["_cycles"] = int(self.pe.cycles(self.params))
        return c

    def batch_cycles(self, n_images: int, interface: str = "m_axi") -> int:
        """Loop iterations for one call on ``n_images`` images (what C simulation counts); the I/O
        adapters differ between the m_axi kernel and the AXI-Stream IP."""
        return int(self.pe.batch_cycles(self.params, n_images, interface))

    def setup(self) -> int:
        return int(self.pe.setup(self.params))

    def first_out(self) -> int:
        return int(self.pe.first_out(self.params))

    def input_slack(self, interval: int) -> int:
        """Extra FIFO depth (words) its input stream needs at a network interval of ``interval`` cycles."""
        return int(self.pe.input_slack(self.params, max(int(interval), self.cycles())))

    def output_burst(self) -> int:
        """Words its output stream must hold for a burst it writes back to back (``ProcessingElement.output_burst``)."""
        return int(self.pe.output_burst(self.params))

    def cost(self, board) -> Cost:
        return self.pe.cost(self.params, board)

    def describe(self) -> dict[str, Any]:
        """The manifest entry: kind, params, folding and stream widths."""
        params = self.params if self.header_params is None else self.header_params
        return {"kind": self.kind, "params": {k: int(v) for k, v in params.items()},
                "folding": dict(self.folding),
                "in_bits": [p.word_bits for p in self.inputs], "out_bits": [p.word_bits for p in self.outputs]}


@dataclass
class LowerContext:
    """What an op's ``lower`` may read: the model's tensors, the layer's validated folding and the
    width of the board's DSP wide port (0 without a board: nothing is packed for it)."""

    qmodel: Any
    folding: dict[str, Any]
    dsp_port_bits: int = 0

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

    @property
    def px(self) -> int:
        """Output pixels per word (fold key ``px``): 1, or PX adjacent pixels of a convolution."""
        return int(self.folding.get("px", 1))

    @property
    def mul(self) -> str:
        """The layer's multipliers: "dsp" (the default) or "lut" (fold key ``mul``)."""
        return str(self.folding.get("mul", "dsp"))

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


def ints(d: dict) -> dict[str, int]:
    return {k: int(v) for k, v in d.items()}


def pick(d: dict, keys) -> dict:
    """The entries ``keys`` of ``d``, in that order."""
    return {k: d[k] for k in keys}


def rename_stage(layer: str, src: str, dst: str, bits: int, signed: bool) -> Stage:
    """A reshape keeps the NHWC element order of the stream: no PE, ``dst``'s stream is ``src``'s."""
    return Stage(layer, RENAME, inputs=[Port(src, 0, bits, signed)], outputs=[Port(dst, 0, bits, signed)])
