"""Spark: run a compiled bundle over a DataFrame on the executors' FPGA devices.

:func:`map_bundle` checks the DataFrame's columns against the bundle on the driver, then runs
each partition as one ``mapInArrow`` task (:class:`~fpga_accel.spark.executor.BundleMapper`):
Arrow batches of images in, the model's outputs as new columns out, row for row and in order.
Each executor's Python worker keeps one Session per device across partitions; the device is
the ``fpga`` address Spark's resource scheduling gave the task, found on each worker by the
discovery script this package ships (:mod:`fpga_accel.spark.discover`).

pyspark and pyarrow (the ``spark`` extra) are imported on first use only: ``import
fpga_accel.spark`` needs numpy alone, and a missing pyspark raises :class:`SparkMissing` with
the install line.
"""
from . import discover, executor
from .dataframe import map_bundle
from .errors import SparkInputError, SparkMissing

__all__ = ["SparkInputError", "SparkMissing", "discover", "executor", "map_bundle"]
