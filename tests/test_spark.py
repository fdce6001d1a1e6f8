"""Spark integration without a JVM: the column schema checks and Arrow conversions, the
partition function run directly (equal to one Session bit for bit, one session per process, a
failed session replaced), and map_bundle's planning on the driver. The discovery script is in
test_spark_discover.py, the runs on a local Spark cluster in test_spark_cluster.py."""
from __future__ import annotations

import numpy as np
import pytest

pa = pytest.importorskip("pyarrow", reason="pyarrow is not installed (pip install 'fpga-accel[spark]')")
pytest.importorskip("pyspark", reason="pyspark is not installed (pip install 'fpga-accel[spark]')")
from pyspark.sql import types as T

import fpga_accel
from fpga_accel.runtime import Session
from fpga_accel.spark import SparkInputError, executor
from fpga_accel.spark.columns import InputColumn, images, plan_inputs, plan_outputs
from fpga_accel.spark.executor import BundleMapper
from models import data

# --- the column schema ------------------------------------------------------------------------------
MANIFEST = {"inputs": [{"name": "input", "shape": ["N", 1, 28, 28], "dtype": "float32"}],
            "outputs": [{"name": "logits", "shape": ["N", 10], "dtype": "float32"}]}


def schema(**cols) -> T.StructType:
    return T.StructType([T.StructField("id", T.LongType())] + [T.StructField(k, v) for k, v in cols.items()])


def test_the_three_column_forms_are_recognised():
    flat = plan_inputs(schema(image=T.ArrayType(T.FloatType())), MANIFEST, None, "float32")[0]
    assert (flat.input, flat.column, flat.form, flat.shape, flat.size) == ("input", "image", "flat", (1, 28, 28), 784)
    nested = T.ArrayType(T.ArrayType(T.ArrayType(T.DoubleType())))
    assert plan_inputs(schema(input=nested, other=T.BinaryType()), MANIFEST, None, "float32")[0].form == "nested"
    binary = plan_inputs(schema(pix=T.BinaryType()), MANIFEST, {"input": "pix"}, "float64")[0]
    assert (binary.form, binary.binary_dtype) == ("binary", "float64")


@pytest.mark.parametrize("cols, mapping, message", [
    ({"image": T.ArrayType(T.IntegerType())}, None, "holds int values; the model takes float images"),
    ({"image": T.ArrayType(T.ArrayType(T.FloatType()))}, None, "nested 2 deep; the image shape"),
    ({"image": T.StringType()}, {"input": "image"}, "has type string; expected binary, array<float|double> of 784"),
    ({"image": T.BinaryType()}, {"input": "picture"}, "no column 'picture'"),
    ({"a": T.BinaryType(), "b": T.BinaryType()}, None, "2 array/binary columns"),
    ({"image": T.BinaryType()}, {"x": "image"}, "must map exactly the model inputs"),
])
def test_columns_that_do_not_fit_are_refused_by_name(cols, mapping, message):
    with pytest.raises(SparkInputError, match=message):
        plan_inputs(schema(**cols), MANIFEST, mapping, "float32")


def test_output_columns_are_plain_names_that_clash_with_nothing():
    assert plan_outputs(MANIFEST, None, ["id"])[0].column == "logits"
    with pytest.raises(SparkInputError, match=r"clash with kept columns"):
        plan_outputs(MANIFEST, None, ["id", "logits"])
    assert plan_outputs(MANIFEST, {"logits": "scores"}, ["id", "logits"])[0].column == "scores"
    hostile = {"inputs": MANIFEST["inputs"], "outputs": [dict(MANIFEST["outputs"][0], name="x`; DROP")]}
    with pytest.raises(SparkInputError, match="not a plain column name"):
        plan_outputs(hostile, None, [])


# --- Arrow columns to images ----------------------------------------------------------------------------
SPEC = InputColumn("input", "image", (1, 2, 3), "float32", "flat")


