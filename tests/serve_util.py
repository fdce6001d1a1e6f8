"""Shared piece of the HTTP service tests: the mlp example compiled once per test module."""
from __future__ import annotations

import fpga_accel
from models import data


def compile_mlp(tmp_path_factory) -> str:
    p = tmp_path_factory.mktemp("serve") / "mlp.fpga"
    fpga_accel.compile(data.model_path("mlp"), p, calib=data.HERE / "mlp" / "calib.npz", progress=False)
    return str(p)
