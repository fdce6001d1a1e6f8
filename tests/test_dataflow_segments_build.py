"""One bitstream for a bundle in dataflow segments: each segment's tops carry its index, each is
synthesised in a step of its own, one block design holds every segment's IP with its own DMAs (one
.bit/.hwh), one v++ link has a compute unit per segment kernel (one xclbin). The generated Tcl runs
under the tclsh stubs of the dataflow build tests, and `fpga-accel build` end to end with the
recording stand-ins of vitis_hls, v++ and vivado (no AMD tool is installed here)."""
from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from stand_ins.helpers import calls, use_stand_ins
from test_build_hls_script import run_script
from test_build_scripts import VENDOR, run_vivado_tcl
from test_segments_float import images, softmax_inside

import fpga_accel
from fpga_accel.bundle import load_bundle
from fpga_accel.cli import main
from fpga_accel.flow import BuildError, build

pytestmark = pytest.mark.skipif(shutil.which("tclsh") is None, reason="tclsh is not installed")
BOARDS = ("kv260", "alveo-u250")


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    d = tmp_path_factory.mktemp("dseg-build")
    return {b: fpga_accel.compile(softmax_inside(), d / f"{b}.fpga", board=b, calib=images(32, 51), progress=False,
                                  engine="dataflow") for b in BOARDS}


def _fresh(bundle, tmp_path):
    dest = tmp_path / bundle.path.name
    shutil.copytree(bundle.path, dest)
    return dest


def _segments(b):
    return [load_bundle(b.path / s["path"]) for s in b.manifest["segments"]["list"]]


def test_each_segment_names_its_tops_kernel_and_ip_with_its_index(bundles):
    for board, b in bundles.items():
        for k, sub in enumerate(_segments(b)):
            m = sub.manifest
            assert (m["kernel"]["name"], m["kernel"]["axis"]["name"]) == (f"fa_kernel_s{k}", f"fa_axis_s{k}")
            assert (m["hls"]["top_kernel"], m["hls"]["top_axis"]) == (f"fa_kernel_s{k}", f"fa_axis_s{k}")
            src = (sub.path / "hls/src/fa_top.cpp").read_text()
            assert f'extern "C" void fa_kernel_s{k}(' in src and f"\nvoid fa_axis_s{k}(" in src
            assert "void fa_kernel(" not in src and "void fa_axis(" not in src
            csim = (sub.path / "hls/csim/fa_csim.cpp").read_text()
            assert f"    fa_kernel_s{k}(" in csim and f"    fa_axis_s{k}(" in csim
            assert f"__kernel void fa_kernel_s{k}(" in (sub.path / "opencl/fa_kernel.cl").read_text()
            assert m["opencl"]["name"] == f"fa_kernel_s{k}"
            cfg = (sub.path / "hls/hls_config.cfg").read_text().splitlines()
            top = f"fa_axis_s{k}" if board == "kv260" else f"fa_kernel_s{k}"
            assert f"syn.top={top}" in cfg


def test_the_model_bundle_gets_one_build_for_every_segment(bundles):
    kv, u250 = bundles["kv260"].manifest["scripts"], bundles["alveo-u250"].manifest["scripts"]
    assert kv["steps"] == ["hls_s0", "hls_s1", "vivado"] and u250["steps"] == ["hls_s0", "hls_s1", "link"]
    assert [s["ip_instance"] for s in kv["segments"]] == ["fa_axis_s0_0", "fa_axis_s1_0"]
    assert [d["name"] for s in kv["segments"] for d in s["dmas"]] == ["dma_s0_in0", "dma_s0_out0", "dma_s1_in0",
                                                                      "dma_s1_out0"]
    for s, sub in zip(kv["segments"], _segments(bundles["kv260"])):  # each DMA sized for its segment's stream
        streams = {t["name"]: t for t in sub.manifest["kernel"]["axis"]["streams"]}
        for d in s["dmas"]:
            t = streams[d["stream"]]
            assert d["bytes_per_image"] == t["beats_per_image"] * t["tdata_bits"] // 8
    assert [s["compute_unit"] for s in u250["segments"]] == ["fa_kernel_s0_1", "fa_kernel_s1_1"]
    for b in bundles.values():
        assert "scripts/build.sh" in b.manifest["files"]


def test_run_hls_tcl_of_each_segment_under_hls_stubs(bundles, tmp_path):
    for board, flow in (("kv260", "vivado"), ("alveo-u250", "vitis")):
        for k, sub in enumerate(_segments(bundles[board])):
            top = f"fa_axis_s{k}" if flow == "vivado" else f"fa_kernel_s{k}"
            proc, tcl = run_script(sub.path / "hls/run_hls.tcl", tmp_path, tmp_path)
            assert proc.returncode == 0, proc.stdout + proc.stderr
            assert ["set_top", top] in tcl
            exp = next(c for c in tcl if c[0] == "export_design")
            assert (exp[-1] == top) if flow == "vivado" else exp[-1] == f"fa_kernel_s{k}.xo"
            proc, _ = run_script(sub.path / "hls/run_hls.tcl", tmp_path, tmp_path, FA_TOP="fa_axis")
            assert proc.returncode != 0 and f"FA_TOP must be fa_axis_s{k} or fa_kernel_s{k}" in proc.stdout + proc.stderr


