"""The declaration every processing element makes, and the registry that finds it by kind.

A :class:`ProcessingElement` subclass names one function template of the HLS library
(``fa::<kind>``) and the headers it lives in, and gives its model:

- ``cycles(p)``: loop iterations per image, the formula in the header's comment block (what
  ``FA_CYCLE()`` counts in C simulation; one per clock at II = 1);
- ``setup(p)``: iterations per call independent of the image count (the LUT's table copy);
- ``first_out(p)``: cycles from the first input word to the first output word (latency estimate);
- ``cost(p, board)``: DSP/LUT/FF and the memories it holds (:class:`~.cost.Cost`).

``p`` is the stage's ``params``. The formulas and constants are in docs/fold-model.md. Cycles are
exact for the C++ as written; resources are estimates, labelled so wherever they are shown.
"""
from __future__ import annotations

from typing import ClassVar

from ..errors import FpgaAccelError
from .cost import Cost

#: kind -> its processing element, in the order the modules declared them
PES: dict[str, ProcessingElement] = {}


class ProcessingElement:
    """One PE kind: subclasses set ``kind`` and ``headers`` and give ``cycles`` and ``cost``."""

    kind: ClassVar[str]
    #: files of hls/include/fpga_accel/ that define it (empty: no library code, a model only)
    headers: ClassVar[tuple[str, ...]] = ()
    #: whether the auto-folder may widen its lanes; False keeps it at one lane
    lanes_fold: ClassVar[bool] = True

    def cycles(self, p) -> int:
        raise NotImplementedError

    def setup(self, p) -> int:
        return 0

    def first_out(self, p) -> int:
        return 1

    def input_slack(self, p, interval: int) -> int:
        """Words a producer running at ``interval`` cycles per image may have to hold in front of this
        PE's input beyond the default depth, while the PE reads less than its average (its burst
        shape); the code generator deepens the stream by this much. 0: the PE reads evenly."""
        return 0

    def output_burst(self, p) -> int:
        """Words this PE writes back to back after a phase of reading (a global pool's result), which
        its output stream must hold for the PE to go on reading at once: a consumer slower than a word
        a cycle (a narrowing width converter) would otherwise hold it for the burst at its own pace.
        0: the PE writes as it reads."""
        return 0

    def cost(self, p, board) -> Cost:
        raise NotImplementedError

    def batch_cycles(self, p, n_images: int, interface: str) -> int:
        """Loop iterations of one call on ``n_images`` images (what C simulation counts)."""
        return self.setup(p) + n_images * self.cycles(p)


def register(cls: type[ProcessingElement]) -> type[ProcessingElement]:
    """Class decorator: declare ``cls`` as the processing element of its ``kind``."""
    if cls.kind in PES:
        raise RuntimeError(f"two processing elements of kind '{cls.kind}'")
    PES[cls.kind] = cls()
    return cls


def pe_of(kind: str) -> ProcessingElement:
    try:
        return PES[kind]
    except KeyError:
        raise FpgaAccelError(f"no processing element of kind '{kind}'; known: {', '.join(PES)}") from None
