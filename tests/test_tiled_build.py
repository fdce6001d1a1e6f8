"""The tiled engine's build flow: the hls/ project and scripts/ a tiled bundle gets at compile time,
the generated Tcl run under tclsh with the stub procs of the dataflow tests, the engine's source
compiled by g++ from the bundle's own include folder, and `fpga-accel build` end to end with the
recording stand-ins of vitis_hls, vivado and v++ (no AMD tool is installed here)."""
from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
from stand_ins.helpers import calls, use_stand_ins
from test_build_hls_script import cflags_of, run_script
from test_build_scripts import VENDOR, props, run_vivado_tcl

import fpga_accel
from fpga_accel import toolchain
from fpga_accel.bundle import _listing, load_bundle, write_manifest
from fpga_accel.bundle_check import BundleError
from fpga_accel.bundle_tiled import load_program
from fpga_accel.cli import main
from fpga_accel.flow import BuildError, ToolNotFoundError, build, tiled_scripts
from fpga_accel.flow.tiled_hls import engine_headers
from fpga_accel.flow.tiled_hwh import generate_tiled_hwh
from fpga_accel.flow.tiled_interface import check_top, configured, register_map, split_of
from fpga_accel.fold import get_board
from fpga_accel.tiled.csim import ALL_UNITS, EngineConfig, units_of
from fpga_accel.tiled.ports import axi_bits
from models import data
from tiled_split_util import rule_headers, split_top, with_form

pytestmark = pytest.mark.skipif(shutil.which("tclsh") is None, reason="tclsh is not installed")


def _compile(dest, board):
    calib = data.HERE / data.info("mnist_cnn")["calib"]["path"]
    return fpga_accel.compile(data.model_path("mnist_cnn"), dest, calib=calib, progress=False, engine="tiled",
                              board=board)


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    d = tmp_path_factory.mktemp("tiled-build")
    return {b: _compile(d / f"{b}.fpga", b) for b in ("pynq-z2", "zcu104", "alveo-u250")}


@pytest.fixture(scope="module")
def forms(bundles, tmp_path_factory):
    """Each Zynq board's bundle in either engine form (``tiled.array.split``), its scripts regenerated."""
    d = tmp_path_factory.mktemp("tiled-forms")
    return {(b, split): with_form(bundles[b], d / f"{b}-{split}.fpga", split)
            for b in ("pynq-z2", "zcu104") for split in (False, True)}


def _fresh(bundle, tmp_path):
    dest = tmp_path / bundle.path.name
    shutil.copytree(bundle.path, dest)
    return dest


@pytest.mark.parametrize("board, files", [("pynq-z2", ["vivado_bd.tcl", "build.sh"]),
                                          ("alveo-u250", ["link.cfg", "build.sh"])])
def test_a_tiled_bundle_gets_the_engine_project_and_scripts(bundles, board, files):
    b = bundles[board]
    rec = b.manifest["scripts"]
    program, _ = load_program(b)
    config = EngineConfig.of(program, units=units_of(program))  # the engine has its program's units, no more
    assert rec["engine"] == "tiled" and rec["board"] == board
    assert rec["configuration"]["units"] == b.manifest["tiled"]["array"]["units"] == units_of(program) < ALL_UNITS
    assert rec["configuration"]["out_lanes"] == program.engine["out_lanes"] == b.manifest["tiled"]["array"]["out_lanes"]
    assert rec["steps"] == (["hls", "vivado"] if board == "pynq-z2" else ["hls", "link"])
    split = split_of(b.manifest)
    assert rec["ip"]["registers"] == register_map(split) and rec["ip"]["offsets_source"] == "predicted"
    assert rec["configuration"]["tm"] == program.engine["tm"] and rec["configuration"]["tn"] == program.engine["tn"]
    for f in files:
        assert f"scripts/{f}" in b.manifest["files"]
    # the configuration's macros, then the engine's top (a Vitis kernel returns nothing: its status is a
    # buffer); the headers are the package's, byte for byte
    top, entry = ("fa_tiled_top", "top.h") if board == "pynq-z2" else ("fa_tiled_kernel", "kernel.h")
    assert rec["hls"]["top"] == top
    src = (b.path / f"hls/src/{top}.cpp").read_text()
    assert [f"{w[1]}={w[2]}" for w in (line.split() for line in src.splitlines() if line.startswith("#define"))] \
        == [*config.defines(), f"FA_TILED_AXI_BITS={axi_bits(get_board(board))}", *(["FA_TILED_SPLIT=1"] * split)]
    # the arenas as wide as the board's HP port (64 bits on pynq-z2), 512 bits without a PS
    assert axi_bits(get_board(board)) == (64 if board == "pynq-z2" else 512)
    assert src.rstrip().endswith(f'#include "fpga_accel/tiled/{entry}"')
    headers = engine_headers()
    assert {"fpga_accel/tiled/kernel.h", "fpga_accel/tiled/top.h", "fpga_accel/tiled_engine.h",
            "fpga_accel/requant.h"} <= set(headers)
    for rel, text in headers.items():
        assert (b.path / "hls/include" / rel).read_text() == text
        assert (toolchain.HLS_ROOT / "include" / rel).read_text() == text


