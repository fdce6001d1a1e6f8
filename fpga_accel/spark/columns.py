"""DataFrame columns ⇄ model tensors: the column schema, checked on the driver, and the Arrow
conversions the executors do.

An input column holds one image per row, in either form:

- ``array<float>`` or ``array<double>``: the image's values flat (row-major, the model input's
  shape without the batch axis, e.g. 784 values for ``[1, 28, 28]``), or nested as deep as that
  shape (``array<array<array<float>>>``);
- ``binary``: the image's values as little-endian numbers of ``binary_dtype`` (float32 by
  default: ``x.astype('<f4').tobytes()``), the same count.

Rows must not be null and must hold exactly the image's count at every level; the first row
that does not is named in the error (partition and row). Integer columns are refused: images
are preprocessed to the float values the model was trained on before they reach it.

Each model output becomes an ``array<...>`` column of its values flat (``logits`` of shape
``[N, 10]``: 10 floats per row), of the output's dtype (float32: ``array<float>``, bit for bit
what :meth:`Session.run` returns).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from .errors import SparkInputError

#: an output name used as a column name as it is; others need an explicit column name
PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
BINARY_DTYPES = ("float32", "float64")
FLOAT_ELEMENTS = ("float", "double")
#: numpy dtype of a model output → the Spark element type of its column (unsigned types widen)
SPARK_ELEMENT = {"float32": "FloatType", "float64": "DoubleType", "int8": "ByteType", "int16": "ShortType",
                 "int32": "IntegerType", "int64": "LongType", "uint8": "ShortType", "uint16": "IntegerType",
                 "uint32": "LongType", "bool": "BooleanType"}
ARROW_DTYPE = {"uint8": "int16", "uint16": "int32", "uint32": "int64"}


@dataclass(frozen=True)
class InputColumn:
    """Model input ``input`` read from DataFrame column ``column`` (``form``: binary, flat, nested)."""

    input: str
    column: str
    shape: tuple[int, ...]
    dtype: str
    form: str
    binary_dtype: str = "float32"

    @property
    def size(self) -> int:
        return math.prod(self.shape)


@dataclass(frozen=True)
class OutputColumn:
    """Model output ``output`` written to column ``column``, ``shape`` per row, flat."""

    output: str
    column: str
    shape: tuple[int, ...]
    dtype: str


def tensor_shape(entry: dict) -> tuple[int, ...]:
    """A manifest tensor's shape without its batch axis."""
    return tuple(int(d) for d in entry["shape"][1:])


# --- the driver: the DataFrame schema against the manifest ----------------------------------------
def plan_inputs(schema, manifest: dict, mapping: dict[str, str] | None, binary_dtype: str) -> list[InputColumn]:
    """The input columns, checked against ``schema`` (a pyspark StructType). ``mapping``: model
    input name → column name; default: a single-input model reads the column named as its input,
    else the DataFrame's only array or binary column."""
    from pyspark.sql import types as T

    if binary_dtype not in BINARY_DTYPES:
        raise SparkInputError(f"binary_dtype must be one of {list(BINARY_DTYPES)}, got {binary_dtype!r}")
    entries = manifest["inputs"]
    names = [e["name"] for e in entries]
    columns = {f.name: f.dataType for f in schema.fields}
    if mapping is None:
        mapping = {names[0]: _default_column(names, columns)} if len(names) == 1 else None
        if mapping is None:
            raise SparkInputError(f"the model has inputs {names}: give inputs={{input name: column name}}")
    if sorted(mapping) != sorted(names):
        raise SparkInputError(f"inputs= must map exactly the model inputs {names}, got {sorted(mapping)}")
    plan = []
    for e in entries:
        col = mapping[e["name"]]
        if col not in columns:
            raise SparkInputError(f"the DataFrame has no column '{col}' (for model input '{e['name']}'); its "
                                  f"columns are {list(columns)}")
        shape = tensor_shape(e)
        form = _form(columns[col], shape, col, e["name"], T)
        plan.append(InputColumn(e["name"], col, shape, str(e["dtype"]), form, binary_dtype))
    return plan


def _default_column(names: list[str], columns: dict) -> str:
    if names[0] in columns:
        return names[0]
    from pyspark.sql import types as T

    images = [c for c, t in columns.items() if isinstance(t, (T.ArrayType, T.BinaryType))]
    if len(images) != 1:
        raise SparkInputError(f"no column is named '{names[0]}' (the model input) and the DataFrame has "
                              f"{len(images)} array/binary columns {images}: give inputs={{'{names[0]}': column}}")
    return images[0]


def _form(dtype, shape: tuple[int, ...], col: str, name: str, T) -> str:
    if isinstance(dtype, T.BinaryType):
        return "binary"
    depth, t = 0, dtype
    while isinstance(t, T.ArrayType):
        depth, t = depth + 1, t.elementType
    want = f"binary, array<float|double> of {math.prod(shape)} values, or nested {list(shape)}"
    if depth == 0:
        raise SparkInputError(f"column '{col}' (model input '{name}') has type {dtype.simpleString()}; expected "
                              f"{want}")
    if t.typeName() not in FLOAT_ELEMENTS:
        raise SparkInputError(f"column '{col}' (model input '{name}') holds {t.simpleString()} values; the model "
                              f"takes float images: preprocess them (e.g. pixels / 255) and cast to "
                              f"array<float>")
    if depth == 1:
        return "flat"
    if depth != len(shape):
        raise SparkInputError(f"column '{col}' (model input '{name}') is nested {depth} deep; the image shape "
                              f"{list(shape)} needs 1 (flat) or {len(shape)} levels")
    return "nested"


