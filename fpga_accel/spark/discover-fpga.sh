#!/bin/sh
# Spark resource discovery for FPGAs: give this file as spark.executor.resource.fpga.discoveryScript
# (and spark.worker.resource.fpga.discoveryScript on a standalone cluster). It prints one line,
# {"name":"fpga","addresses":["0",...]}. The interpreter: $FPGA_ACCEL_PYTHON, else $PYSPARK_PYTHON, else python3.
exec "${FPGA_ACCEL_PYTHON:-${PYSPARK_PYTHON:-python3}}" -m fpga_accel.spark.discover "$@"