def test_the_kernel_form_declares_the_ips_arena_ports():
    """tiled/kernel.h (Vitis) repeats tiled/top.h's m_axi pragmas for desc, weights and acts (a kernel and
    an IP are separate tops): the same bundles, burst lengths and widening, so the two builds move DDR alike."""
    headers = engine_headers()

    def ports(text):
        found = re.findall(r"#pragma HLS INTERFACE mode = m_axi port = (\w+) (.*)", text)
        return {port: rest.strip() for port, rest in found if port != "status"}

    top = ports(configured(headers["fpga_accel/tiled/top.h"], split=False))
    kernel = ports(headers["fpga_accel/tiled/kernel.h"])
    assert set(top) == {"desc", "weights", "acts"} and kernel == top


@pytest.mark.parametrize("board, top", [("pynq-z2", "fa_tiled_top"), ("alveo-u250", "fa_tiled_kernel")])
def test_the_engine_source_compiles_from_the_bundle_alone(bundles, tmp_path, board, top):
    try:
        cxx, ap = toolchain.compiler(), toolchain.ap_types_dir()
    except toolchain.ToolchainError as e:
        pytest.skip(str(e))
    b = bundles[board]
    proc = subprocess.run([*cxx, "-std=c++14", "-fsyntax-only", "-Wno-unknown-pragmas", f"-I{b.path / 'hls/include'}",
                           f"-I{ap}", str(b.path / f"hls/src/{top}.cpp")], capture_output=True, text=True,
                          check=False, timeout=300)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("split", [False, True])
@pytest.mark.parametrize("board, ps, master, hp, hp_w", [("pynq-z2", "ps7", "M_AXI_GP0", "S_AXI_HP0", "S_AXI_HP2"),
                                                         ("zcu104", "ps8", "M_AXI_HPM0_FPD", "S_AXI_HP0_FPD",
                                                          "S_AXI_HP3_FPD")])
def test_block_design_under_vivado_stubs(forms, tmp_path, board, ps, master, hp, hp_w, split):
    b = forms[board, split]
    proc, tcl = run_vivado_tcl(b.path / "scripts/vivado_bd.tcl", tmp_path, [tmp_path / "ip", tmp_path / "out", 2])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert {c[0] for c in tcl} <= VENDOR, {c[0] for c in tcl} - VENDOR
    cells = [c[-1] for c in tcl if c[0] == "create_bd_cell"]
    assert cells == [ps, "fa_tiled_0"]  # no DMA: the engine masters DDR itself
    assert ["create_bd_cell", "-type", "ip", "-vlnv", "fpga-accel.org:hls:fa_tiled_top:10.1", "fa_tiled_0"] in tcl
    assert float(props(tcl, ps)[next(k for k in props(tcl, ps) if k.endswith("FREQMHZ"))]) == \
        b.manifest["board"]["clock_mhz"]
    auto = [c for c in tcl if c[0] == "apply_bd_automation" and "xilinx.com:bd_rule:axi4" in c]
    links = {(c[c.index("-config") + 1].split()[c[c.index("-config") + 1].split().index("Master") + 1],
              c[c.index("-config") + 1].split()[c[c.index("-config") + 1].split().index("Slave") + 1]) for c in auto}
    # the weights on an HP port of their own, the descriptors and activations on the board's HP port; a split
    # engine's second weights and second activations masters each on a port of their own again
    bps = get_board(board).ps
    second = {("/fa_tiled_0/m_axi_gmem3", f"/{ps}/{bps.hp_weights_b}"), ("/fa_tiled_0/m_axi_gmem4", f"/{ps}/{bps.hp_b}")}
    assert links == {(f"/{ps}/{master}", "/fa_tiled_0/s_axi_control"), ("/fa_tiled_0/m_axi_gmem1", f"/{ps}/{hp_w}"),
                     *((f"/fa_tiled_0/m_axi_gmem{i}", f"/{ps}/{hp}") for i in (0, 2)), *(second if split else ())}
    new_sc = [c for c in auto if "New AXI SmartConnect" in c[c.index("-config") + 1]]
    assert len(new_sc) == (4 if split else 2)  # one SmartConnect a port: its clock driven by the automation's Clk_slave
    assert all("Clk_slave Auto" in c[c.index("-config") + 1] for c in auto)
    # the PS enables the ports at the width the cost model counts; the first two reach different DDR ports
    config = props(tcl, ps)
    used = (hp, hp_w, bps.hp_b, bps.hp_weights_b) if split else (hp, hp_w)
    assert len(set(used)) == len(used)
    for port in used:
        for k, v in bps.hp_ports[port]["config"].items():
            assert config[f"CONFIG.{k}"] == v == ("1" if "USE" in k else str(bps.hp_bits)), (k, v)
    assert bps.hp_ports[hp]["ddr_port"] != bps.hp_ports[hp_w]["ddr_port"]
    names = [c[0] for c in tcl]
    assert names.index("assign_bd_address") > max(i for i, c in enumerate(tcl) if c[0] == "apply_bd_automation")
    assert (tmp_path / "out/fa_overlay.bit").is_file() and (tmp_path / "out/fa_overlay.hwh").is_file()


