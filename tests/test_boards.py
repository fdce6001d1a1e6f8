"""Board data: every file loads, names and families are consistent, unknown names are refused."""
from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest

from fpga_accel.cli import main
from fpga_accel.errors import InputError
from fpga_accel.fold.boards import FAMILIES, RESOURCES, Board, _parse, board_names, get_board, with_board_file

REQUIRED = {"pynq-z2": "xc7z020clg400-1", "zcu104": "xczu7ev-ffvc1156-2-e", "kv260": "xck26-sfvc784-2LV-c",
            "ultra96v2": "xczu3eg-sbva484-1-e", "aws-f1": "xcvu9p-flgb2104-2-i", "alveo-u50": "xcu50-fsvh2104-2-e",
            "alveo-u250": "xcu250-figd2104-2L-e", "aws-f2": "xcvu47p-fsvh2892-2-e"}


def test_required_boards_and_parts():
    assert set(REQUIRED) <= set(board_names())
    for name, part in REQUIRED.items():
        assert get_board(name).part == part


@pytest.mark.parametrize("name", board_names())
def test_board_data_is_complete(name):
    b = get_board(name)
    assert isinstance(b, Board) and b.name == name
    assert b.family in FAMILIES == ("zynq", "zynqmp", "vitis", "hdk")
    assert (b.platform is None) == (b.family != "vitis")
    assert (b.ps is not None) == (b.board_part is not None) == (b.family in ("zynq", "zynqmp"))
    assert (b.cloud is not None) == b.name.startswith("aws-") and b.sources["ddr_gbps"]
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


# every figure as the board file states it; the Zynq ones are data rate x bus width
DDR_GBPS = {"pynq-z2": 2.1, "zcu104": 17.1, "kv260": 19.2, "ultra96v2": 8.5, "aws-f1": 68.3, "alveo-u250": 76.8,
            "alveo-u50": 316.0, "aws-f2": 16.0}


def test_memory_bandwidth_of_every_board():
    assert {n: get_board(n).ddr_gbps for n in board_names()} == DDR_GBPS
    for name, rate, width_bytes, channels in (("pynq-z2", 1050, 2, 1), ("zcu104", 2133, 8, 1), ("kv260", 2400, 8, 1),
                                              ("ultra96v2", 2133, 4, 1), ("aws-f1", 2133, 8, 4),
                                              ("alveo-u250", 2400, 8, 4)):
        assert get_board(name).ddr_gbps == pytest.approx(rate * 1e6 * width_bytes * channels / 1e9, abs=0.2), name
        assert f"{rate}" in get_board(name).sources["ddr_gbps"], name
    # aws-f2: the CL's one 512-bit DDR port at clk_main_a0, a ceiling of the interface (AWS gives no DDR4 rate)
    f2 = get_board("aws-f2")
    assert f2.ddr_gbps == 512 // 8 * 250e6 / 1e9 and "interface bound" in f2.sources["ddr_gbps"]


def test_processing_systems():
    z = get_board("pynq-z2").ps
    assert (z.ip, z.instance, z.cell, z.master, z.hp, z.clock_pin) == (
        "processing_system7", "processing_system7_0", "ps7", "M_AXI_GP0", "S_AXI_HP0", "FCLK_CLK0")
    assert (z.register_base, z.hp_ddr_bytes, z.dma_addr_width, z.master_protocol) == (0x4000_0000, 512 << 20, 32, "AXI3")
    assert z.hp_ddr_bytes == get_board("pynq-z2").memory[0]["size_gib"] * 2**30
    assert z.clock_divisor.format(i=0, j=1) == "PCW_FCLK0_PERIPHERAL_DIVISOR1"
    for name in ("zcu104", "kv260", "ultra96v2"):
        m = get_board(name).ps
        assert (m.ip, m.instance, m.cell, m.master, m.hp, m.clock_pin) == (
            "zynq_ultra_ps_e", "zynq_ultra_ps_e_0", "ps8", "M_AXI_HPM0_FPD", "S_AXI_HP0_FPD", "pl_clk0"), name
        assert (m.register_base, m.hp_ddr_bytes, m.dma_addr_width, m.master_protocol) == (
            0xA000_0000, 2 << 30, 64, "AXI4"), name
        assert m.config["PSU__SAXIGP2__DATA_WIDTH"] == "128" and m.automation_needs_board_files, name
    assert get_board("kv260").board_part == "xilinx.com:kv260_som:part0:*"
    assert get_board("pynq-z2").board_part == "*:pynq-z2:part0:*"


def test_cloud_flows():
    f1, f2 = get_board("aws-f1").cloud, get_board("aws-f2").cloud
    assert (f1.flow, f1.title, f1.step_note) == ("aws-afi", "F1 AFI", "F1 retired 2025-12-20")
    assert "retired the F1 instances on 2025-12-20" in f1.note
    assert (f2.flow, f2.title) == ("aws-hdk", "F2 HDK") and "no Vitis" in f2.note
    assert all(get_board(n).cloud is None for n in board_names() if not n.startswith("aws-"))


