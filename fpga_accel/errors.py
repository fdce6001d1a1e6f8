"""Error classes. Each names what went wrong, where, and a way out.

Only the CLI turns these into exit codes; library code raises them.
"""
from __future__ import annotations

from dataclasses import dataclass


class FpgaAccelError(Exception):
    """Base class of every error fpga-accel raises on purpose."""


class ModelError(FpgaAccelError):
    """The model file cannot be read or is inconsistent (malformed, missing initialiser, ...)."""


class ShapeError(ModelError):
    """A shape cannot be resolved or does not fit an op's rule."""


class InputError(FpgaAccelError):
    """Data given by the user (inputs, calibration data) has the wrong name, shape, dtype or values."""


class GraphError(FpgaAccelError):
    """The IR verifier found an inconsistency (a bug in a pass, or a malformed graph)."""


@dataclass(frozen=True)
class Problem:
    """One reason a node cannot be compiled."""

    node: str
    op_type: str
    reason: str

    def __str__(self) -> str:
        return f"node '{self.node}' ({self.op_type}): {self.reason}"


class UnsupportedModelError(ModelError):
    """The model uses ops or attributes fpga-accel does not support. Lists every one of them."""

    def __init__(self, problems: list[Problem], model: str = "model"):
        self.problems = list(problems)
        lines = [f"{model}: {len(self.problems)} unsupported node(s):"]
        lines += [f"  - {p}" for p in self.problems]
        lines.append("Run `fpga-accel ops` for the supported ops and attributes.")
        super().__init__("\n".join(lines))
