"""Spark runs on a local standalone cluster (``local-cluster[2,1,1024]``: two executor JVMs of
one core each, started by pip's pyspark): the executors get their ``fpga`` device through
Spark's resource scheduling, with the discovery script this package ships listing one emulator
slot per worker. 10,000 MNIST images through the two executors equal one Session bit for bit
and in order; a Python worker that dies and an executor JVM killed mid-job have their tasks
re-run, nothing lost or duplicated. One Spark cluster for the module (its start takes 10-60 s).
"""
from __future__ import annotations

import os
import shutil
import signal
import sys
from pathlib import Path

import numpy as np
import pytest

pa = pytest.importorskip("pyarrow", reason="pyarrow is not installed (pip install 'fpga-accel[spark]')")
pytest.importorskip("pyspark", reason="pyspark is not installed (pip install 'fpga-accel[spark]')")
if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
    pytest.skip("no Java runtime (Spark needs Java 17: apt-get install openjdk-17-jre-headless)",
                allow_module_level=True)

import fpga_accel
from fpga_accel.runtime import Session
from fpga_accel.spark import map_bundle
from models import data

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning")]

# the task functions below travel to the executors by value, not by module name
import pyspark.cloudpickle

pyspark.cloudpickle.register_pickle_by_value(sys.modules[__name__])

N_JOB = 10_000
PARTITIONS = 8


@pytest.fixture(scope="module")
def spark():
    from pyspark.sql import SparkSession

    script = str(Path(fpga_accel.spark.discover.__file__).with_name("discover-fpga.sh"))
    saved = {k: os.environ.get(k) for k in ("FPGA_ACCEL_SPARK_SLOTS", "FPGA_ACCEL_PYTHON")}
    # read by the discovery script in the worker and executor JVMs this process starts
    os.environ.update(FPGA_ACCEL_SPARK_SLOTS="1", FPGA_ACCEL_PYTHON=sys.executable)
    builder = SparkSession.builder.master("local-cluster[2,1,1024]").appName("fpga-accel-test")
    conf = {"spark.ui.enabled": "false", "spark.ui.showConsoleProgress": "false",
            "spark.default.parallelism": str(PARTITIONS),
            "spark.worker.resource.fpga.amount": "1", "spark.worker.resource.fpga.discoveryScript": script,
            "spark.executor.resource.fpga.amount": "1", "spark.executor.resource.fpga.discoveryScript": script,
            "spark.task.resource.fpga.amount": "1", "spark.task.maxFailures": "4"}
    for k, v in conf.items():
        builder = builder.config(k, v)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
    for k, v in saved.items():
        os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    out = tmp_path_factory.mktemp("spark") / "mnist_cnn.fpga"
    return fpga_accel.compile(data.model_path("mnist_cnn"), out, calib=data.load_calib("mnist_cnn"), progress=False)


@pytest.fixture(scope="module")
def images():
    """10k MNIST-like images: the real test and calibration images, tiled, with a little noise."""
    x, _ = data.load_test("mnist_cnn")
    real = np.concatenate([x, data.load_calib("mnist_cnn")])
    tiled = np.resize(real, (N_JOB,) + real.shape[1:])
    noise = np.random.default_rng(7).normal(0, 0.02, tiled.shape).astype(np.float32)
    return np.clip(tiled + noise, 0, 1).astype(np.float32)


@pytest.fixture(scope="module")
def reference(bundle, images):
    with Session(bundle, backend="emulator") as s:
        return s.run(images)["logits"]


def frame(spark, x: np.ndarray, binary: bool = False):
    """A DataFrame of ``id`` and ``image`` (array<float>, or binary float32 bytes), 8 partitions in order."""
    flat = x.reshape(len(x), -1)
    if binary:
        col = pa.array([r.astype("<f4").tobytes() for r in flat], type=pa.binary())
    else:
        col = pa.ListArray.from_arrays(pa.array(np.arange(0, flat.size + 1, flat.shape[1], dtype=np.int32)),
                                       pa.array(flat.reshape(-1)))
    return spark.createDataFrame(pa.table({"id": np.arange(len(x)), "image": col}))


def logits(table) -> np.ndarray:
    return np.stack(table.column("logits").to_numpy(zero_copy_only=False))


