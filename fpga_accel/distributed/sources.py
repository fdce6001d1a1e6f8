"""Datasets a distributed run reads in slices: numpy arrays, a ``.npy`` / ``.npz`` file, a
directory of ``.npy`` files, Parquet files.

Every source knows its length and reads ``[start, stop)`` as ``{input name: array}`` with the
batch on axis 0, so the driver never holds more than the batches in flight (files are
memory-mapped or read by row group).
"""
from __future__ import annotations

import os
from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError


@dataclass(frozen=True)
class InputSpec:
    """One model input as the source must provide it: name and per-sample shape."""

    name: str
    shape: tuple[int, ...]


def input_specs(manifest: dict, raw: bool = False) -> list[InputSpec]:
    """The model inputs (with ``raw``: the hardware inputs) listed in a bundle's manifest."""
    entries = manifest["hardware"]["inputs"] if raw else manifest["inputs"]
    return [InputSpec(t["name"], tuple(int(d) for d in t["shape"][1:])) for t in entries]


class ArraySource:
    """Arrays already in memory (or memory-mapped), keyed by input name."""

    def __init__(self, arrays: Mapping[str, np.ndarray], where: str = "the input arrays"):
        self.arrays, self.where = dict(arrays), where
        sizes = {k: len(v) for k, v in self.arrays.items()}
        if len(set(sizes.values())) > 1:
            raise InputError(f"{where}: inputs hold different numbers of samples: {sizes}")
        self.n = next(iter(sizes.values()), 0)

    def __len__(self) -> int:
        return self.n

    def read(self, start: int, stop: int) -> dict[str, np.ndarray]:
        return {k: np.ascontiguousarray(v[start:stop]) for k, v in self.arrays.items()}


class NpyDirSource:
    """A directory of ``.npy`` files, taken in sorted name order (zero-pad numbered names). A
    file holds one sample (the input's shape) or a batch of them (one more axis, first)."""

    def __init__(self, path: Path, spec: InputSpec):
        self.path, self.spec = Path(path), spec
        self.files = sorted(p for p in self.path.iterdir() if p.suffix == ".npy" and p.is_file())
        if not self.files:
            raise InputError(f"{self.path}: no .npy files in this directory")
        counts = []
        for f in self.files:
            shape = _npy_shape(f)
            if shape == spec.shape:
                counts.append(1)
            elif shape[1:] == spec.shape:
                counts.append(shape[0])
            else:
                raise InputError(f"{f}: holds an array of shape {shape}; input '{spec.name}' needs {spec.shape} "
                                 f"(one sample) or (N, {', '.join(map(str, spec.shape))}) (a batch)")
        self.starts = np.concatenate([[0], np.cumsum(counts)]).astype(int).tolist()

    def __len__(self) -> int:
        return self.starts[-1]

    def read(self, start: int, stop: int) -> dict[str, np.ndarray]:
        parts = []
        i = bisect_right(self.starts, start) - 1
        while start < stop:
            lo, hi = self.starts[i], self.starts[i + 1]
            x = np.load(self.files[i], mmap_mode="r", allow_pickle=False)
            x = x.reshape((hi - lo,) + self.spec.shape)
            parts.append(np.asarray(x[start - lo:min(stop, hi) - lo]))
            start, i = min(stop, hi), i + 1
        return {self.spec.name: np.concatenate(parts) if len(parts) > 1 else np.ascontiguousarray(parts[0])}


