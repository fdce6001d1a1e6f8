"""The wheel carries what a non-editable install needs: the HLS library headers the code
generator copies into every bundle, the board data, and the C source of the emulator's native
convolution."""
import subprocess
import sys
import zipfile

import pytest

from conftest import ROOT
from fpga_accel.codegen.top import HEADERS


@pytest.mark.slow
def test_wheel_holds_the_hls_headers_and_board_files(tmp_path):
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation",
                        "-q", "-w", str(tmp_path)], capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        pytest.fail(f"pip wheel failed:\n{r.stderr[-2000:]}")
    (wheel,) = tmp_path.glob("fpga_accel-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for h in HEADERS:
        assert f"fpga_accel/hls_library/include/fpga_accel/{h}" in names, h
    assert "fpga_accel/hls_library/sim/ap_axi_sdata.h" in names
    assert "fpga_accel/fold/boards/pynq-z2.json" in names
    assert "fpga_accel/emulator/fastconv.c" in names  # the emulator's native convolution, built on first use
