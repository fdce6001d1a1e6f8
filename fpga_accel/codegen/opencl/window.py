"""Loops over the output positions and kernel taps of a sliding window on a channels-last tensor
(Conv, MaxPool, AveragePool; 1, 2 or 3 spatial axes), and a tiny block-structured code builder."""
from __future__ import annotations

from dataclasses import dataclass


class Code:
    """Lines of C with their indentation: ``open`` a block, ``close`` it."""

    def __init__(self):
        self.lines: list[str] = []
        self.depth = 0

    def line(self, s: str) -> None:
        self.lines.append("    " * self.depth + s)

    def open(self, s: str = "") -> None:
        self.line(f"{s} {{" if s else "{")
        self.depth += 1

    def close(self, n: int = 1) -> None:
        for _ in range(n):
            self.depth -= 1
            self.line("}")

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def flat(names: list[str], sizes: list[int]) -> str:
    """C-order flat index of the coordinates ``names`` in an array of ``sizes``."""
    expr = names[0]
    for name, size in zip(names[1:], sizes[1:]):
        expr = f"({expr}) * {size} + {name}"
    return expr


@dataclass
class Window:
    in_sp: list[int]
    out_sp: list[int]
    kernel: list[int]
    strides: list[int]
    dilations: list[int]
    pads: list[int]  # ONNX order: begins, then ends (ceil_mode's overhang included)

    @classmethod
    def of(cls, config: dict, in_shape, out_shape) -> Window:
        return cls(list(in_shape[1:-1]), list(out_shape[1:-1]), list(config["kernel"]), list(config["strides"]),
                   list(config["dilations"]), list(config["pads"]))

    @property
    def n(self) -> int:
        return len(self.kernel)

    @property
    def taps(self) -> int:
        t = 1
        for k in self.kernel:
            t *= k
        return t

    def open_positions(self, code: Code) -> str:
        """Open loops over the output positions o0, o1, ...; the flat position expression."""
        for d, o in enumerate(self.out_sp):
            code.open(f"for (int o{d} = 0; o{d} < {o}; o{d}++)")
        return flat([f"o{d}" for d in range(self.n)], self.out_sp)

    def open_taps(self, code: Code) -> tuple[str, str, str]:
        """Open loops over the taps k0, k1, ... declaring input coordinates i0, i1, ...;
        ('inside the input' condition or '', flat input position, flat tap index)."""
        cond = []
        for d in range(self.n):
            code.open(f"for (int k{d} = 0; k{d} < {self.kernel[d]}; k{d}++)")
            off = f" - {self.pads[d]}" if self.pads[d] else ""
            code.line(f"const int i{d} = o{d} * {self.strides[d]}{off} + k{d} * {self.dilations[d]};")
            if self.pads[d]:
                cond.append(f"i{d} >= 0")
            if self.pads[d + self.n]:
                cond.append(f"i{d} < {self.in_sp[d]}")
        return (" && ".join(cond), flat([f"i{d}" for d in range(self.n)], self.in_sp),
                flat([f"k{d}" for d in range(self.n)], self.kernel))
