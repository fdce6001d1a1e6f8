"""The tiled engine's AWS builds under the recording stand-ins (no AMD tool, no AWS account here): aws-f1
(fa_tiled_kernel .xo, v++ -l, the F1 AFI step → fa_tiled.awsxclbin, which the opencl backend then loads)
and aws-f2 (fa_tiled_top to the IP catalog, the generated custom logic built by the stand-in HDK script
under the Vivado stubs, the AFI); the engine's CL top checked to drive every shell output once and
elaborated with pyslang against stand-ins of the shell, sh_ddr, the crossbar, the upsizer and the IP."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tarfile

import numpy as np
import pytest
from stand_ins.helpers import calls, fake_hdk, read_tcl_record, use_stand_ins
from test_build_aws_f2 import _drivers

import fpga_accel
from fpga_accel.bundle import load_bundle
from fpga_accel.flow import BuildError, build
from fpga_accel.flow.aws_f2_cl import (
    CL,
    CL_OUTPUTS,
    DEVICE_ID,
    VENDOR_ID,
    buffers,
    cl_top,
    control_addr_bits,
    id_defines,
)
from fpga_accel.flow.tiled_aws import ENGINE_AXI_BITS, engine_kernel
from fpga_accel.flow.tiled_interface import register_map
from models import data

pytestmark = pytest.mark.skipif(shutil.which("tclsh") is None, reason="tclsh is not installed")


def _compile(dest, board, name="mnist_cnn"):
    return fpga_accel.compile(data.model_path(name), dest, calib=data.load_calib(name), progress=False,
                              engine="tiled", board=board)


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    d = tmp_path_factory.mktemp("tiled-aws")
    return {"aws-f1": _compile(d / "f1.fpga", "aws-f1", "resnet_ds"), "aws-f2": _compile(d / "f2.fpga", "aws-f2")}


def _fresh(bundle, tmp_path):
    dest = tmp_path / bundle.path.name
    shutil.copytree(bundle.path, dest)
    return dest


def test_the_records_name_the_cloud_steps(bundles):
    f1, f2 = (bundles[b].manifest["scripts"] for b in ("aws-f1", "aws-f2"))
    assert f1["steps"] == ["hls", "link", "afi"] and f1["hls"]["top"] == "fa_tiled_kernel"
    assert f1["afi_output"] == "fa_tiled.awsxclbin" and "retired" in f1["note"]
    assert f2["steps"] == ["hls", "hdk", "afi"] and f2["hls"]["top"] == "fa_tiled_top"
    assert f2["pci_ids"] == {"vendor": VENDOR_ID, "device": DEVICE_ID} and f2["master_bits"] == ENGINE_AXI_BITS
    assert f2["ip"]["registers"] == register_map()
    # the engine IP as the CL generator sees it: three masters, the control block up to act_bytes
    k = engine_kernel()
    assert buffers(k) == ["gmem0", "gmem1", "gmem2"] and 2 ** control_addr_bits(k) > register_map()["act_bytes"] + 4


def test_f1_build_then_the_opencl_backend_loads_the_awsxclbin(bundles, tmp_path, monkeypatch):
    path = _fresh(bundles["aws-f1"], tmp_path)
    record = use_stand_ins(monkeypatch, tmp_path)
    monkeypatch.setenv("AWS_PLATFORM", "/opt/aws-fpga/f1_shell.xpfm")  # as aws-fpga's vitis_setup.sh exports it
    with pytest.raises(BuildError, match="S3 bucket.*retired the F1 instances"):
        build(path, registry=False, echo=lambda s: None, hls_tool="vitis_hls")
    rec = build(path, registry=tmp_path / "reg", s3_bucket="fa-test-bucket", echo=lambda s: None, hls_tool="vitis_hls")
    run = calls(record)
    assert [c["tool"] for c in run] == ["vitis_hls", "v++", "create_vitis_afi.sh", "aws", "aws"]
    link, afi = run[1]["argv"], run[2]["argv"]
    assert link[link.index("--platform") + 1] == "/opt/aws-fpga/f1_shell.xpfm" and link[-1].endswith("fa_tiled_kernel.xo")
    assert "-xclbin=" + str(path / "bitstream/fa_tiled.xclbin") in afi and "-o=fa_tiled" in afi
    assert rec["afi"]["agfi_id"] == "agfi-0fa4e0000000000f"
    assert sorted(p.name for p in (path / "bitstream").iterdir()) == ["afi.json", "bitstream.json", "fa_tiled.awsxclbin",
                                                                      "fa_tiled.xclbin"]
    # on the instance: XRT loads the .awsxclbin (the AGFI), not the linked .xclbin beside it
    from test_tiled_opencl_xrt import _fake, _images

    b = load_bundle(path)
    fake = _fake(monkeypatch, b)
    feeds = _images(b, 2)
    with fpga_accel.Session(b, backend="opencl", timeout=30.0) as s:
        assert s.backend.mode == "binary"
        got = s.run(feeds)
    with fpga_accel.Session(b, backend="emulator") as e:
        want = e.run(feeds)
    assert all(np.array_equal(got[k], want[k]) for k in want)
    (prog,) = fake.programs
    assert prog.binaries == [(path / "bitstream/fa_tiled.awsxclbin").read_bytes()]


def test_f2_build_end_to_end(bundles, tmp_path, monkeypatch):
    path = _fresh(bundles["aws-f2"], tmp_path)
    record = use_stand_ins(monkeypatch, tmp_path)
    fake_hdk(monkeypatch, tmp_path)
    rec = build(path, s3_bucket="fa-test-bucket", registry=tmp_path / "reg", echo=lambda s: None,
                hls_tool="vitis_hls")
    run = calls(record)
    assert [c["tool"] for c in run] == ["vitis_hls", "aws_build_dcp_from_cl.py", "aws", "aws", "aws", "aws"]
    hls = read_tcl_record(next((path / "build/hls").rglob("tcl_calls.txt")))
    (export,) = [c for c in hls if c[0] == "export_design"]
    assert export[export.index("-format") + 1] == "ip_catalog" and export[export.index("-ipname") + 1] == "fa_tiled_top"
    assert ["set_top", "fa_tiled_top"] in hls and next(c for c in hls if c[0] == "open_solution")[-1] == "vivado"
    # the CL folder holds the engine's Verilog; the synthesis made the crossbar (PCIS + three masters) and
    # the upsizer from the engine's 32-bit ports to the 512-bit DDR path
    cl_dir = path / "build/hdk" / CL
    assert {"cl_fa.sv", "cl_id_defines.vh", "fa_tiled_top.v"} <= {p.name for p in (cl_dir / "design").iterdir()}
    tcl = [c[1:] if c[0] == "UNKNOWN" else c for c in read_tcl_record(cl_dir / "build/scripts/tcl_calls.txt")]
    dicts = [dict(zip(*[iter(c[2].split())] * 2)) for c in tcl if c[:2] == ["set_property", "-dict"]]
    xbar = next(d for d in dicts if "CONFIG.NUM_SI" in d)
    up = next(d for d in dicts if "CONFIG.SI_DATA_WIDTH" in d)
    assert xbar["CONFIG.NUM_SI"] == "4" and xbar["CONFIG.DATA_WIDTH"] == "512"
    assert (up["CONFIG.SI_DATA_WIDTH"], up["CONFIG.MI_DATA_WIDTH"], up["CONFIG.PROTOCOL"]) == ("32", "512", "AXI4")
    assert any(c[0] == "create_ip" and "axi_dwidth_converter" in c and "fa_upsizer" in c for c in tcl)
    sv = (cl_dir / "design/cl_fa.sv").read_text()
    assert "fa_tiled_top FA_KERNEL (" in sv and sv.count("fa_upsizer UP_GMEM") == 3
    with tarfile.open(path / "bitstream/cl_fa.Developer_CL.tar") as t:
        manifest = t.extractfile("to_aws/fa.manifest.txt").read().decode()
    assert f"pci_device_id=0x{DEVICE_ID:04X}" in manifest
    assert rec["afi"]["agfi_id"] == "agfi-0fa4f2000000000f" and rec["timing"]["met"] is True
    # the generated driver header's offsets (the stand-in moves act_bytes by a word) replace the predictions,
    # which the f2 backend then writes
    assert load_bundle(path).manifest["scripts"]["ip"]["registers"] == {**register_map(), "act_bytes": 0x54}
    assert "cl_fa.Developer_CL.tar" in (path / "bitstream/bitstream.json").read_text()


@pytest.mark.skipif(sys.platform == "win32", reason="bash script")
def test_f2_checkpoint_refuses_an_engine_with_other_port_widths(bundles, tmp_path, monkeypatch):
    ip = tmp_path / "hls/fa_hls/sol/impl/ip"
    (ip / "hdl/verilog").mkdir(parents=True)
    (ip / "component.xml").write_text("<!-- stand-in -->")
    (ip / "hdl/verilog/fa_tiled_top.v").write_text("parameter C_M_AXI_GMEM0_DATA_WIDTH = 512;\n")
    hdk = fake_hdk(monkeypatch, tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    proc = subprocess.run(["bash", str(bundles["aws-f2"].path / "scripts/aws_f2_dcp.sh"), str(tmp_path / "hls"),
                           str(tmp_path / "out")], cwd=work, capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "HDK_SHELL_DIR": str(hdk)}, check=False)
    assert proc.returncode == 1 and "does not have a 32-bit m_axi_gmem0 port" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_engine_cl_top_drives_every_shell_output_once():
    sv = cl_top(engine_kernel(), "m", ip="fa_tiled_top", master_bits=ENGINE_AXI_BITS)
    assert {n: _drivers(sv, n) for n in CL_OUTPUTS if _drivers(sv, n) != 1} == {}
    # each master's whole crossbar slot: the upsizer's data, its ID tied (the upsizer's master side has none)
    for k in (1, 2, 3):
        assert f".m_axi_wdata(xs_wdata[{512 * k + 511}:{512 * k}])" in sv
        assert f"assign xs_awid[{8 * k + 7}:{8 * k}] = '0;" in sv
    assert re.search(r"logic \[31:0\] gmem2_wdata;", sv) and ".m_axi_gmem2_WDATA(gmem2_wdata)" in sv


def test_engine_cl_top_elaborates_cleanly():
    pytest.importorskip("pyslang", reason="pyslang is not installed (the dev extra installs it)")
    from fakes.f2_shell import elaborate

    k = engine_kernel()
    sv = cl_top(k, "m", ip="fa_tiled_top", master_bits=ENGINE_AXI_BITS)
    args = (id_defines(), buffers(k), control_addr_bits(k))
    assert elaborate(sv, *args, ip="fa_tiled_top", master_bits=ENGINE_AXI_BITS) == []
    # the check sees a slip: the IP's ports taken as 512 bits wide where the CL wires 32
    found = elaborate(sv, *args, ip="fa_tiled_top", master_bits=512)
    assert any("-Wport-width" in d for d in found), found
