"""The hls step with every Vitis release: v++ -c --mode hls with the bundle's hls_config.cfg (2024.2
and later) or vitis_hls -f run_hls.tcl (older), chosen from the release the recording stand-ins
report; the config parsed by an independent reader; the choice overridden; build.sh choosing alike."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from stand_ins.helpers import calls, compile_bundle, fresh_copy, use_stand_ins
from stand_ins.hls_config import check_hls_config, parse_cfg

from fpga_accel.cli import main
from fpga_accel.flow import ToolNotFoundError, build
from fpga_accel.flow.hls_tool import choose_hls_tool, parse_release

pytestmark = pytest.mark.skipif(shutil.which("tclsh") is None, reason="tclsh is not installed")


@pytest.fixture(scope="module")
def zynq_bundle(tmp_path_factory):
    return compile_bundle(tmp_path_factory.mktemp("z") / "m.fpga", "pynq-z2")


def configs(record: Path) -> list[dict]:
    p = Path(str(record) + ".configs")
    return [json.loads(line) for line in p.read_text().splitlines()] if p.exists() else []


def test_release_from_banners_and_paths():
    assert parse_release("****** v++ v2024.2 (64-bit)") == "2024.2"
    assert parse_release("****** Vitis HLS - High-Level Synthesis from C, C++ and OpenCL v2023.2 (64-bit)") == "2023.2"
    assert parse_release("/tools/Xilinx/Vitis_HLS/2023.1/bin/vitis_hls") == "2023.1"
    assert parse_release("/opt/Xilinx/2025.1/Vitis/bin/v++") == "2025.1"
    assert parse_release("v0000.0-stand-in") is None and parse_release("") is None


@pytest.mark.parametrize("release,skip,expected", [
    ("2023.2", (), "vitis_hls"),            # both installed, before the unified flow
    ("2024.1", (), "vitis_hls"),
    ("2024.2", ("vitis_hls",), "v++"),      # 2024.2 and later ship no vitis_hls
    ("2025.1", (), "v++"),                  # an older vitis_hls still on PATH: the new v++ wins
    ("", (), "vitis_hls"),                  # release unknown: vitis_hls while it is there
    ("", ("vitis_hls",), "v++"),
    ("2025.1", ("v++",), "vitis_hls"),
])
def test_auto_choice_by_reported_release(tmp_path, monkeypatch, release, skip, expected):
    record = use_stand_ins(monkeypatch, tmp_path, skip=skip)
    monkeypatch.setenv("FA_STANDIN_RELEASE", release)
    tool = choose_hls_tool("auto")
    assert tool.name == expected and tool.path and Path(tool.path).name == expected
    # the release: v++'s answer when it chose v++; else the install path's (none here): the log has it later
    assert tool.release == ((release or None) if expected == "v++" and not skip else None)
    probes = Path(str(record) + ".probes")
    probes = [json.loads(line) for line in probes.read_text().splitlines()] if probes.exists() else []
    # v++ is asked for its release only when both tools are there and the release decides
    assert probes == ([{"tool": "v++", "argv": ["--version"], "cwd": os.getcwd()}] if not skip else [])
    assert calls(record) == []  # asking for the version is not a build call


def test_zynq_build_through_vpp_mode_hls(zynq_bundle, tmp_path, monkeypatch):
    root = fresh_copy(zynq_bundle, tmp_path)
    m = zynq_bundle.manifest
    record = use_stand_ins(monkeypatch, tmp_path, skip=("vitis_hls",))
    monkeypatch.setenv("FA_STANDIN_RELEASE", "2024.2")
    lines = []
    rec = build(root, registry=False, echo=lines.append)
    assert [c["tool"] for c in calls(record)] == ["v++", "vivado"]
    hls = calls(record)[0]
    assert hls["argv"] == ["-c", "--mode", "hls", "--config", "hls_config.cfg", "--work_dir", "fa_hls_fa_axis"]
    assert hls["cwd"] == str(root / "build/hls")
    assert any(line.startswith("HLS tool: v++") for line in lines)
    # the configuration v++ read: the board's part and clock, the IP export, paths made absolute
    (cfg,) = [c["config"] for c in configs(record)]
    assert cfg["part"] == m["board"]["part"] and cfg["syn.top"] == "fa_axis"
    assert cfg["period_ns"] == pytest.approx(1000 / m["board"]["clock_mhz"], abs=1e-3)
    assert (cfg["flow_target"], cfg["package.output.format"]) == ("vivado", "ip_catalog")
    assert cfg["package.ip.name"] == "fa_axis" and cfg["package.ip.library"] == "hls"
    assert cfg["syn.file"] == [str(root / "build/hls/src/fa_top.cpp")]
    for f, incs in cfg["includes"].items():
        assert all(os.path.isabs(d) and os.path.isdir(d) for d in incs), (f, incs)
        assert not any(Path(d).name == "sim" for d in incs)  # the testbench sees the tool's ap_axi_sdata.h
    assert set(cfg["includes"]) == {*cfg["syn.file"], *cfg["tb.file"]}
    # what the stand-in exported is what the vivado step picked up
    assert (root / "build/hls/fa_hls_fa_axis/hls/impl/ip/component.xml").is_file()
    assert (root / "build/hls/fa_hls_fa_axis/fa_axis.zip").is_file()
    assert (root / "bitstream/fa_overlay.bit").is_file()
    assert rec["hls_tool"]["tool"] == "v++" and "no vitis_hls installed" in rec["hls_tool"]["why"]
    assert rec["tools"] == {"v++": "2024.2", "vivado": "2024.2"} and rec["hls"]["top"] == "fa_axis"
    # the bundle's own config is untouched (relative paths) and parses from its folder
    assert "=./src/fa_top.cpp" in (root / "hls/hls_config.cfg").read_text()
    assert check_hls_config(root / "hls/hls_config.cfg")["syn.top"] == "fa_axis"


def test_vitis_build_through_vpp_mode_hls(tmp_path, monkeypatch):
    bundle = compile_bundle(tmp_path / "u50.fpga", "alveo-u50")
    args = [a["name"] for a in bundle.manifest["kernel"]["args"]]
    record = use_stand_ins(monkeypatch, tmp_path, skip=("vitis_hls",), kernel_args=args)
    monkeypatch.setenv("FA_STANDIN_RELEASE", "2025.1")
    rec = build(bundle.path, registry=False, echo=lambda s: None)
    assert [c["tool"] for c in calls(record)] == ["v++", "v++"]
    (cfg,) = [c["config"] for c in configs(record)]
    assert (cfg["flow_target"], cfg["package.output.format"], cfg["syn.top"]) == ("vitis", "xo", "fa_kernel")
    assert cfg["package.output.file"] == "fa_kernel.xo"
    xo = bundle.path / "build/hls/fa_hls_fa_kernel/fa_kernel.xo"
    assert calls(record)[1]["argv"][-1] == str(xo)  # the link step takes the .xo v++ -c wrote
    assert set(rec["registers"]["offsets"]) == set(args)  # read from the kernel.xml inside it


def test_hls_tool_override(zynq_bundle, tmp_path, monkeypatch, capsys):
    root = fresh_copy(zynq_bundle, tmp_path)
    record = use_stand_ins(monkeypatch, tmp_path)
    monkeypatch.setenv("FA_STANDIN_RELEASE", "2025.1")
    rec = build(root, steps=["hls"], registry=False, echo=lambda s: None, hls_tool="vitis_hls")
    assert [c["tool"] for c in calls(record)] == ["vitis_hls"] and rec["hls_tool"]["tool"] == "vitis_hls"
    monkeypatch.setenv("FA_STANDIN_RELEASE", "2023.2")
    assert main(["build", str(root), "--steps", "hls", "--no-registry", "--hls-tool", "v++"]) == 0
    assert [c["tool"] for c in calls(record)] == ["vitis_hls", "v++"]  # another tool: the step runs again
    assert "v++ chosen with --hls-tool" in capsys.readouterr().out
    monkeypatch.setenv("FA_HLS_TOOL", "vitis_hls")  # as build.sh reads it
    assert build(root, steps=["hls"], registry=False, echo=lambda s: None)["hls_tool"]["tool"] == "vitis_hls"


def test_no_hls_tool_says_both(zynq_bundle, tmp_path, monkeypatch):
    root = fresh_copy(zynq_bundle, tmp_path)
    use_stand_ins(monkeypatch, tmp_path, skip=("vitis_hls", "v++"))
    with pytest.raises(ToolNotFoundError) as err:
        build(root, registry=False, echo=lambda s: None)
    assert err.value.tool == "vitis_hls" and "2024.2 and later have no vitis_hls" in str(err.value)


def test_bundle_config_keys(zynq_bundle):
    text = (zynq_bundle.path / "hls/hls_config.cfg").read_text()
    sections = parse_cfg(text)
    assert dict(sections[""]) == {"part": zynq_bundle.manifest["board"]["part"]}
    hls = sections["hls"]
    assert ("csim.code_analyzer", "0") in hls and ("syn.output.format", "ip_catalog") in hls
    assert [v for k, v in hls if k == "tb.file"] == ["./csim/fa_csim.cpp", "./csim/tb_main.cpp"]
    assert all("sim" not in v.split(",", 1)[1].replace("-std", "") for k, v in hls if k.endswith("_cflags"))


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
@pytest.mark.parametrize("release,skip,tool", [("2024.2", ("vitis_hls",), "v++"), ("2023.2", (), "vitis_hls")])
def test_build_sh_chooses_like_the_build(zynq_bundle, tmp_path, monkeypatch, release, skip, tool):
    root = fresh_copy(zynq_bundle, tmp_path)
    record = use_stand_ins(monkeypatch, tmp_path, skip=skip)
    monkeypatch.setenv("FA_STANDIN_RELEASE", release)
    proc = subprocess.run(["bash", str(root / "scripts/build.sh"), "1"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert [c["tool"] for c in calls(record)] == [tool, "vivado"]
    assert (root / "bitstream/fa_overlay.bit").is_file()


def test_hls_readme_describes_both_tools_as_the_build_runs_them(zynq_bundle):
    """The project README gives the two HLS commands build.sh runs (v++ -c --mode hls from 2024.2,
    vitis_hls before), each run from the hls/ folder as the build's copy of it."""
    readme = (zynq_bundle.path / "hls" / "README.md").read_text()
    build_sh = (zynq_bundle.path / "scripts" / "build.sh").read_text()
    for tool in ("v++", "vitis_hls"):
        (ran,) = [line.rsplit("&& ", 1)[1].rstrip(")") for line in build_sh.splitlines()
                  if f"&& {tool} " in line or f"&& FA_TOP=fa_axis {tool} " in line]
        cmd = ran.replace("FA_TOP=fa_axis ", "")
        assert cmd in readme, (tool, cmd)
    assert "2024.2" in readme and "2024.1" in readme