def test_one_block_design_holds_every_segment_with_its_own_dmas(bundles, tmp_path):
    b = bundles["kv260"]
    proc, tcl = run_vivado_tcl(b.path / "scripts/vivado_bd.tcl", tmp_path, [tmp_path / "ip", tmp_path / "out", 2])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert {c[0] for c in tcl} <= VENDOR, {c[0] for c in tcl} - VENDOR
    cells = [c[-1] for c in tcl if c[0] == "create_bd_cell"]
    convs = [d["width_converter"] for s in b.manifest["scripts"]["segments"] for d in s["dmas"] if d["width_converter"]]
    assert sorted(cells) == sorted(["ps8", "fa_axis_s0_0", "fa_axis_s1_0", "dma_s0_in0", "dma_s0_out0", "dma_s1_in0",
                                    "dma_s1_out0", *convs])
    assert len(set(cells)) == len(cells)
    for k in range(2):
        assert ["create_bd_cell", "-type", "ip", "-vlnv", f"fpga-accel.org:hls:fa_axis_s{k}:10.1",
                f"fa_axis_s{k}_0"] in tcl
    auto = [c[c.index("-config") + 1].split() for c in tcl if c[0] == "apply_bd_automation" and "xilinx.com:bd_rule:axi4" in c]
    links = {(w[w.index("Master") + 1], w[w.index("Slave") + 1]) for w in auto}
    control = {("/ps8/M_AXI_HPM0_FPD", f"/{x}") for x in ("fa_axis_s0_0/s_axi_control", "fa_axis_s1_0/s_axi_control",
                                                         "dma_s0_in0/S_AXI_LITE", "dma_s0_out0/S_AXI_LITE",
                                                         "dma_s1_in0/S_AXI_LITE", "dma_s1_out0/S_AXI_LITE")}
    data = {(f"/dma_s{k}_{s}/M_AXI_{ch}", "/ps8/S_AXI_HP0_FPD") for k in range(2) for s, ch in (("in0", "MM2S"),
                                                                                              ("out0", "S2MM"))}
    assert links == control | data
    nets = {(c[1].split()[-1], c[2].split()[-1]) for c in tcl if c[0] == "connect_bd_intf_net"}
    for k in range(2):  # each IP's streams to its own DMAs (through a width converter where the widths differ)
        ins = {n for n in nets if n[1] == f"fa_axis_s{k}_0/in0"}
        outs = {n for n in nets if n[0] == f"fa_axis_s{k}_0/out0"}
        assert len(ins) == len(outs) == 1
        src = next(iter(ins))[0]
        assert src.startswith((f"dma_s{k}_in0/", f"width_s{k}_in0/"))
        assert next(iter(outs))[1] == f"dma_s{k}_out0/S_AXIS_S2MM"
    assert (tmp_path / "out/fa_overlay.bit").is_file() and (tmp_path / "out/fa_overlay.hwh").is_file()


def test_link_cfg_has_a_compute_unit_per_segment(bundles):
    b = bundles["alveo-u250"]
    cfg = (b.path / "scripts/link.cfg").read_text().splitlines()
    assert [x for x in cfg if x.startswith("nk=")] == ["nk=fa_kernel_s0:1:fa_kernel_s0_1",
                                                       "nk=fa_kernel_s1:1:fa_kernel_s1_1"]
    assert [x for x in cfg if x.startswith("sp=")] == [f"sp=fa_kernel_s{k}_1.{a}:DDR[0]" for k in range(2)
                                                       for a in ("in0", "out0")]
    hz = round(b.manifest["board"]["clock_mhz"] * 1e6)
    assert [x for x in cfg if x.startswith("freqHz=")] == [f"freqHz={hz}:fa_kernel_s{k}_1" for k in range(2)]


@pytest.mark.parametrize("hls_tool", ["vitis_hls", "v++"])
def test_zynq_build_with_stand_ins(bundles, tmp_path, monkeypatch, hls_tool):
    path = _fresh(bundles["kv260"], tmp_path)
    record = use_stand_ins(monkeypatch, tmp_path)
    rec = build(path, registry=tmp_path / "reg", echo=lambda s: None, hls_tool=hls_tool)
    got = calls(record)
    assert [c["tool"] for c in got] == [hls_tool, hls_tool, "vivado"]
    assert [rec["steps"][s]["status"] for s in ("hls_s0", "hls_s1", "vivado")] == ["done"] * 3
    state = json.loads((path / "build/state.json").read_text())["steps"]
    for k in range(2):  # each segment synthesised in its own working copy
        assert state[f"hls_s{k}"]["cwd"] == f"build/hls/s{k}"
        assert state[f"hls_s{k}"]["outputs"] and all(p.startswith(f"build/hls/s{k}/") for p in state[f"hls_s{k}"]["outputs"])
    assert sorted(p.name for p in (path / "bitstream").iterdir()) == ["bitstream.json", "fa_overlay.bit",
                                                                      "fa_overlay.hwh"]
    assert rec["registry_entry"]
    for k, seg in enumerate(rec["segments"]):  # each segment's synthesis report, read from its own folder
        assert seg["index"] == k and seg["hls"]["file"].startswith(f"build/hls/s{k}/")
        assert seg["hls"]["top"] == f"fa_axis_s{k}"
    parts = [seg["hls"]["resources"] for seg in rec["segments"]]
    assert rec["resources"]["hls_estimate"] == {r: parts[0][r] + parts[1][r] for r in parts[0]}
    assert rec["hls_tool"]["tool"] == hls_tool
    again = build(path, registry=False, echo=lambda s: None, hls_tool=hls_tool)  # resumes: nothing runs again
    assert len(calls(record)) == 3 and again["steps"]["vivado"]["status"] == "done"


