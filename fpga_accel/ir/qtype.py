"""Integer types of the contract: N-bit signed or unsigned, N = 2..16.

A :class:`QType` knows its value range, the numpy dtype that stores it on the host, the HLS type
that holds it in hardware (``ap_int<N>`` / ``ap_uint<N>``) and the C storage type of the native host.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ..errors import InputError

MIN_BITS, MAX_BITS = 2, 16
_NAME = re.compile(r"^(u|i|uint|int)(\d+)$")


@dataclass(frozen=True)
class QType:
    """An N-bit integer type: ``QType(8, signed=True)`` is int8, ``QType(4, signed=False)`` is uint4.

    Values are stored on the host in the smallest numpy integer dtype that holds them
    (int8/uint8 up to 8 bits, int16/uint16 up to 16 bits); a 4-bit type lives in an int8 array
    whose values stay inside [min, max].
    """

    bits: int
    signed: bool = True

    def __post_init__(self):
        if isinstance(self.bits, bool) or not isinstance(self.bits, (int, np.integer)):
            raise InputError(f"QType bits must be an integer, got {self.bits!r}")
        if not MIN_BITS <= self.bits <= MAX_BITS:
            raise InputError(f"QType bits must be in {MIN_BITS}..{MAX_BITS}, got {self.bits}; "
                             f"use e.g. 'int8' or 'uint4'")
        if not isinstance(self.signed, (bool, np.bool_)):
            raise InputError(f"QType signed must be True or False, got {self.signed!r}")
        object.__setattr__(self, "bits", int(self.bits))
        object.__setattr__(self, "signed", bool(self.signed))

    @property
    def min(self) -> int:
        return -(1 << (self.bits - 1)) if self.signed else 0

    @property
    def max(self) -> int:
        return (1 << (self.bits - 1)) - 1 if self.signed else (1 << self.bits) - 1

    @property
    def levels(self) -> int:
        """Number of representable values, 2^bits."""
        return 1 << self.bits

    @property
    def dtype(self) -> np.dtype:
        """numpy storage dtype on the host."""
        width = 8 if self.bits <= 8 else 16
        return np.dtype(f"{'' if self.signed else 'u'}int{width}")

    @property
    def name(self) -> str:
        """Canonical name, e.g. ``int8``, ``uint4``; :func:`parse_qtype` reads it back."""
        return f"{'' if self.signed else 'u'}int{self.bits}"

    @property
    def hls(self) -> str:
        """Vitis HLS arbitrary-precision type, e.g. ``ap_int<8>``."""
        return f"ap_{'' if self.signed else 'u'}int<{self.bits}>"

    @property
    def c_name(self) -> str:
        """C storage type of the native host, e.g. ``int8_t`` (the same width as :attr:`dtype`)."""
        return f"{self.dtype.name}_t"

    def __str__(self) -> str:
        return self.name

    @classmethod
    def parse(cls, spec: QType | str) -> QType:
        """Same as :func:`parse_qtype`."""
        return parse_qtype(spec)


def parse_qtype(spec: QType | str) -> QType:
    """Read ``"int8"``, ``"uint4"``, ``"i6"``, ``"u3"`` (case-insensitive); a QType passes through."""
    if isinstance(spec, QType):
        return spec
    if not isinstance(spec, str):
        raise InputError(f"expected a QType or a type name like 'int8', got {spec!r}")
    m = _NAME.match(spec.strip().lower())
    if m is None:
        raise InputError(f"cannot read integer type {spec!r}; write 'intN' or 'uintN' (or 'iN'/'uN') "
                         f"with N in {MIN_BITS}..{MAX_BITS}")
    return QType(int(m.group(2)), signed=not m.group(1).startswith("u"))


INT8 = QType(8, True)
UINT8 = QType(8, False)
