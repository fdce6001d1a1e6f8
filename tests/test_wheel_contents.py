"""The installed package carries every file it reads at run time: a wheel built from this checkout
holds each HLS header (the tiled engine's units under ``tiled/`` too), the timed simulation's sources,
the OpenCL twin's kernels and the emulator's C source — a non-editable install compiles, simulates
and runs the OpenCL twin from these copies (``toolchain.HLS_ROOT`` is the package's ``hls_library``)."""
from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_wheel_holds_every_runtime_source(tmp_path):
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "-q",
                        "-w", str(tmp_path)], check=False, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    (wheel,) = tmp_path.glob("fpga_accel-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
    hls = ROOT / "hls"
    want = {f"fpga_accel/hls_library/{p.relative_to(hls).as_posix()}"
            for d in ("include", "sim") for p in (hls / d).rglob("*") if p.is_file()}
    want |= {p.relative_to(ROOT).as_posix() for ext in ("*.cl", "*.c") for p in (ROOT / "fpga_accel").rglob(ext)
             if "hls_library" not in p.parts}
    assert len(want) > 30
    assert want <= names, sorted(want - names)
