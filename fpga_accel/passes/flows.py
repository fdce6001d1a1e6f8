"""Named flows: the ordered lists of passes the compiler runs. Every registered pass is in a flow."""
from __future__ import annotations

from .base import run_passes

FLOWS: dict[str, list[str]] = {
    # float-preserving clean-up, run right after import
    "cleanup": [],
    # preparation of the float graph for quantisation and hardware lowering
    "hardware": [],
}


def run_flow(g, flow: str, check: bool = False) -> list[str]:
    return run_passes(g, FLOWS[flow], check=check)