def test_vitis_build_with_stand_ins(bundles, tmp_path, monkeypatch, capsys):
    path = _fresh(bundles["alveo-u250"], tmp_path)
    record = use_stand_ins(monkeypatch, tmp_path)
    assert main(["build", str(path), "--no-registry", "--hls-tool", "vitis_hls"]) == 0
    h0, h1, link = calls(record)
    assert (h0["tool"], h1["tool"], link["tool"]) == ("vitis_hls", "vitis_hls", "v++")
    argv = link["argv"]
    assert argv[argv.index("-o") + 1] == str(path / "bitstream/fa_kernel.xclbin")
    assert argv[-2].endswith("fa_kernel_s0.xo") and "/build/hls/s0/" in argv[-2]
    assert argv[-1].endswith("fa_kernel_s1.xo") and "/build/hls/s1/" in argv[-1]
    assert (path / "bitstream/fa_kernel.xclbin").is_file() and (path / "bitstream/bitstream.json").is_file()


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
@pytest.mark.parametrize("board, release, skip, tools, out", [
    ("kv260", "2024.2", ("vitis_hls",), ["v++", "v++", "vivado"], "fa_overlay.bit"),
    ("kv260", "2023.2", (), ["vitis_hls", "vitis_hls", "vivado"], "fa_overlay.bit"),
    ("alveo-u250", "2023.2", (), ["vitis_hls", "vitis_hls", "v++"], "fa_kernel.xclbin")])
def test_build_sh_runs_the_same_steps_by_hand(bundles, tmp_path, monkeypatch, board, release, skip, tools, out):
    path = _fresh(bundles[board], tmp_path)
    record = use_stand_ins(monkeypatch, tmp_path, skip=skip)
    monkeypatch.setenv("FA_STANDIN_RELEASE", release)
    proc = subprocess.run(["bash", str(path / "scripts/build.sh"), "1"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    got = calls(record)
    assert [c["tool"] for c in got] == tools
    if board == "alveo-u250":  # the link step reads the .xo each segment's step exported
        assert [a.rsplit("/", 1)[-1] for a in got[-1]["argv"][-2:]] == ["fa_kernel_s0.xo", "fa_kernel_s1.xo"]
    assert (path / "bitstream" / out).is_file()


def test_stale_scripts_are_refused(bundles, tmp_path):
    path = _fresh(bundles["kv260"], tmp_path)
    m = load_bundle(path).manifest
    m["scripts"]["segments"] = m["scripts"]["segments"][:1]
    from fpga_accel.bundle import write_manifest

    write_manifest(path, m)
    with pytest.raises(BuildError, match="describe 1 segments, the bundle has 2"):
        build(path, registry=False, echo=lambda s: None, dry_run=True)
    # (AWS F2 builds every segment into one custom logic: tests/test_dataflow_segments_f2.py)


@pytest.mark.parametrize("case", ["newline-exec", "tcl-bracket", "brace-close", "dollar-paren", "crlf-exec"])
def test_a_hostile_model_name_stays_inert_in_the_segments_scripts(bundles, tmp_path, case):
    from hostile_util import HOSTILE, with_canary

    canary = tmp_path / "canary"
    model = softmax_inside()
    model.graph.name = with_canary(HOSTILE[case], canary)
    for board in BOARDS:
        b = fpga_accel.compile(model, tmp_path / f"{board}.fpga", board=board, calib=images(32, 51), progress=False,
                               engine="dataflow")
        plain = bundles[board].path / "scripts"
        for f in sorted(p.name for p in plain.iterdir()):  # the same scripts, line for line, but for comments
            mine = [x for x in (b.path / "scripts" / f).read_text().splitlines() if not x.lstrip().startswith("#")]
            theirs = [x for x in (plain / f).read_text().splitlines() if not x.lstrip().startswith("#")]
            assert mine == theirs, f
        assert subprocess.run(["bash", "-n", str(b.path / "scripts/build.sh")], check=False).returncode == 0
    proc, tcl = run_vivado_tcl(tmp_path / "kv260.fpga/scripts/vivado_bd.tcl", tmp_path,
                               [tmp_path / "ip", tmp_path / "out", 2])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert {c[0] for c in tcl} <= VENDOR and not canary.exists()
