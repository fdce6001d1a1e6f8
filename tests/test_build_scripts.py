"""The generated build scripts: Vivado Tcl run under tclsh with recording stand-in procs, the v++
link configuration, the shell scripts checked by bash."""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from stand_ins.helpers import HERE, compile_bundle, read_tcl_record

from fpga_accel.flow.target import DMA_STREAM_WIDTHS, Target, dma_plan
from fpga_accel.flow.vivado_tcl import vivado_tcl

pytestmark = pytest.mark.skipif(shutil.which("tclsh") is None, reason="tclsh is not installed")

# every command the Vivado script may call: the stubs' vendor commands and Tcl built-ins
VENDOR = {"create_project", "get_board_parts", "get_ipdefs", "update_ip_catalog", "create_bd_design",
          "apply_bd_automation", "connect_bd_intf_net", "connect_bd_net", "assign_bd_address", "validate_bd_design",
          "save_bd_design", "launch_runs", "open_run", "add_files", "set_property", "current_project",
          "current_fileset", "get_bd_cells", "get_bd_intf_pins", "get_bd_pins", "get_files", "get_runs",
          "create_bd_cell", "make_wrapper", "get_property", "wait_on_run", "report_utilization",
          "report_timing_summary"}


def run_vivado_tcl(script, cwd, argv, env=None):
    record = cwd / "tcl_calls.txt"
    driver = (f"source {{{HERE / 'vivado_stubs.tcl'}}}\nset argv {{{' '.join(map(str, argv))}}}\n"
              f"set argc {len(argv)}\nif {{[catch {{source {{{script}}}}} msg]}} {{ puts \"ERROR: $msg\"; exit 1 }}\n")
    proc = subprocess.run(["tclsh"], input=driver, text=True, cwd=cwd, capture_output=True, check=False,
                          env={**os.environ, "FA_TCL_RECORD": str(record), **(env or {})})
    return proc, read_tcl_record(record)


def props(calls, obj):
    """The CONFIG values set with set_property -dict on ``obj``."""
    out = {}
    for c in calls:
        if c[0] == "set_property" and c[1] == "-dict" and c[-1] == obj:
            words = c[2].split()
            out.update(zip(words[::2], words[1::2]))
    return out


def index(calls, *head):
    return next(i for i, c in enumerate(calls) if tuple(c[:len(head)]) == head)


@pytest.fixture(scope="module")
def pynq_bundle(tmp_path_factory):
    return compile_bundle(tmp_path_factory.mktemp("pz2") / "m.fpga", "pynq-z2")