def test_10k_images_through_two_executors_equal_one_session(spark, bundle, images, reference):
    df = frame(spark, images)
    assert df.rdd.getNumPartitions() == PARTITIONS
    out = map_bundle(df, bundle, backend="emulator", fallback=None).toArrow()
    assert out.column_names == ["id", "logits"]
    assert out.column("id").to_pylist() == list(range(N_JOB))
    got = logits(out)
    assert got.dtype == np.float32 and got.shape == reference.shape and np.array_equal(got, reference)
    # both executors, each with its device; each Python worker opened one session for all its partitions
    probe = spark.range(0, 16, 1, 16).mapInArrow(worker_sessions, "executor long, opened long, device string, "
                                                                 "images long")
    placed = [r.asDict() for r in probe.collect()]
    assert {p["device"] for p in placed if p["opened"]} == {"0"}  # one slot per worker: address 0 on each
    assert len({p["executor"] for p in placed if p["opened"]}) == 2
    assert all(p["opened"] == 1 for p in placed if p["opened"])
    assert sum(p["images"] for p in placed) == N_JOB


def worker_sessions(batches):
    """What this Python worker's sessions did (a Spark task after the job, in the SQL workers' pool)."""
    from fpga_accel.spark import executor

    for _ in batches:
        pass
    devices = [k[2] for k in executor._sessions]
    row = {"executor": [executor_jvm()], "opened": [executor.opened], "device": [devices[0] if devices else None],
           "images": [sum(s.stats.images for s in executor._sessions.values())]}
    executor.close_sessions()  # a worker reused by a later probe task reports nothing twice
    executor.opened = 0
    yield pa.RecordBatch.from_pydict(row)


def test_binary_columns_give_the_same_answers(spark, bundle, images, reference):
    out = map_bundle(frame(spark, images[:2000], binary=True), bundle, backend="emulator").toArrow()
    assert out.column("id").to_pylist() == list(range(2000))
    assert np.array_equal(logits(out), reference[:2000])


def test_a_dead_worker_and_a_killed_executor_lose_and_duplicate_nothing(spark, bundle, images, reference, tmp_path):
    df = frame(spark, images)
    marks = str(tmp_path)
    schema = df.schema

    def faults(batches):
        """First attempts only: partition 2's Python worker exits, partition 5 kills its executor JVM."""
        from pyspark import TaskContext

        ctx = TaskContext.get()
        p, attempt = ctx.partitionId(), ctx.attemptNumber()
        Path(marks, f"ran-{p}-{attempt}").touch()
        first = not Path(marks, f"fault-{p}").exists()
        if p == 2 and first:
            Path(marks, f"fault-{p}").touch()
            os._exit(1)
        if p == 5 and first:
            jvm = executor_jvm()
            Path(marks, f"fault-{p}").write_text(str(jvm))
            os.kill(jvm, signal.SIGKILL)
        yield from batches

    out = map_bundle(df.mapInArrow(faults, schema), bundle, backend="emulator", fallback=None).toArrow()
    assert sorted(p.name for p in tmp_path.glob("fault-*")) == ["fault-2", "fault-5"]
    assert int((tmp_path / "fault-5").read_text()) > 0
    for p in (2, 5):  # the failed attempt and its re-run
        assert len(list(tmp_path.glob(f"ran-{p}-*"))) >= 2
    ids = out.column("id").to_numpy()
    assert len(ids) == N_JOB and np.array_equal(ids, np.arange(N_JOB))
    assert np.array_equal(logits(out), reference)


def executor_jvm() -> int:
    """The pid of the executor JVM above this Python worker (its daemon's parent)."""
    pid = os.getpid()
    while pid > 1:
        stat = Path(f"/proc/{pid}/stat").read_text()
        pid = int(stat[stat.rindex(")") + 2:].split()[1])
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        if b"CoarseGrainedExecutorBackend" in cmd:
            return pid
    raise RuntimeError("no executor JVM above this process")


def test_a_bad_row_fails_the_job_naming_column_partition_and_row(spark, bundle, images):
    import pyspark.errors

    good = images[:40].reshape(40, -1)
    rows = [pa.array(list(good), type=pa.list_(pa.float32())), pa.array([list(good[0][:783])],
                                                                          type=pa.list_(pa.float32()))]
    col = pa.concat_arrays(rows)
    df = spark.createDataFrame(pa.table({"id": np.arange(41), "image": col})).coalesce(1)
    with pytest.raises(pyspark.errors.PySparkException) as err:
        map_bundle(df, bundle, backend="emulator").toArrow()
    assert ("column 'image' (model input 'input'): partition 0 (batch from row 0), row 40 holds a list of 783 "
            "values where the image shape [1, 28, 28] needs 784") in str(err.value)
