"""The contract's integer types, re-exported: :class:`QType` lives in ``ir/qtype.py``, beside the
quantisation parameters the IR's tensors carry (the frontend records a QDQ or QONNX model's own
types without importing ``quant``)."""
from ..ir.qtype import INT8, MAX_BITS, MIN_BITS, UINT8, QType, parse_qtype

__all__ = ["INT8", "MAX_BITS", "MIN_BITS", "UINT8", "QType", "parse_qtype"]
