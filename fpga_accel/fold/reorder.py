"""How the folder prices a layer no processing element implements (a reordering Transpose, a Pad
the pad PE cannot do): one element per cycle, through a whole-tensor buffer when it reorders.
It is an estimate of work still to be built, not a model of library code (no header)."""
from __future__ import annotations

from ..pe import ProcessingElement, register
from ..pe.cost import Cost, Memory
from ..pe.stream_utils import copy_cost


@register
class Reorder(ProcessingElement):
    kind = "reorder"

    def cycles(self, p) -> int:
        return p["N"]

    def first_out(self, p) -> int:
        return p["N"] if p.get("BUFFER") else 1

    def cost(self, p, board) -> Cost:
        c = copy_cost(p, board)
        if p.get("BUFFER"):
            c.memories = [Memory("buffer", p["N"], p["LANES"] * p["BITS"])]
        return c
