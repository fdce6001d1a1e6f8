"""Where fpga-accel keeps what it builds or unpacks once per machine."""
from __future__ import annotations

import os
from pathlib import Path


def cache_dir(part: str) -> Path:
    """``$FPGA_ACCEL_CACHE/<part>`` (default cache ``~/.cache/fpga-accel``); not created here."""
    root = os.environ.get("FPGA_ACCEL_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "fpga-accel")
    return Path(root) / part
