"""Board data: every file loads, names and families are consistent, unknown names are refused."""
from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest

from fpga_accel.cli import main
from fpga_accel.errors import InputError
from fpga_accel.fold.boards import RESOURCES, Board, board_names, get_board

REQUIRED = {"pynq-z2": "xc7z020clg400-1", "zcu104": "xczu7ev-ffvc1156-2-e", "kv260": "xck26-sfvc784-2LV-c",
            "ultra96v2": "xczu3eg-sbva484-1-e", "aws-f1": "xcvu9p-flgb2104-2-i", "alveo-u50": "xcu50-fsvh2104-2-e",
            "alveo-u250": "xcu250-figd2104-2L-e"}


def test_required_boards_and_parts():
    assert set(REQUIRED) <= set(board_names())
    for name, part in REQUIRED.items():
        assert get_board(name).part == part


@pytest.mark.parametrize("name", board_names())
def test_board_data_is_complete(name):
    b = get_board(name)
    assert isinstance(b, Board) and b.name == name
    assert b.family in ("zynq", "zynqmp", "vitis")
    assert (b.platform is None) == (b.family != "vitis")
    assert b.clock_mhz > 0 and b.source and b.attachment and b.memory and b.reserved_source
    for k in RESOURCES:
        assert 0 <= b.reserved.get(k, 0.0) < 0.5
        assert 0 <= b.available(k) <= b.total(k)
    assert b.dsp > 0 and b.bram18 > 0 and b.lut > 0 and b.ff >= b.lut
    assert b.dsp_type == ("DSP48E1" if b.family == "zynq" else "DSP48E2")
    assert json.loads(json.dumps(b.to_dict()))["part"] == b.part


def test_board_files_are_package_data():
    files = sorted(p.name for p in resources.files("fpga_accel.fold.boards").iterdir() if p.name.endswith(".json"))
    assert files == sorted(f"{n}.json" for n in board_names())


def test_vitis_platforms_and_f1_retirement():
    assert get_board("alveo-u50").platform == "xilinx_u50_gen3x16_xdma_5_202210_1"
    assert get_board("alveo-u250").platform == "xilinx_u250_gen3x16_xdma_4_1_202210_1"
    f1 = get_board("aws-f1")
    assert f1.platform == "xilinx_aws-vu9p-f1_shell-v04261818_201920_3"
    assert "2025-12-20" in f1.retired
    assert all(get_board(n).retired is None for n in board_names() if n != "aws-f1")


def test_unknown_board_lists_the_names():
    with pytest.raises(InputError, match="unknown board 'pynq-z3'; known boards: .*pynq-z2.*zcu104"):
        get_board("pynq-z3")


def test_boards_command(capsys):
    assert main(["boards"]) == 0
    out = capsys.readouterr().out
    for name in board_names():
        assert name in out
    assert "2025-12-20" in out
    assert main(["boards", "kv260"]) == 0
    out = capsys.readouterr().out
    assert "xck26-sfvc784-2LV-c" in out and "DS987" in out
    assert main(["boards", "zcu104", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["dsp"] == get_board("zcu104").dsp
    assert main(["boards", "nope"]) == 2
    assert "unknown board 'nope'" in capsys.readouterr().err


def test_boards_page_is_current(capsys):
    assert main(["boards", "--markdown"]) == 0
    page = (Path(__file__).resolve().parents[1] / "docs" / "boards.md").read_text()
    assert capsys.readouterr().out == page, "regenerate: fpga-accel boards --markdown > docs/boards.md"
    for name in board_names():
        b = get_board(name)
        assert f"| {name} | `{b.part}` | {b.family} | {b.dsp:,} | {b.bram18:,} | {b.uram:,} | {b.lut:,} |" in page
