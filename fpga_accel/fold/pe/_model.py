"""A PE model declared from functions, for headers that hold several PEs (pool.h, eltwise.h)."""
from __future__ import annotations

from types import SimpleNamespace


def pe_model(kind: str, cycles, cost, first_out=None, setup=None) -> SimpleNamespace:
    m = SimpleNamespace(KIND=kind, cycles=cycles, cost=cost)
    if first_out is not None:
        m.first_out = first_out
    if setup is not None:
        m.setup = setup
    return m