def test_flat_nested_and_binary_cells_give_the_same_images():
    x = np.random.default_rng(1).random((5, 1, 2, 3), dtype=np.float32)
    flat = pa.array(list(x.reshape(5, 6)), type=pa.list_(pa.float32()))
    nested = pa.array(x.tolist(), type=pa.list_(pa.list_(pa.list_(pa.float64()))))
    binary = pa.array([r.astype("<f4").tobytes() for r in x], type=pa.binary())
    assert np.array_equal(images(flat, SPEC, "p0"), x)
    assert np.array_equal(images(nested, InputColumn("input", "image", (1, 2, 3), "float32", "nested"), "p0"), x)
    got = images(binary, InputColumn("input", "image", (1, 2, 3), "float32", "binary"), "p0")
    assert got.dtype == np.float32 and np.array_equal(got, x)
    # a slice of a column (Arrow offsets not starting at 0) reads the right rows
    assert np.array_equal(images(flat.slice(2, 2), SPEC, "p0"), x[2:4])
    assert np.array_equal(images(binary.slice(3), InputColumn("input", "image", (1, 2, 3), "float32", "binary"),
                                 "p0"), x[3:])


@pytest.mark.parametrize("column, spec, message", [
    (pa.array([[0.0] * 6, None], type=pa.list_(pa.float32())), SPEC, "p7, row 1 holds a null"),
    (pa.array([[0.0] * 6, [0.0] * 5], type=pa.list_(pa.float32())), SPEC, "p7, row 1 holds a list of 5 values"),
    (pa.array([[0.0] * 6, [0.0, None] * 3], type=pa.list_(pa.float32())), SPEC, "p7, row 1 holds a null"),
    (pa.array([[[[0.0] * 3] * 2], [[[0.0] * 3, [0.0] * 2]]], type=pa.list_(pa.list_(pa.list_(pa.float32())))),
     InputColumn("input", "image", (1, 2, 3), "float32", "nested"), "p7, row 1 holds a list of 2 values"),
    (pa.array([b"\0" * 24, b"\0" * 20], type=pa.binary()),
     InputColumn("input", "image", (1, 2, 3), "float32", "binary"), "p7, row 1 holds 20 bytes; an image is 6"),
])
def test_bad_rows_are_named(column, spec, message):
    with pytest.raises(SparkInputError, match=message):
        images(column, spec, "p7")


# --- the partition function, run directly --------------------------------------------------------------
@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    out = tmp_path_factory.mktemp("spark") / "mnist_cnn.fpga"
    return fpga_accel.compile(data.model_path("mnist_cnn"), out, calib=data.load_calib("mnist_cnn"), progress=False)


def mapper(bundle, **kw) -> BundleMapper:
    spec = InputColumn("input", "image", (1, 28, 28), "float32", "flat")
    return BundleMapper(str(bundle.path), [spec], plan_outputs(bundle.manifest, None, ["id"]), ["id"], **kw)


def arrow_batches(x: np.ndarray, start: int, step: int):
    for s in range(0, len(x), step):
        part = x[s:s + step]
        yield pa.RecordBatch.from_arrays(
            [pa.array(np.arange(start + s, start + s + len(part))),
             pa.array(list(part.reshape(len(part), -1)), type=pa.list_(pa.float32()))], names=["id", "image"])


def test_partitions_equal_one_session_and_share_its_session(bundle):
    x, _ = data.load_test("mnist_cnn")
    with Session(bundle) as s:
        want = s.run(x)["logits"]
    executor.close_sessions()
    before = executor.opened
    m = mapper(bundle, backend="csim", fallback="emulator", session_options={"batch_size": 64})
    half = len(x) // 2
    out = list(m(arrow_batches(x[:half], 0, 100))) + list(m(arrow_batches(x[half:], half, 77)))
    table = pa.Table.from_batches(out)
    assert table.column_names == ["id", "logits"]
    assert table.column("id").to_pylist() == list(range(len(x)))
    got = np.stack(table.column("logits").to_numpy(zero_copy_only=False))
    assert got.dtype == np.float32 and np.array_equal(got, want)
    assert executor.opened - before == 1  # two partitions, one session (the fallback: no device assigned)
    (session,) = executor._sessions.values()
    assert session.backend.name == "emulator" and session.batch_size == 64
    assert session.stats.images == len(x)
    executor.close_sessions()


def test_without_a_device_or_fallback_the_task_says_what_to_set(bundle):
    x, _ = data.load_test("mnist_cnn")
    with pytest.raises(SparkInputError, match=r"no 'fpga' resource.*spark.task.resource.fpga.amount=1"):
        list(mapper(bundle, fallback=None)(arrow_batches(x[:4], 0, 4)))


