"""Folding: the cycle and resource model of every processing element, the auto-folder, boards.

``fold_model(qmodel, board)`` picks PE / SIMD per layer; ``apply_to_manifest`` writes the result
into a bundle's manifest. Every resource and timing figure here is an estimate from the model in
docs/fold-model.md, not a synthesis result.
"""
from __future__ import annotations

from .boards import Board, board_names, get_board
from .folder import FoldError, FoldResult, fold_model
from .summary import apply_to_manifest, fold_summary

__all__ = ["Board", "FoldError", "FoldResult", "apply_to_manifest", "board_names", "fold_model", "fold_summary",
           "get_board"]
