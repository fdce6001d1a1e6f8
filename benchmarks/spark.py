"""Spark throughput: one bundle over a DataFrame of images through two executors, beside one Session.

Starts a local standalone Spark cluster (``local-cluster[2,1,1024]``: two executor JVMs of one
core each, one emulator ``fpga`` slot each through the discovery script) and times
:func:`fpga_accel.spark.map_bundle` over ``--images`` MNIST-like images in ``--partitions``
partitions: the first run (Python workers start, sessions open) and then ``--repeats`` warm runs
(best and median images/s), each written to Spark's ``noop`` sink (the executors' work, without
collecting to the driver) and once collected to the driver as Arrow, with the images in an
``array<float>`` column and then in a ``binary`` one. Beside each, the same images moved to the
Python workers and dropped (Spark's own cost of the column form). The same images through one
``Session.run`` in this process, in the same run, are the baseline. Each emulator uses one thread
(``FPGA_ACCEL_THREADS=1``), so a session stands for one device fed by one core.

    python benchmarks/spark.py --json benchmarks/results/spark.json
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import data, machine, tiled, write_json

# before Spark starts: its executors and their Python workers inherit the environment
os.environ.update(FPGA_ACCEL_THREADS="1", FPGA_ACCEL_SPARK_SLOTS="1", FPGA_ACCEL_PYTHON=sys.executable)


def start_spark(partitions: int):
    from pyspark.sql import SparkSession

    from fpga_accel.spark import discover

    script = str(Path(discover.__file__).with_name("discover-fpga.sh"))
    conf = {"spark.ui.enabled": "false", "spark.ui.showConsoleProgress": "false",
            "spark.default.parallelism": str(partitions),
            "spark.worker.resource.fpga.amount": "1", "spark.worker.resource.fpga.discoveryScript": script,
            "spark.executor.resource.fpga.amount": "1", "spark.executor.resource.fpga.discoveryScript": script,
            "spark.task.resource.fpga.amount": "1"}
    b = SparkSession.builder.master("local-cluster[2,1,1024]").appName("fpga-accel-benchmark")
    for k, v in conf.items():
        b = b.config(k, v)
    t = time.perf_counter()
    spark = b.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark, time.perf_counter() - t


def frame(spark, x: np.ndarray, form: str):
    """``id`` and ``image`` as ``array<float>`` (form "array") or float32 bytes ("binary"), cached."""
    import pyarrow as pa

    flat = x.reshape(len(x), -1)
    if form == "binary":
        col = pa.array([r.astype("<f4").tobytes() for r in flat], type=pa.binary())
    else:
        col = pa.ListArray.from_arrays(pa.array(np.arange(0, flat.size + 1, flat.shape[1], dtype=np.int32)),
                                       pa.array(flat.reshape(-1)))
    return spark.createDataFrame(pa.table({"id": np.arange(len(x)), "image": col})).cache()


def ids_only(batches):
    """The images read into the Python workers and dropped: Spark's own cost of moving them."""
    import pyarrow as pa

    for b in batches:
        yield pa.RecordBatch.from_arrays([b.column(0)], names=["id"])


def timed(job, repeats: int) -> list[float]:
    """Seconds of 1 + ``repeats`` runs of ``job`` into Spark's noop sink (the first starts the workers)."""
    runs = []
    for _ in range(1 + repeats):
        t = time.perf_counter()
        job.write.format("noop").mode("overwrite").save()
        runs.append(time.perf_counter() - t)
    return runs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="mnist_cnn")
    ap.add_argument("--images", type=int, default=10_000)
    ap.add_argument("--partitions", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", metavar="PATH", help="write the figures here")
    args = ap.parse_args()

    import fpga_accel
    from fpga_accel import Session
    from fpga_accel.spark import map_bundle

    x_all, _ = data.load_test(args.model)
    x = tiled(x_all, args.images)
    out = {"machine": machine(("pyspark", "pyarrow")), "model": args.model, "images": args.images,
           "partitions": args.partitions, "executors": 2, "emulator_threads": 1}
    with tempfile.TemporaryDirectory() as tmp:
        bundle = fpga_accel.compile(data.model_path(args.model), Path(tmp) / f"{args.model}.fpga",
                                    calib=data.load_calib(args.model), progress=False)
        with Session(bundle) as s:
            s.run(x[:256])
            times = []
            for _ in range(args.repeats):
                t = time.perf_counter()
                want = s.run(x)
                times.append(time.perf_counter() - t)
        base = args.images / min(times)
        spark, startup = start_spark(args.partitions)
        forms = {}
        try:
            for form in ("array", "binary"):
                df = frame(spark, x, form)
                df.count()  # the images cached on the executors before any timing
                moved = timed(df.mapInArrow(ids_only, "id long"), args.repeats)
                job = map_bundle(df, bundle, backend="emulator", fallback=None)
                runs = timed(job, args.repeats)
                t = time.perf_counter()
                got = job.toArrow()
                collect = time.perf_counter() - t
                same = np.array_equal(np.stack(got.column("logits").to_numpy(zero_copy_only=False)),
                                      want["logits"]) and got.column("id").to_pylist() == list(range(args.images))
                warm = [args.images / r for r in runs[1:]]
                forms[form] = {"first_run_s": round(runs[0], 2), "best_images_per_s": round(max(warm), 1),
                               "median_images_per_s": round(float(np.median(warm)), 1),
                               "images_moved_only_per_s": round(args.images / min(moved[1:]), 1),
                               "collected_images_per_s": round(args.images / collect, 1),
                               "equal_to_one_session": bool(same)}
                df.unpersist()
        finally:
            spark.stop()
    out.update({"spark_startup_s": round(startup, 1), "single_session_images_per_s": round(base, 1),
                "columns": forms, "load_average_at_end": list(os.getloadavg())})
    print(f"{args.model}, {args.images} images in {args.partitions} partitions, 2 executors (local-cluster), "
          f"emulator with 1 thread each; Spark start-up {startup:.1f} s")
    print(f"  one Session in this process: {base:9.1f} images/s (best of {args.repeats})")
    for form, r in forms.items():
        print(f"  {form:6} column, 2 executors: {r['best_images_per_s']:9.1f} images/s best "
              f"({r['median_images_per_s']:.1f} median; first run {r['first_run_s']} s); images moved to the "
              f"workers and dropped {r['images_moved_only_per_s']:.1f}/s; collected to the driver "
              f"{r['collected_images_per_s']:.1f}/s; equal to one Session: {r['equal_to_one_session']}")
    print(f"  load average at the end {os.getloadavg()[0]:.1f}")
    if args.json:
        write_json(args.json, out)
        print(f"written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
