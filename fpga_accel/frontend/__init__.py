"""Model import: ONNX files and protos into the IR."""
from .onnx_import import import_onnx, load_onnx

__all__ = ["import_onnx", "load_onnx"]
