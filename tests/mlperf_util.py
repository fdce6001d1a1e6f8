"""An MLPerf Tiny reference architecture (benchmarks/mlperf_tiny.py) compiled with the HLS generator for
a board: the bundle and its quantised model, for module-scoped fixtures."""
from __future__ import annotations

import sys

import numpy as np
import pytest

from models import data


def mlperf_bundle(tmp_path_factory, name: str, board: str):
    """The bundle of ``name`` compiled for ``board`` (skips when the benchmark's builder is absent)."""
    import fpga_accel
    from fpga_accel.codegen.hls_project import generate_hls

    sys.path.insert(0, str(data.HERE.parent / "benchmarks"))
    mlperf_tiny = pytest.importorskip("mlperf_tiny")
    tmp = tmp_path_factory.mktemp(name)
    model, calib = mlperf_tiny.write(tmp, [name])[name]
    return fpga_accel.compile(model, tmp / f"{name}.fpga", board=board, calib=np.load(calib), progress=False,
                              generators=[generate_hls])