class ParquetSource:
    """Parquet file(s) (a file or a directory of ``*.parquet``, sorted by name), one row per sample.

    Each input is the column of its name (or the only column of a single-input model); a cell is
    a list (nested or flat) of ``prod(shape)`` numbers, or a fixed-shape tensor. Needs pyarrow.
    """

    def __init__(self, path: Path, specs: list[InputSpec]):
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise InputError(f"{path}: reading Parquet needs the Python package 'pyarrow'; install it with: "
                             "pip install pyarrow (the 'ray' extra includes it)") from None
        path = Path(path)
        self.files = sorted(path.glob("*.parquet")) if path.is_dir() else [path]
        if not self.files:
            raise InputError(f"{path}: no .parquet files in this directory")
        self.specs = specs
        self.groups = []  # (file index, row group, first row)
        row = 0
        for i, f in enumerate(self.files):
            meta = pq.ParquetFile(f).metadata
            for g in range(meta.num_row_groups):
                self.groups.append((i, g, row))
                row += meta.row_group(g).num_rows
        self.n = row
        cols = pq.ParquetFile(self.files[0]).schema_arrow.names
        if len(specs) == 1 and specs[0].name not in cols and len(cols) == 1:
            self.columns = {specs[0].name: cols[0]}
        else:
            missing = [s.name for s in specs if s.name not in cols]
            if missing:
                raise InputError(f"{self.files[0]}: no column for input(s) {missing}; the file has columns {cols}")
            self.columns = {s.name: s.name for s in specs}
        self._cache: tuple | None = None  # the last row group read (batches rarely align with groups)

    def __len__(self) -> int:
        return self.n

    def _group(self, k: int):
        if self._cache is None or self._cache[0] != k:
            import pyarrow.parquet as pq

            i, g, _ = self.groups[k]
            table = pq.ParquetFile(self.files[i]).read_row_group(g, columns=list(set(self.columns.values())))
            self._cache = (k, {s.name: _column(table.column(self.columns[s.name]), s, self.files[i])
                               for s in self.specs})
        return self._cache[1]

    def read(self, start: int, stop: int) -> dict[str, np.ndarray]:
        firsts = [g[2] for g in self.groups]
        k = bisect_right(firsts, start) - 1
        parts: dict[str, list] = {s.name: [] for s in self.specs}
        while start < stop:
            lo = firsts[k]
            hi = firsts[k + 1] if k + 1 < len(firsts) else self.n
            arrays = self._group(k)
            for name, x in arrays.items():
                parts[name].append(x[start - lo:min(stop, hi) - lo])
            start, k = min(stop, hi), k + 1
        return {name: np.concatenate(p) if len(p) > 1 else p[0] for name, p in parts.items()}


def _column(col, spec: InputSpec, where: Path) -> np.ndarray:
    """A pyarrow column of list / tensor cells → (rows, *shape) numpy array."""
    import pyarrow as pa

    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    rows = len(arr)
    if isinstance(arr, pa.ExtensionArray):  # fixed-shape tensors (Arrow's or Ray Data's)
        arr = arr.storage
    while pa.types.is_list(arr.type) or pa.types.is_large_list(arr.type) or pa.types.is_fixed_size_list(arr.type):
        arr = arr.flatten()
    if not (pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type)) or arr.null_count:
        raise InputError(f"{where}: column for input '{spec.name}' holds {col.type} cells; expected lists of "
                         "numbers without nulls")
    flat = arr.to_numpy(zero_copy_only=False)
    size = int(np.prod(spec.shape))
    if flat.size != rows * size:
        raise InputError(f"{where}: column for input '{spec.name}' holds {flat.size} numbers in {rows} rows; "
                         f"each row must hold {size} (shape {spec.shape})")
    return flat.reshape((rows,) + spec.shape)


def _npy_shape(path: Path) -> tuple[int, ...]:
    try:
        return tuple(np.load(path, mmap_mode="r", allow_pickle=False).shape)
    except (OSError, ValueError) as e:
        raise InputError(f"{path}: cannot read as .npy ({e})") from None


def open_source(data, specs: list[InputSpec]):
    """A source for ``data``: an array (single-input models), ``{name: array}``, a path to a
    ``.npy`` / ``.npz`` file, a ``.parquet`` file, or a directory of ``.npy`` or ``.parquet``
    files; a source (anything with ``read(start, stop)`` and ``len``) is returned as it is."""
    names = [s.name for s in specs]
    if hasattr(data, "read") and hasattr(data, "__len__"):  # already a source
        return data
    if isinstance(data, Mapping):
        return ArraySource(data)
    if isinstance(data, np.ndarray):
        if len(specs) != 1:
            raise InputError(f"the model has inputs {names}; pass a dict keyed by input name")
        return ArraySource({names[0]: data})
    if not isinstance(data, (str, os.PathLike)):
        raise InputError(f"cannot read inputs from a {type(data).__name__}; pass an array, a dict of arrays or a path")
    path = Path(data)
    if path.is_dir():
        if any(path.glob("*.parquet")):
            return ParquetSource(path, specs)
        if len(specs) != 1:
            raise InputError(f"{path}: a directory of .npy files feeds single-input models; the model has inputs "
                             f"{names}: give a .npz keyed by input name or Parquet with one column per input")
        return NpyDirSource(path, specs[0])
    if not path.is_file():
        raise InputError(f"{path}: input file or directory not found")
    if path.suffix == ".parquet":
        return ParquetSource(path, specs)
    if path.suffix == ".npy":
        if len(specs) != 1:
            raise InputError(f"{path}: the model has inputs {names}; give a .npz keyed by input name")
        return ArraySource({names[0]: np.load(path, mmap_mode="r", allow_pickle=False)}, str(path))
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as z:
            missing = [n for n in names if n not in z.files]
            if missing:
                raise InputError(f"{path}: no array for input(s) {missing}; found keys {sorted(z.files)}")
            return ArraySource({n: z[n] for n in names}, str(path))
    raise InputError(f"{path}: unknown input format; use .npy, .npz, .parquet or a directory of .npy / .parquet")
