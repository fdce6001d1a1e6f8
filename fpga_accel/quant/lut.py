"""Lookup tables for elementwise nonlinearities (Sigmoid, Tanh, HardSigmoid, LeakyRelu, any float fn).

A table has one entry per input integer, 2^N entries for an N-bit input. Entry i belongs to the
input integer q = in_qtype.min + i (so index = q − in_qtype.min: 0 is the most negative value of a
signed type, and q itself for an unsigned one). Each entry is quantize(fn(dequantize(q))), with
fn evaluated in float64; the table is built at compile time and hardware only indexes it.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..errors import InputError
from .arith import dequantize, quantize
from .params import QParams
from .qtype import QType, parse_qtype


def make_lut(fn: Callable[[np.ndarray], np.ndarray], in_params: QParams, out_params: QParams, *,
             name: str = "lut") -> np.ndarray:
    """Table of 2^N output integers (dtype of ``out_params.qtype``) indexed by q_in − in_qtype.min."""
    if not isinstance(in_params, QParams) or not isinstance(out_params, QParams):
        raise InputError(f"layer '{name}': a lookup table needs per-tensor QParams for input and output")
    qt = in_params.qtype
    q_in = np.arange(qt.min, qt.max + 1, dtype=np.int64)
    x = dequantize(q_in, in_params, dtype=np.float64)
    y = np.asarray(fn(x), dtype=np.float64)
    if y.shape != x.shape:
        raise InputError(f"layer '{name}': the table function must be elementwise; it mapped {x.shape} to {y.shape}")
    if np.isnan(y).any():
        i = int(np.flatnonzero(np.isnan(y))[0])
        raise InputError(f"layer '{name}': the table function gives NaN at input {float(x[i])!r} (integer {q_in[i]})")
    return quantize(y, out_params, name=name)


def apply_lut(q, lut: np.ndarray, in_qtype: QType | str) -> np.ndarray:
    """lut[q − in_qtype.min] for every element of the integer array ``q``."""
    qt = parse_qtype(in_qtype)
    lut = np.asarray(lut)
    if lut.shape != (qt.levels,):
        raise InputError(f"a lookup table for {qt} needs {qt.levels} entries, got shape {lut.shape}")
    q = np.asarray(q)
    if q.dtype.kind not in "iu":
        raise InputError(f"lookup table input must be integers, got dtype {q.dtype}")
    if q.size and (q.min() < qt.min or q.max() > qt.max):
        raise InputError(f"lookup table input {q.min()}..{q.max()} is outside {qt} [{qt.min}, {qt.max}]")
    return lut[q.astype(np.int64) - qt.min]