@pytest.mark.parametrize("board, flow, export, top", [("pynq-z2", "vivado", ["-format", "ip_catalog"], "fa_tiled_top"),
                                                      ("alveo-u250", "vitis", ["-format", "xo"], "fa_tiled_kernel")])
def test_run_hls_tcl_under_hls_stubs(bundles, tmp_path, board, flow, export, top):
    b = bundles[board]
    proc, tcl = run_script(b.path / "hls/run_hls.tcl", tmp_path, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert ["set_top", top] in tcl
    add = next(c for c in tcl if c[0] == "add_files")
    assert add[1] == str(b.path / f"hls/src/{top}.cpp")
    assert f"-I{b.path / 'hls/include'}" in cflags_of(add)
    assert next(c for c in tcl if c[0] == "open_solution")[-1] == flow
    period = 1000 / b.manifest["board"]["clock_mhz"]
    assert abs(float(next(c for c in tcl if c[0] == "create_clock")[2]) - period) < 1e-3
    exp = next(c for c in tcl if c[0] == "export_design")
    assert exp[1:3] == export and top in exp[-1]
    # the project synthesises the engine only: another top is refused
    proc, _ = run_script(b.path / "hls/run_hls.tcl", tmp_path, tmp_path, FA_TOP="fa_axis")
    assert proc.returncode != 0 and f"synthesises {top}, not fa_axis" in proc.stdout + proc.stderr


def test_link_cfg_connects_the_kernel_ports(bundles):
    b = bundles["alveo-u250"]
    cfg = (b.path / "scripts/link.cfg").read_text().splitlines()
    assert "nk=fa_tiled_kernel:1:fa_tiled_kernel_1" in cfg
    assert [line for line in cfg if line.startswith("sp=")] == [f"sp=fa_tiled_kernel_1.{p}:DDR[0]"
                                                               for p in ("desc", "weights", "acts", "status")]
    assert f"freqHz={round(b.manifest['board']['clock_mhz'] * 1e6)}:fa_tiled_kernel_1" in cfg


@pytest.mark.parametrize("hls_tool", ["vitis_hls", "v++"])
def test_zynq_build_with_stand_ins(bundles, tmp_path, monkeypatch, hls_tool):
    path = _fresh(bundles["pynq-z2"], tmp_path)
    record = use_stand_ins(monkeypatch, tmp_path)
    split = split_of(load_bundle(path).manifest)
    rec = build(path, registry=tmp_path / "reg", echo=lambda s: None, hls_tool=hls_tool)
    assert [c["tool"] for c in calls(record)] == [hls_tool, "vivado"]
    assert rec["steps"]["hls"]["status"] == rec["steps"]["vivado"]["status"] == "done"
    assert rec["hls"]["top"] == "fa_tiled_top"
    assert sorted(p.name for p in (path / "bitstream").iterdir()) == ["bitstream.json", "fa_overlay.bit",
                                                                      "fa_overlay.hwh"]
    assert rec["registry_entry"]
    # the generated driver header's offsets (the stand-in moves act_bytes by a word) replace the predictions
    assert rec["registers"]["changed_from_prediction"] == [{"name": "act_bytes", "predicted": 0x4C,
                                                            "measured": 0x54}]
    ip = load_bundle(path).manifest["scripts"]["ip"]
    assert ip["registers"] == {**register_map(split), "act_bytes": 0x54}
    assert ip["offsets_source"].endswith("xfa_tiled_top_hw.h")


def test_vitis_build_with_stand_ins(bundles, tmp_path, monkeypatch, capsys):
    path = _fresh(bundles["alveo-u250"], tmp_path)
    record = use_stand_ins(monkeypatch, tmp_path)
    assert main(["build", str(path), "--no-registry", "--hls-tool", "vitis_hls"]) == 0
    out = capsys.readouterr().out
    assert "build for alveo-u250" in out and "bitstream/bitstream.json" in out
    hls_call, link_call = calls(record)
    assert (hls_call["tool"], link_call["tool"]) == ("vitis_hls", "v++")
    argv = link_call["argv"]
    assert argv[argv.index("-o") + 1] == str(path / "bitstream/fa_tiled.xclbin")
    assert argv[argv.index("--config") + 1] == str(path / "scripts/link.cfg")
    assert argv[-1].endswith("fa_tiled_kernel.xo")
    assert (path / "bitstream/fa_tiled.xclbin").is_file() and (path / "bitstream/bitstream.json").is_file()


def test_missing_tools_are_reported_with_the_commands(bundles, tmp_path, monkeypatch, capsys):
    path = _fresh(bundles["pynq-z2"], tmp_path)
    use_stand_ins(monkeypatch, tmp_path, skip=("vitis_hls", "v++"))
    with pytest.raises(ToolNotFoundError, match="vitis_hls"):
        build(path, registry=False, echo=lambda s: None)
    assert main(["build", str(path), "--no-registry"]) == 3
    err = capsys.readouterr().err
    assert "FA_TOP=fa_tiled_top vitis_hls -f run_hls.tcl" in err and "scripts/vivado_bd.tcl" in err


def test_the_register_map_follows_the_engine_top_function():
    # the package's tiled/top.h has the arguments the register map is derived from, and its bundles
    top = engine_headers()["fpga_accel/tiled/top.h"]
    assert check_top(top) == {"desc": "gmem0", "weights": "gmem1", "acts": "gmem2"}
    swapped = top.replace("uint32_t desc_words, const uint8_t* weights", "const uint8_t* weights, uint32_t desc_words")
    assert swapped != top
    with pytest.raises(BuildError, match="takes .*'weights', 'm_axi'.*'desc_words'.*must follow it"):
        check_top(swapped)
    with pytest.raises(BuildError, match="m_axi bundles"):
        check_top(top.replace("port = weights offset = slave bundle = gmem1", "port = weights offset = slave"))


@pytest.mark.parametrize("board", ["pynq-z2", "zcu104"])
def test_a_split_bundle_gets_the_split_engine_and_an_unsplit_one_todays(bundles, forms, tmp_path, board):
    split, plain = forms[board, True], forms[board, False]
    rec = split.manifest["scripts"]
    # FA_TILED_SPLIT=1 after the configuration's macros; the split arguments' registers after act_bytes
    src = (split.path / "hls/src/fa_tiled_top.cpp").read_text()
    plain_src = (plain.path / "hls/src/fa_tiled_top.cpp").read_text()
    assert src == plain_src.replace('#include "fpga_accel/tiled/top.h"', '#define FA_TILED_SPLIT 1\n#include "fpga_accel/tiled/top.h"')
    assert rec["hls"]["defines"][-1] == "FA_TILED_SPLIT=1" and "FA_TILED_SPLIT=1" not in plain.manifest["scripts"]["hls"]["defines"]
    assert rec["ip"]["registers"] == {**register_map(), "weights_b": 0x54, "acts_b": 0x60}
    assert rec["ip"]["pointers"] == ["desc", "weights", "acts", "weights_b", "acts_b"]
    assert rec["ip"]["bundles"] == {"desc": "gmem0", "weights": "gmem1", "acts": "gmem2", "weights_b": "gmem3",
                                    "acts_b": "gmem4"}
    # an unsplit bundle (the field false or absent, as before it existed) gets exactly the scripts it got before
    absent = with_form(bundles[board], tmp_path / "absent.fpga", None)
    for rel in plain.manifest["files"]:
        if rel.startswith(("scripts/", "hls/")):
            assert (plain.path / rel).read_bytes() == (absent.path / rel).read_bytes(), rel
    assert plain.manifest["scripts"] == absent.manifest["scripts"]
    assert plain.manifest["scripts"]["ip"]["registers"] == register_map()


@pytest.mark.parametrize("board", ["pynq-z2", "zcu104"])
def test_the_split_handoff_lists_the_second_masters_and_registers(forms, board):
    import xml.etree.ElementTree as ET

    bps = get_board(board).ps
    for split in (False, True):
        root = ET.fromstring(generate_tiled_hwh(forms[board, split].manifest))
        engine = next(m for m in root.iter("MODULE") if m.get("INSTANCE") == "fa_tiled_0")
        ranges = {r.get("MASTERBUSINTERFACE"): (r.get("SLAVEBUSINTERFACE"), r.get("ADDRESSBLOCK"), r.get("HIGHVALUE"))
                  for r in engine.find("MEMORYMAP").iter("MEMRANGE")}
        want = {"m_axi_gmem0": bps.hp, "m_axi_gmem1": bps.hp_weights, "m_axi_gmem2": bps.hp,
                **({"m_axi_gmem3": bps.hp_weights_b, "m_axi_gmem4": bps.hp_b} if split else {})}
        assert {k: v[0] for k, v in ranges.items()} == want
        for master, (port, segment, high) in ranges.items():
            assert segment == bps.hp_ports[port]["segment"].rsplit("/", 1)[-1]
            assert int(high, 16) == bps.hp_ddr_bytes - 1
        regs = {r.get("NAME"): int(r.find("PROPERTY[@NAME='ADDRESS_OFFSET']").get("VALUE"), 0)
                for r in engine.iter("REGISTER")}
        assert {k: v for k, v in regs.items() if k.startswith(("weights_b_", "acts_b_"))} == \
            ({"weights_b_1": 0x54, "weights_b_2": 0x58, "acts_b_1": 0x60, "acts_b_2": 0x64} if split else {})
        ps = next(m for m in root.iter("MODULE") if m.get("INSTANCE") == bps.instance)
        slaves = {b.get("NAME") for b in ps.iter("BUSINTERFACE") if b.get("TYPE") == "SLAVE"}
        assert slaves == set(want.values())


def test_a_split_field_the_target_cannot_build_is_refused(bundles, tmp_path):
    # the Vitis kernel is never split; a field that is not a bool is not taken for one
    alveo = with_form(bundles["alveo-u250"], tmp_path / "alveo.fpga", True).manifest["scripts"]
    assert alveo["engine"] == "tiled" and "names no second HP ports" in alveo["error"]
    # generation refuses it (compile writes the scripts before the bundle is sealed) ...
    dest = tmp_path / "odd.fpga"
    shutil.copytree(bundles["zcu104"].path, dest)
    m = json.loads((dest / "manifest.json").read_text())
    m["tiled"]["array"]["split"] = 1
    tiled_scripts.generate_tiled_scripts(dest, m, load_program(bundles["zcu104"])[0])
    assert "tiled.array.split' is 1, not true or false" in m["scripts"]["error"]
    # ... and so does opening a bundle that carries it
    m["files"] = _listing(dest)
    write_manifest(dest, m)
    with pytest.raises(BundleError, match="tiled.array.split"):
        load_bundle(dest)


def test_check_top_reads_the_split_form_of_the_top_function():
    top = rule_headers()["fpga_accel/tiled/top.h"]
    plain = engine_headers()["fpga_accel/tiled/top.h"]
    assert check_top(top, split=False) == check_top(plain, split=False) == {"desc": "gmem0", "weights": "gmem1",
                                                                            "acts": "gmem2"}
    assert check_top(top, split=True) == {"desc": "gmem0", "weights": "gmem1", "acts": "gmem2", "weights_b": "gmem3",
                                          "acts_b": "gmem4"}
    with pytest.raises(BuildError, match="with FA_TILED_SPLIT=1, not .*'weights_b'"):
        check_top(configured(top, split=False), split=True)  # a top without the split arguments
    with pytest.raises(BuildError, match="acts_b must be a read-only pointer"):
        check_top(top.replace("const uint8_t* acts_b", "uint8_t* acts_b"), split=True)
    with pytest.raises(BuildError, match="acts_b must be a read-only pointer"):
        check_top(top.replace("port = acts_b offset = slave bundle = gmem4 max_read_burst_length = 64",
                              "port = acts_b offset = slave bundle = gmem4 max_write_burst_length = 64"), split=True)
    with pytest.raises(BuildError, match="acts_b must be .* on bundle gmem4.* on gmem2"):
        check_top(top.replace("bundle = gmem4", "bundle = gmem2"), split=True)
    with pytest.raises(BuildError, match="m_axi bundles"):
        check_top(top.replace("port = acts_b offset = slave bundle = gmem4", "port = acts_b offset = slave"), split=True)
    with pytest.raises(BuildError, match="a form .* does not read"):
        check_top(top.replace("#if FA_TILED_SPLIT", "#if FA_TILED_SPLIT > 0"), split=True)
    assert split_top(plain) != plain