def test_zynq7000_block_design(pynq_bundle, tmp_path):
    m = pynq_bundle.manifest
    proc, calls = run_vivado_tcl(pynq_bundle.path / "scripts/vivado_bd.tcl", tmp_path,
                                 [tmp_path / "ip", tmp_path / "out", 3])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert {c[0] for c in calls} <= VENDOR, {c[0] for c in calls} - VENDOR
    create = calls[index(calls, "create_project")]
    assert create[create.index("-part") + 1] == m["board"]["part"]
    # the PS7 at the folded clock, HP0 and GP0 on, the newest IP version the catalog offers
    assert ["create_bd_cell", "-type", "ip", "-vlnv", "xilinx.com:ip:processing_system7:10.1", "ps7"] in calls
    ps = props(calls, "ps7")
    assert float(ps["CONFIG.PCW_FPGA0_PERIPHERAL_FREQMHZ"]) == m["board"]["clock_mhz"]
    assert ps["CONFIG.PCW_USE_S_AXI_HP0"] == "1" and ps["CONFIG.PCW_USE_M_AXI_GP0"] == "1"
    # our IP under the VLNV the HLS export gave it
    assert ["create_bd_cell", "-type", "ip", "-vlnv", "fpga-accel.org:hls:fa_axis:10.1", "fa_axis_0"] in calls
    streams = m["kernel"]["axis"]["streams"]
    for s in streams:
        dma = f"dma_{s['name']}"
        p = props(calls, dma)
        images = 1 if s["direction"] == "out" and s["tlast"] == "image" else 1024
        per_transfer = min(images, ((1 << 26) - 1) // (s["beats_per_image"] * s["tdata_bits"] // 8))
        assert p["CONFIG.c_include_sg"] == "0"
        bits = (per_transfer * s["beats_per_image"] * s["tdata_bits"] // 8).bit_length()
        assert int(p["CONFIG.c_sg_length_width"]) == max(8, bits)  # the DMA's register is 8 to 26 bits wide
        key = "CONFIG.c_m_axis_mm2s_tdata_width" if s["direction"] == "in" else "CONFIG.c_s_axis_s2mm_tdata_width"
        assert int(p[key]) == next(w for w in DMA_STREAM_WIDTHS if w >= s["tdata_bits"])  # a width the DMA has
        assert (p["CONFIG.c_include_mm2s"], p["CONFIG.c_include_s2mm"]) == (("1", "0") if s["direction"] == "in" else ("0", "1"))
        n, direct = s["name"], int(p[key]) == s["tdata_bits"]  # else through the width converter width_<n>
        pair = ([f"{dma}/M_AXIS_MM2S", f"fa_axis_0/{n}" if direct else f"width_{n}/S_AXIS"] if s["direction"] == "in"
                else [f"fa_axis_0/{n}" if direct else f"width_{n}/M_AXIS", f"{dma}/S_AXIS_S2MM"])
        assert ["connect_bd_intf_net", *pair] in calls
        mem = "M_AXI_MM2S" if s["direction"] == "in" else "M_AXI_S2MM"
        auto = next(c for c in calls if c[0] == "apply_bd_automation" and c[-1] == f"{dma}/{mem}")
        assert "Slave /ps7/S_AXI_HP0" in auto[4]
    # order: design before runs, synthesis before implementation, reports after the implemented run
    assert index(calls, "create_bd_design") < index(calls, "assign_bd_address") < index(calls, "launch_runs", "synth_1")
    assert index(calls, "launch_runs", "synth_1") < index(calls, "launch_runs", "impl_1") < index(calls, "open_run", "impl_1")
    assert index(calls, "open_run", "impl_1") < index(calls, "report_timing_summary")
    assert calls[index(calls, "launch_runs", "impl_1")][1:] == ["impl_1", "-to_step", "write_bitstream", "-jobs", "3"]
    # outputs: the overlay pair of the same stem, the clock the PS was asked for
    assert (tmp_path / "out/fa_overlay.bit").read_text().startswith("FAKE")
    assert (tmp_path / "out/fa_overlay.hwh").read_text().startswith("FAKE")
    clock = dict(line.split() for line in (tmp_path / "reports/clock.txt").read_text().splitlines())
    assert float(clock["requested_mhz"]) == m["board"]["clock_mhz"] == float(clock["actual_mhz"])
    # no board files installed here: the PS runs without the preset
    auto = next(c for c in calls if c[0] == "apply_bd_automation" and "processing_system7" in c[2])
    assert "apply_board_preset 0" in auto[4]


def test_zynq_ultrascale_block_design(tmp_path):
    b = compile_bundle(tmp_path / "zcu.fpga", "zcu104", clock_mhz=187.5)
    proc, calls = run_vivado_tcl(b.path / "scripts/vivado_bd.tcl", tmp_path, [tmp_path / "ip", tmp_path / "out"],
                                 env={"FA_STANDIN_BOARD_PART": "xilinx.com:zcu104:part0:1.1"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert ["create_bd_cell", "-type", "ip", "-vlnv", "xilinx.com:ip:zynq_ultra_ps_e:10.1", "ps8"] in calls
    assert ["set_property", "board_part", "xilinx.com:zcu104:part0:1.1", "<current_project>"] in calls
    auto = next(c for c in calls if c[0] == "apply_bd_automation" and "zynq_ultra_ps_e" in c[2])
    assert 'apply_board_preset "1"' in auto[4]
    ps = props(calls, "ps8")
    assert float(ps["CONFIG.PSU__CRL_APB__PL0_REF_CTRL__FREQMHZ"]) == 187.5
    assert ps["CONFIG.PSU__USE__S_AXI_GP2"] == "1" and ps["CONFIG.PSU__USE__M_AXI_GP0"] == "1"
    for s in b.manifest["kernel"]["axis"]["streams"]:
        assert props(calls, f"dma_{s['name']}")["CONFIG.c_addr_width"] == "64"
        mem = "M_AXI_MM2S" if s["direction"] == "in" else "M_AXI_S2MM"
        auto = next(c for c in calls if c[0] == "apply_bd_automation" and c[-1] == f"dma_{s['name']}/{mem}")
        assert "Slave /ps8/S_AXI_HP0_FPD" in auto[4]
    calls_jobs = calls[index(calls, "launch_runs", "synth_1")]
    assert calls_jobs[-1] == "2"  # the default when JOBS is not given


def test_stream_width_the_dma_lacks_gets_a_converter(tmp_path):
    streams = [{"name": "in0", "direction": "in", "tdata_bits": 24, "beats_per_image": 100},
               {"name": "out0", "direction": "out", "tdata_bits": 80, "beats_per_image": 1}]
    dmas = dma_plan(streams)
    assert [(d.dma_bits, d.converter) for d in dmas] == [(32, "width_in0"), (128, "width_out0")]
    target = Target("pynq-z2", "zynq", "xc7z020clg400-1", 100.0, board_part="*:pynq-z2:part0:*")
    script = tmp_path / "bd.tcl"
    script.write_text(vivado_tcl(target, dmas, "wide"))
    proc, calls = run_vivado_tcl(script, tmp_path, [tmp_path / "ip", tmp_path / "out"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert props(calls, "width_in0") == {"CONFIG.S_TDATA_NUM_BYTES": "4", "CONFIG.M_TDATA_NUM_BYTES": "3",
                                         "CONFIG.HAS_TLAST": "1", "CONFIG.HAS_TKEEP": "1"}
    assert props(calls, "width_out0")["CONFIG.S_TDATA_NUM_BYTES"] == "10"
    assert props(calls, "width_out0")["CONFIG.M_TDATA_NUM_BYTES"] == "16"
    assert ["connect_bd_intf_net", "dma_in0/M_AXIS_MM2S", "width_in0/S_AXIS"] in calls
    assert ["connect_bd_intf_net", "width_in0/M_AXIS", "fa_axis_0/in0"] in calls
    assert ["connect_bd_intf_net", "fa_axis_0/out0", "width_out0/S_AXIS"] in calls
    assert props(calls, "dma_in0")["CONFIG.c_m_axis_mm2s_tdata_width"] == "32"


def test_failed_run_stops_the_script(pynq_bundle, tmp_path):
    proc, calls = run_vivado_tcl(pynq_bundle.path / "scripts/vivado_bd.tcl", tmp_path,
                                 [tmp_path / "ip", tmp_path / "out"], env={"FA_STANDIN_RUN_FAIL": "impl_1"})
    assert proc.returncode == 1
    assert "run impl_1 failed" in proc.stdout and "runme.log" in proc.stdout
    assert not (tmp_path / "out/fa_overlay.bit").exists()
    assert not any(c[0] == "report_utilization" for c in calls)


def test_script_needs_its_arguments(pynq_bundle, tmp_path):
    proc, calls = run_vivado_tcl(pynq_bundle.path / "scripts/vivado_bd.tcl", tmp_path, [])
    assert proc.returncode == 1 and "usage: vivado" in proc.stdout
    assert calls == []


@pytest.mark.parametrize("board", ["alveo-u50", "alveo-u250", "aws-f1"])
def test_link_config(tmp_path, board):
    b = compile_bundle(tmp_path / "v.fpga", board)
    m = b.manifest
    cfg = (b.path / "scripts/link.cfg").read_text().splitlines()
    assert "[connectivity]" in cfg and "nk=fa_kernel:1:fa_kernel_1" in cfg
    sp = [line for line in cfg if line.startswith("sp=")]
    buffers = [a["name"] for a in m["kernel"]["args"] if a["kind"] == "m_axi"]
    assert [s.split("=")[1].split(":")[0] for s in sp] == [f"fa_kernel_1.{n}" for n in buffers]
    banks = [s.split(":")[1] for s in sp]
    if board == "alveo-u50":
        assert banks == [f"HBM[{i}]" for i in range(len(buffers))]
    else:
        assert set(banks) == {"DDR[0]"}
    assert f"freqHz={int(m['board']['clock_mhz'] * 1e6)}:fa_kernel_1" in cfg
    assert ("2025-12-20" in "\n".join(cfg)) == (board == "aws-f1")
    assert (b.path / "scripts/aws_afi.sh").exists() == (board == "aws-f1")
    assert m["scripts"]["steps"] == (["hls", "link", "afi"] if board == "aws-f1" else ["hls", "link"])


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_shell_scripts_parse(tmp_path, pynq_bundle):
    f1 = compile_bundle(tmp_path / "f1.fpga", "aws-f1")
    for path in (pynq_bundle.path / "scripts/build.sh", f1.path / "scripts/build.sh", f1.path / "scripts/aws_afi.sh"):
        proc = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True, check=False)
        assert proc.returncode == 0, (path, proc.stderr)
    text = (f1.path / "scripts/aws_afi.sh").read_text()
    assert "retired the F1 instances on 2025-12-20" in text
    assert "describe-fpga-images" in text and "-s3_dcp_key=" in text
    assert "FA_TOP=fa_axis vitis_hls -f run_hls.tcl" in (pynq_bundle.path / "scripts/build.sh").read_text()


def test_scripts_are_deterministic(tmp_path, pynq_bundle):
    again = compile_bundle(tmp_path / "again.fpga", "pynq-z2")
    for name in ("vivado_bd.tcl", "build.sh"):
        assert (again.path / "scripts" / name).read_bytes() == (pynq_bundle.path / "scripts" / name).read_bytes()
