"""Model import: ONNX files and protos into the IR.

The importer looks ops up in the op registry (``ir/registry.py``); importing ``fpga_accel.ops``
here, once, is what fills it.
"""
from .. import ops  # noqa: F401  (registers every op)
from .onnx_import import import_onnx, load_onnx

__all__ = ["import_onnx", "load_onnx"]