def test_values_the_session_refuses_name_the_rows(bundle):
    x, _ = data.load_test("mnist_cnn")
    x = x[:6].copy()
    x[4, 0, 3, 3] = np.nan
    with pytest.raises(SparkInputError, match=r"rows 0\.\.5: input 'input' contains 1 NaN/Inf value\(s\) \(first "
                                              r"in sample 4\)"):
        list(mapper(bundle)(arrow_batches(x, 0, 6)))
    executor.close_sessions()



def test_a_failing_session_is_discarded_so_the_retry_opens_a_new_one(bundle, monkeypatch):
    x, _ = data.load_test("mnist_cnn")
    executor.close_sessions()
    m = mapper(bundle)
    list(m(arrow_batches(x[:4], 0, 4)))
    (first,) = executor._sessions.values()

    def broken(*a, **k):
        raise RuntimeError("device lost")

    monkeypatch.setattr(first, "run", broken)
    with pytest.raises(RuntimeError, match="device lost"):
        list(m(arrow_batches(x[:4], 0, 4)))
    assert first.closed and not executor._sessions
    out = pa.Table.from_batches(list(m(arrow_batches(x[:4], 0, 4))))  # the retry: a new session
    (second,) = executor._sessions.values()
    assert second is not first and out.num_rows == 4
    executor.close_sessions()


def test_float64_cells_are_cast_by_the_session_with_its_checks(bundle):
    x, _ = data.load_test("mnist_cnn")
    spec = InputColumn("input", "image", (1, 28, 28), "float32", "flat")
    cells = pa.array(list(x[:3].reshape(3, -1).astype(np.float64)), type=pa.list_(pa.float64()))
    got = images(cells, spec, "p0")
    assert got.dtype == np.float64 and np.array_equal(got, x[:3])
    big = x[:2].reshape(2, -1).astype(np.float64)
    big[1, 5] = 1e300
    batch = pa.RecordBatch.from_arrays([pa.array([0, 1]), pa.array(list(big), type=pa.list_(pa.float64()))],
                                       names=["id", "image"])
    with pytest.raises(SparkInputError, match=r"rows 0\.\.1: input 'input' holds values too large for float32"):
        list(mapper(bundle)([batch]))
    executor.close_sessions()


class FakeFrame:
    """What map_bundle reads of a DataFrame on the driver: its schema, and mapInArrow."""

    def __init__(self, schema):
        self.schema = schema

    def mapInArrow(self, fn, schema):
        self.fn, self.result_schema = fn, schema
        return self


def test_map_bundle_plans_the_columns_on_the_driver(bundle):
    from fpga_accel.spark import map_bundle

    df = FakeFrame(schema(image=T.ArrayType(T.FloatType()), label=T.IntegerType()))
    out = map_bundle(df, bundle.path, outputs={"logits": "scores"}, backend="emulator", ship=False,
                     session_options={"batch_size": 32})
    assert out.result_schema.fieldNames() == ["id", "label", "scores"]
    assert out.result_schema["scores"].dataType == T.ArrayType(T.FloatType(), containsNull=False)
    assert out.fn.keep == ["id", "label"] and out.fn.inputs[0].form == "flat" and out.fn.shipped is None
    assert map_bundle(df, bundle.path, keep=["id"], ship=False).result_schema.fieldNames() == ["id", "logits"]
    with pytest.raises(SparkInputError, match=r"keep= names column\(s\) \['nope'\]"):
        map_bundle(df, bundle.path, keep=["nope"], ship=False)
    with pytest.raises(fpga_accel.errors.InputError, match="session_options may hold"):
        map_bundle(df, bundle.path, session_options={"device": 3}, ship=False)
    with pytest.raises(SparkInputError, match="cannot broadcast the bundle .* pass ship=False"):
        map_bundle(df, bundle.path)  # no SparkContext behind this frame, as under Spark Connect


def test_a_two_input_model_needs_its_columns_named():
    two = {"inputs": [{"name": "left", "shape": ["N", 4], "dtype": "float32"},
                      {"name": "right", "shape": ["N", 2, 2], "dtype": "float32"}], "outputs": MANIFEST["outputs"]}
    cols = schema(a=T.ArrayType(T.FloatType()), b=T.BinaryType())
    with pytest.raises(SparkInputError, match=r"the model has inputs \['left', 'right'\]: give inputs="):
        plan_inputs(cols, two, None, "float32")
    plan = plan_inputs(cols, two, {"right": "b", "left": "a"}, "float32")
    assert [(c.input, c.column, c.form, c.size) for c in plan] == [("left", "a", "flat", 4), ("right", "b", "binary", 4)]
