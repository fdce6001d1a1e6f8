"""A .hwh from a Vivado newer than the board's PYNQ parser: the build records the Vivado release and
warns (the board files' pynq_image / vivado_max), the pynq backend warns when it loads such an
overlay (by the running pynq's version where it is known, else by the board file)."""
from __future__ import annotations

import shutil
import warnings

import pytest
from pynq_util import compile_axis_bundle, drop_pynq, place_overlay, use_fake_pynq
from stand_ins.helpers import compile_bundle, use_stand_ins

from fpga_accel import Session
from fpga_accel.bundle_bitstream import RECORD
from fpga_accel.flow import build
from fpga_accel.fold.boards import get_board
from fpga_accel.hwh_compat import HwhVersionWarning, check_overlay_release, newer_than_image, vivado_of_pynq


def test_board_facts():
    for name in ("pynq-z2", "zcu104"):
        b = get_board(name)
        assert (b.pynq_image, b.vivado_max) == ("3.1", "2024.1") and "Vivado 2024.1" in b.sources["pynq_image"]
    for name in ("kv260", "ultra96v2", "alveo-u50"):  # not known from the sources: left out
        assert get_board(name).vivado_max is None


def test_release_comparison():
    assert vivado_of_pynq("3.1.2") == "2024.1" and vivado_of_pynq("4.0.0") == "2025.2"
    assert vivado_of_pynq("3.0.1") is None and vivado_of_pynq(None) is None
    assert newer_than_image("2024.1", "2024.1", "3.1", "pynq-z2") is None
    assert newer_than_image("2023.2", "2024.1", "3.1", "pynq-z2") is None
    text = newer_than_image("2025.1", "2024.1", "3.1", "pynq-z2")
    assert "Vivado 2025.1, newer than 2024.1, the release PYNQ 3.1 on pynq-z2 was built with" in text
    assert newer_than_image("0000.0-stand-in", "2024.1", "3.1", "b") is None  # no release: nothing to say
    assert newer_than_image("2025.1", None, None, "kv260") is None


@pytest.mark.skipif(shutil.which("tclsh") is None, reason="tclsh is not installed")
@pytest.mark.parametrize("release,warned", [("2025.1", True), ("2024.1", False)])
def test_build_records_vivado_and_warns(tmp_path, monkeypatch, release, warned):
    bundle = compile_bundle(tmp_path / "m.fpga", "pynq-z2")
    assert bundle.manifest["board"]["vivado_max"] == "2024.1"
    use_stand_ins(monkeypatch, tmp_path)
    monkeypatch.setenv("FA_STANDIN_RELEASE", release)
    lines = []
    rec = build(bundle.path, registry=False, echo=lines.append)
    assert rec["vivado_release"] == release and rec["tools"]["vivado"] == release
    shown = [line for line in lines if line.startswith("warning: the .hwh was written by Vivado")]
    assert bool(shown) == warned and ("hwh_warning" in rec) == warned
    if warned:
        assert "PYNQ 3.1 on pynq-z2" in rec["hwh_warning"]


def test_load_time_check_prefers_the_running_pynq():
    rec = {"tools": {"vivado": "2025.1"}}
    board = {"name": "zcu104", "pynq_image": "3.1", "vivado_max": "2024.1"}
    with pytest.warns(HwhVersionWarning, match="newer than 2024.1"):
        assert check_overlay_release(rec, board, "3.1.1")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check_overlay_release(rec, board, "4.0.0") is None  # PYNQ 4.0 was built with Vivado 2025.2
        assert check_overlay_release({"tools": {}}, board, "3.1.1") is None
    with pytest.warns(HwhVersionWarning, match="PYNQ 3.1 on zcu104"):  # pynq version unknown here: the board file
        check_overlay_release(rec, board, "0+fake")


@pytest.fixture
def fake_pynq(monkeypatch):
    yield use_fake_pynq(monkeypatch)
    drop_pynq()


def test_pynq_backend_warns_on_load(fake_pynq, tmp_path, monkeypatch):
    from fpga_accel.flow.bitstream_registry import write_record

    b = compile_axis_bundle("mnist_cnn", tmp_path / "m.fpga")
    place_overlay(b)
    write_record(b.path, b.manifest, ["fa_design.bit", "fa_design.hwh"], {"family": "zynq",
                                                                           "tools": {"vivado": "2025.1"}})
    monkeypatch.setattr(fake_pynq, "__version__", "3.1.1")
    with pytest.warns(HwhVersionWarning, match="Vivado 2025.1, newer than 2024.1"):
        s = Session(b, backend="pynq")
    s.close()
    monkeypatch.setattr(fake_pynq, "__version__", "4.0.0")
    with warnings.catch_warnings():
        warnings.simplefilter("error", HwhVersionWarning)
        Session(b, backend="pynq").close()
    (b.path / RECORD).unlink()
