"""The pass interface: one pass per module, ``apply(graph) -> changed``, run to a fixed point."""
from __future__ import annotations

from typing import ClassVar

from ..errors import GraphError

_PASSES: dict[str, "Pass"] = {}


class Pass:
    """A graph rewrite. ``apply`` mutates the graph and returns whether it changed anything.

    Passes must keep the graph's outputs (names, shapes and values up to float rounding) and
    leave a graph the IR verifier accepts; tests check both for every pass.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""

    def apply(self, g) -> bool:
        raise NotImplementedError


def register_pass(cls: type[Pass]) -> type[Pass]:
    if cls.name in _PASSES:
        raise RuntimeError(f"pass {cls.name} registered twice")
    _PASSES[cls.name] = cls()
    return cls


def get_pass(name: str) -> Pass:
    try:
        return _PASSES[name]
    except KeyError:
        raise GraphError(f"no pass named '{name}'; known: {sorted(_PASSES)}") from None


def all_passes() -> dict[str, Pass]:
    return dict(_PASSES)


def run_passes(g, names: list[str], check: bool = False, max_rounds: int = 50) -> list[str]:
    """Apply the named passes in order, repeatedly, until none changes the graph.

    Returns the names of the passes that changed something (in order of application). With
    ``check`` the IR verifier runs after every pass that changed the graph.
    """
    from ..ir.verify import verify

    applied: list[str] = []
    for _ in range(max_rounds):
        changed = False
        for name in names:
            if get_pass(name).apply(g):
                changed = True
                applied.append(name)
                if check:
                    try:
                        verify(g)
                    except GraphError as e:
                        raise GraphError(f"after pass '{name}': {e}") from None
        if not changed:
            return applied
    raise GraphError(f"passes {names} did not reach a fixed point in {max_rounds} rounds")