def plan_outputs(manifest: dict, mapping: dict[str, str] | None, taken: list[str]) -> list[OutputColumn]:
    """The output columns: ``mapping`` (model output name → column name) or the output names
    themselves, which must then be plain identifiers; none may clash with ``taken``."""
    entries = manifest["outputs"]
    names = [e["name"] for e in entries]
    if mapping is not None and sorted(mapping) != sorted(names):
        raise SparkInputError(f"outputs= must map exactly the model outputs {names}, got {sorted(mapping)}")
    plan = []
    for e in entries:
        col = mapping[e["name"]] if mapping is not None else e["name"]
        if mapping is None and not PLAIN_NAME.fullmatch(col):
            raise SparkInputError(f"model output {col!r} is not a plain column name: give outputs={{name: column}}")
        if not isinstance(col, str) or not col:
            raise SparkInputError(f"output column names must be non-empty strings, got {col!r}")
        dtype = str(e["dtype"])
        if dtype not in SPARK_ELEMENT:
            raise SparkInputError(f"model output '{e['name']}' has dtype {dtype}, which no Spark column holds")
        plan.append(OutputColumn(e["name"], col, tensor_shape(e), dtype))
    cols = [p.column for p in plan]
    clash = sorted({c for c in cols if c in taken or cols.count(c) > 1})
    if clash:
        raise SparkInputError(f"output column(s) {clash} clash with kept columns or each other: rename them with "
                              "outputs={name: column} or drop them from keep=")
    return plan


def spark_schema(schema, keep: list[str], outputs: list[OutputColumn]):
    """The result's StructType: the kept columns as they are, then one array column per output."""
    from pyspark.sql import types as T

    by_name = {f.name: f for f in schema.fields}
    fields = [by_name[k] for k in keep]
    fields += [T.StructField(o.column, T.ArrayType(getattr(T, SPARK_ELEMENT[o.dtype])(), containsNull=False),
                             nullable=False) for o in outputs]
    return T.StructType(fields)


# --- the executors: Arrow columns → images, outputs → Arrow columns -----------------------------
def images(arr, spec: InputColumn, where: str) -> np.ndarray:
    """An Arrow column (one image per row) as ``(rows, *shape)``, float32 or float64 as stored (the
    Session casts to the model's dtype and names values too large for it)."""
    import pyarrow as pa

    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    n = len(arr)
    if spec.form == "binary":
        x = _binary_values(arr, spec, where)
    else:
        dims = (spec.size,) if spec.form == "flat" else spec.shape
        x = _list_values(arr, dims, spec, where)
    return x.reshape((n,) + spec.shape)


def _null_check(arr, rows_per_item: int, spec: InputColumn, where: str) -> None:
    if arr.null_count:
        first = int(np.flatnonzero(arr.is_null().to_numpy(zero_copy_only=False))[0]) // rows_per_item
        raise SparkInputError(f"column '{spec.column}' (model input '{spec.input}'): {where}, row {first} holds a "
                              "null; every row needs an image")


def _binary_values(arr, spec: InputColumn, where: str) -> np.ndarray:
    import pyarrow as pa

    if not (pa.types.is_binary(arr.type) or pa.types.is_large_binary(arr.type)):
        raise SparkInputError(f"column '{spec.column}' arrived as {arr.type}, not binary")
    _null_check(arr, 1, spec, where)
    item = np.dtype(spec.binary_dtype).newbyteorder("<")
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64 if pa.types.is_large_binary(arr.type) else np.int32)
    offsets = offsets[arr.offset:arr.offset + len(arr) + 1]
    lengths = np.diff(offsets)
    bad = np.flatnonzero(lengths != spec.size * item.itemsize)
    if bad.size:
        r = int(bad[0])
        raise SparkInputError(f"column '{spec.column}' (model input '{spec.input}'): {where}, row {r} holds "
                              f"{int(lengths[r])} bytes; an image is {spec.size} {spec.binary_dtype} values = "
                              f"{spec.size * item.itemsize} bytes (little-endian)")
    data = arr.buffers()[2]
    raw = np.frombuffer(data, dtype=np.uint8)[int(offsets[0]):int(offsets[-1])] if data is not None else np.zeros(0)
    return np.frombuffer(raw.tobytes(), dtype=item)


def _list_values(arr, dims: tuple[int, ...], spec: InputColumn, where: str) -> np.ndarray:
    import pyarrow as pa
    import pyarrow.compute as pc

    per_row = 1  # items of the current level per DataFrame row
    for d in dims:
        if not (pa.types.is_list(arr.type) or pa.types.is_large_list(arr.type)):
            raise SparkInputError(f"column '{spec.column}' arrived as {arr.type}, not a list")
        _null_check(arr, per_row, spec, where)
        lengths = pc.list_value_length(arr).to_numpy(zero_copy_only=False)
        bad = np.flatnonzero(lengths != d)
        if bad.size:
            i = int(bad[0])
            raise SparkInputError(f"column '{spec.column}' (model input '{spec.input}'): {where}, row {i // per_row} "
                                  f"holds a list of {int(lengths[i])} values where the image shape {list(spec.shape)} "
                                  f"needs {d}")
        arr, per_row = arr.flatten(), per_row * d
    _null_check(arr, per_row, spec, where)
    return arr.to_numpy(zero_copy_only=False)


def output_array(y: np.ndarray, spec: OutputColumn):
    """``(rows, *shape)`` values → an Arrow list column, one flat list per row."""
    import pyarrow as pa

    rows, k = len(y), math.prod(spec.shape)
    flat = np.ascontiguousarray(y, dtype=ARROW_DTYPE.get(spec.dtype, spec.dtype)).reshape(rows * k)
    offsets = pa.array(np.arange(0, rows * k + 1, k, dtype=np.int32))
    return pa.ListArray.from_arrays(offsets, pa.array(flat))
