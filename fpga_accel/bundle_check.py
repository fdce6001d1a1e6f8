"""Structural checks of a manifest, before anything indexes into it.

The seal catches any edit of a compiled bundle; these checks make a manifest that was re-sealed
after an edit, or written by something other than ``fpga-accel compile``, fail with a
:class:`BundleError` naming the key, instead of a TypeError deep inside a backend. Sizes are
bounded here, before any allocation.
"""
from __future__ import annotations

import math
import re

from .errors import FpgaAccelError

#: elements of one tensor per image; far beyond any model a board can hold
MAX_ELEMENTS = 1 << 28
#: elements of one stored array (weights.npz)
MAX_ARRAY_ELEMENTS = 1 << 31
MAX_RANK = 8
DTYPES = frozenset({"bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
                    "float16", "float32", "float64"})
_HEX64 = re.compile(r"[0-9a-f]{64}\Z")
#: sections read as objects when present
OBJECTS = ("model", "board", "hardware", "partition", "quantization", "fold", "tools", "kernel", "hls", "opencl",
           "scripts", "build")


class BundleError(FpgaAccelError):
    """A bundle is missing, corrupt, tampered with, or of an unknown format version."""


class Checker:
    """Type and range checks that raise a :class:`BundleError` naming the bundle and the key."""

    def __init__(self, where):
        self.where = where

    def fail(self, key: str, what: str):
        raise BundleError(f"{self.where}: manifest key '{key}' {what}; the bundle was not written as compiled "
                          "(changed after compilation, or by another tool) — recompile the model")

    def obj(self, v, key: str) -> dict:
        if not isinstance(v, dict):
            self.fail(key, f"must be an object, got {_kind(v)}")
        return v

    def lst(self, v, key: str) -> list:
        if not isinstance(v, list):
            self.fail(key, f"must be a list, got {_kind(v)}")
        return v

    def text(self, v, key: str) -> str:
        if not isinstance(v, str):
            self.fail(key, f"must be a string, got {_kind(v)}")
        return v

    def integer(self, v, key: str, lo: int | None = None, hi: int | None = None) -> int:
        if isinstance(v, bool) or not isinstance(v, int):
            self.fail(key, f"must be an integer, got {_kind(v)}")
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            self.fail(key, f"is {v}, outside [{lo}, {hi}]")
        return v

    def positive(self, v, key: str) -> float:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
            self.fail(key, f"must be a finite positive number, got {v!r}")
        return v

    def names(self, items: list, key: str) -> list[str]:
        """The ``name`` of each object of ``items``, all strings and all different."""
        out = [self.text(self.obj(x, f"{key}[{i}]").get("name"), f"{key}[{i}].name") for i, x in enumerate(items)]
        dup = sorted({n for n in out if out.count(n) > 1})
        if dup:
            self.fail(key, f"names {dup} more than once")
        return out

    def ref(self, v, key: str, known=None) -> str:
        """A string naming one of ``known`` (any string when ``known`` is None)."""
        self.text(v, key)
        if known is not None and v not in known:
            self.fail(key, f"names '{v}', which is not defined")
        return v

    def str_list(self, v, key: str, known=None) -> list[str]:
        return [self.ref(x, f"{key}[{i}]", known) for i, x in enumerate(self.lst(v, key))]

    def shape(self, v, key: str, batch: bool = False, lo: int = 1, limit: int = MAX_ELEMENTS) -> list:
        dims = self.lst(v, key)
        if len(dims) > MAX_RANK:
            self.fail(key, f"has {len(dims)} dimensions, more than {MAX_RANK}")
        size = 1
        for i, d in enumerate(dims):
            if batch and i == 0 and isinstance(d, str):
                continue  # the batch symbol
            size *= self.integer(d, f"{key}[{i}]", lo)
            if size > limit:
                self.fail(key, f"{dims} holds more than {limit} elements")
        return dims

    def dtype(self, v, key: str) -> str:
        if v not in DTYPES:
            self.fail(key, f"is {v!r}, not one of {sorted(DTYPES)}")
        return v

    def qparams(self, t: dict, key: str) -> None:
        from .quant.qtype import parse_qtype

        try:
            qt = parse_qtype(self.text(t.get("qtype"), f"{key}.qtype"))
        except FpgaAccelError as e:
            self.fail(f"{key}.qtype", f"is not an integer type ({e})")
        self.positive(t.get("scale"), f"{key}.scale")
        self.integer(t.get("zero_point"), f"{key}.zero_point", qt.min, qt.max)

    def rel_path(self, name: str, key: str, reserved=()) -> None:
        """A relative POSIX path that stays inside the bundle."""
        parts = name.split("/")
        if (not name or name.startswith("/") or "\\" in name or any(p in ("", ".", "..") for p in parts)
                or any(ord(c) < 32 for c in name) or parts[0] in reserved):
            self.fail(key, f"lists the file name {name!r}, which is not a plain path inside the bundle")

    def digest(self, v, key: str) -> None:
        if not isinstance(v, str) or not _HEX64.match(v):
            self.fail(key, f"must be a sha256 (64 lower-case hex digits), got {v!r}")


def _kind(v) -> str:
    return "null" if v is None else {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
                                      int: "an integer", float: "a number"}.get(type(v), type(v).__name__)


def read_arrays(raw: bytes, table: dict, where) -> dict:
    """The arrays of weights.npz bytes ``raw``, each checked against the manifest's ``weights``
    table (name, dtype, shape) before its data is read: no pickle, no object arrays, nothing
    missing or extra, no allocation beyond what the table declares."""
    import io
    import zipfile

    import numpy as np
    from numpy.lib import format as npy

    def fail(what):
        raise BundleError(f"{where}/weights.npz: {what}; the bundle was not written as compiled — recompile the model")

    try:
        zf = zipfile.ZipFile(io.BytesIO(raw))
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        fail(f"not a .npz archive ({e})")
    out = {}
    with zf:
        members = {i.filename: i for i in zf.infolist()}
        names = {n[:-4] for n in members if n.endswith(".npy")}
        if len(names) != len(members) or names != set(table):
            fail(f"holds {sorted(members)}, the manifest lists {sorted(k + '.npy' for k in table)}")
        for name, spec in table.items():
            info = members[name + ".npy"]
            if info.compress_type != zipfile.ZIP_STORED:
                fail(f"array '{name}' is compressed (fpga-accel stores arrays uncompressed)")
            try:
                with zf.open(info) as f:
                    version = npy.read_magic(f)
                    if version not in ((1, 0), (2, 0)):
                        fail(f"array '{name}' has .npy format version {version}")
                    read = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
                    shape, fortran, dtype = read(f)
                    if dtype.kind not in "biuf" or dtype.name != spec["dtype"] or list(shape) != list(spec["shape"]):
                        fail(f"array '{name}' is {dtype.str}{list(shape)}, the manifest says "
                             f"{spec['dtype']}{spec['shape']}")
                    size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
                    data = f.read(size + 1)
            except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
                fail(f"array '{name}' cannot be read ({type(e).__name__}: {e})")
            if len(data) != size:
                fail(f"array '{name}' holds {len(data)} bytes of data, its shape needs {size}")
            a = np.frombuffer(bytearray(data), dtype=dtype)
            out[name] = a.reshape(shape, order="F" if fortran else "C")
    return out