def _file(**changes):
    d = get_board("pynq-z2").to_dict()
    d.update(changes)
    return {k: v for k, v in d.items() if v is not None or k in ("platform",)}


def test_board_file_mistakes_are_named():
    ps = get_board("pynq-z2").to_dict()["ps"]
    with pytest.raises(InputError, match="pynq-z2.json: a zynq board needs 'ps'"):
        _parse("pynq-z2.json", {**_file(), "ps": None})
    with pytest.raises(InputError, match=r"pynq-z2.json: ps has unknown key\(s\) \['gp_port'\], missing key\(s\) "
                                         r"\['master'\]"):
        _parse("pynq-z2.json", _file(ps={**{k: v for k, v in ps.items() if k != "master"}, "gp_port": "x"}))
    with pytest.raises(InputError, match="cloud.flow must be one of"):
        _parse("pynq-z2.json", _file(cloud={"flow": "azure", "title": "x", "note": "y"}))
    with pytest.raises(InputError, match="ddr_gbps must be a positive number"):
        _parse("pynq-z2.json", _file(ddr_gbps=0))
    with pytest.raises(InputError, match="sources.ddr_gbps must say where"):
        _parse("pynq-z2.json", _file(sources={}))
    assert _parse("pynq-z2.json", _file()) == get_board("pynq-z2")


def test_a_manifest_cannot_bring_its_own_ps_or_cloud_flow():
    # they become Tcl and shell code: only the board file (package data) supplies them
    hostile = {"name": "pynq-z2", "clock_mhz": 50.0, "part": "xc7z020clg400-1",
               "ps": {"cell": "ps7]; exec rm -rf ~; #"}, "cloud": {"flow": "aws-afi", "note": "x\nrm -rf ~"}}
    merged = with_board_file(hostile)
    assert merged["ps"] == get_board("pynq-z2").to_dict()["ps"] and merged["cloud"] is None
    assert merged["clock_mhz"] == 50.0 and merged["ddr_gbps"] == 2.1  # the rest: the manifest over the board file
    assert with_board_file({"name": "pynq-z2"})["clock_mhz"] is None  # the clock compiled for, never the default
    custom = with_board_file({"name": "custom-board", "family": "zynq", "ps": {"cell": "x"}})
    assert custom["ps"] is None and custom["family"] == "zynq"


def test_f2_compiles_with_the_hdk_flow_and_refuses_another_clock(tmp_path):
    import fpga_accel
    from fpga_accel.flow import BuildError
    from fpga_accel.flow.target import target_of

    assert target_of({"board": {"name": "aws-f2", "clock_mhz": 250.0}}).flow == "aws-hdk"
    with pytest.raises(BuildError, match=r"board 'aws-f2': the kernel runs on the F2 shell's clk_main_a0, 250 MHz .*"
                                         r"not 200 MHz; recompile with --clock 250"):
        target_of({"board": {"name": "aws-f2", "clock_mhz": 200.0}})
    models = Path(__file__).resolve().parents[1] / "models"
    b = fpga_accel.compile(models / "mlp/model.onnx", tmp_path / "f2.fpga", board="aws-f2",
                           calib=models / "mlp/calib.npz", progress=False)
    assert b.manifest["scripts"]["steps"] == ["hls", "hdk", "afi"] and "error" not in b.manifest["scripts"]
    assert {"aws_f2_dcp.sh", "aws_f2_afi.sh", "build.sh", "f2"} <= {p.name for p in (b.path / "scripts").iterdir()}
    assert (b.path / "hls/run_hls.tcl").is_file() and b.manifest["board"]["part"] == "xcvu47p-fsvh2892-2-e"


def test_boards_listing_says_what_runs_each_board(capsys):
    """`fpga-accel boards` gives each board's build steps (those the build plans) and its backend
    (an installed one): aws-f2 builds through the HDK and runs on the f2 backend."""
    from fpga_accel.cli import main
    from fpga_accel.cli.boards import works
    from fpga_accel.flow.steps import plan_steps
    from fpga_accel.flow.target import target_of
    from fpga_accel.runtime import backend_names

    assert main(["boards"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("aws-f2 "))
    assert "hls (IP), hdk (CL + DCP tarball), afi (S3 + create-fpga-image) -> f2" in row
    for name in board_names():
        b = get_board(name)
        listed = works(b)
        steps = [s.name for s in plan_steps(Path("."), target_of({"board": {"name": name, "clock_mhz": b.clock_mhz}}),
                                            has_script=True)]
        assert [w.split(" ")[0] for w in listed.split(" -> ")[0].split(", ")] == steps, name
        assert listed.split(" -> ")[1].split(" ")[0] in backend_names(), name
