"""Processing elements: one module per PE of the HLS library (``hls/include/fpga_accel/``).

A module holds all of its PE: the :class:`Stage` it adds to the network (built from a layer's
integers by the op's ``lower()``: the header's config struct members, the constant arrays in the
header's layout, the stream ports), its parameters, and its cycle and resource model. Each PE
kind is declared with :func:`register`; importing this package imports every module in it, so a
new module is found without editing any list. The folder (``fold/``) and the HLS writer
(``codegen/``) are drivers over these declarations.

Shared helpers, not PEs: ``stage`` (the stage, its ports and arrays, the lowering context),
``base`` (the declaration and the registry), ``cost`` (resource arithmetic), ``packing``
(integers into stream and ROM words), ``weight_memory`` (how weight memories pack into blocks).
"""
from __future__ import annotations

import importlib
import pkgutil

from .base import PES, ProcessingElement, pe_of, register
from .stage import RENAME, Array, FoldingProblem, LowerContext, LoweringError, Port, Stage

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["PES", "RENAME", "Array", "FoldingProblem", "LowerContext", "LoweringError", "Port", "ProcessingElement",
           "Stage", "pe_of", "register"]
