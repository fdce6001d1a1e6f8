"""Cycle and resource models of the processing elements, one module per header of hls/.

A :class:`Stage` is one PE instance: its ``kind`` (the module's ``KIND``) and ``params``, named
like the members of the header's config struct (``MW``, ``MH``, ``PE``, ``SIMD``, ...). Each
module gives

- ``cycles(p)``: loop iterations per image, the formula in the header's comment block
  (what ``FA_CYCLE()`` counts in C simulation; one per clock at II = 1);
- ``setup(p)``: iterations per call independent of the image count (the LUT's table copy);
- ``first_out(p)``: cycles from the first input word to the first output word (latency estimate);
- ``cost(p, board)``: DSP/LUT/FF and the memories it holds (:class:`~..resources.Cost`).

The formulas and constants are in docs/fold-model.md. Cycles are exact for the C++ as written;
resources are estimates, labelled so wherever they are shown.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..resources import Cost
from . import depthwise, eltwise, mvau, pool, sliding_window, stream

MODELS = {m.KIND: m for m in (sliding_window, mvau, depthwise, *pool.KINDS, *eltwise.KINDS, *stream.KINDS)}


@dataclass
class Stage:
    """One PE of a layer: ``kind`` names its model, ``params`` its compile-time parameters."""

    layer: str
    kind: str
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """"layer_name/pe_kind", as the C simulation names its stages."""
        return f"{self.layer}/{self.kind}"

    @property
    def model(self):
        return MODELS[self.kind]

    def cycles(self) -> int:
        return int(self.model.cycles(self.params))

    def batch_cycles(self, n_images: int, interface: str = "m_axi") -> int:
        """Loop iterations for one call on ``n_images`` images (what C simulation counts); the I/O
        adapters differ between the m_axi kernel and the AXI-Stream IP."""
        if self.kind in stream.BATCH and interface == "m_axi":
            return int(stream.BATCH[self.kind](self.params, n_images))
        return self.setup() + n_images * self.cycles()

    def setup(self) -> int:
        return int(getattr(self.model, "setup", lambda p: 0)(self.params))

    def first_out(self) -> int:
        return int(getattr(self.model, "first_out", lambda p: 1)(self.params))

    def cost(self, board) -> Cost:
        return self.model.cost(self.params, board)
