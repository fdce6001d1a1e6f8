"""The tiled engine's AWS builds under the recording stand-ins (no AMD tool, no AWS account here): aws-f1
(fa_tiled_kernel .xo, v++ -l, the F1 AFI step → fa_tiled.awsxclbin, which the opencl backend then loads)
and aws-f2 (fa_tiled_top to the IP catalog, the generated custom logic built by the stand-in HDK script
under the Vivado stubs, the AFI); the engine's CL top checked to drive every shell output once and
elaborated with pyslang against stand-ins of the shell, sh_ddr, the crossbar, the upsizer and the IP."""
from __future__ import annotations

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
    # the CL folder holds the engine's Verilog; the synthesis made the crossbar (PCIS + three masters) and,
    # the stand-in IP exporting 32-bit ports (the CL was generated for 32 / 512 / 512), an upsizer from each
    # to the 512-bit DDR path: the CL follows the IP
    cl_dir = path / "build/hdk" / CL
    assert {"cl_fa.sv", "cl_id_defines.vh", "fa_tiled_top.v"} <= {p.name for p in (cl_dir / "design").iterdir()}
    tcl = [c[1:] if c[0] == "UNKNOWN" else c for c in read_tcl_record(cl_dir / "build/scripts/tcl_calls.txt")]
    dicts = [dict(zip(*[iter(c[2].split())] * 2)) for c in tcl if c[:2] == ["set_property", "-dict"]]
    xbar = next(d for d in dicts if "CONFIG.NUM_SI" in d)
    ups = [d for d in dicts if "CONFIG.SI_DATA_WIDTH" in d]
    assert xbar["CONFIG.NUM_SI"] == "4" and xbar["CONFIG.DATA_WIDTH"] == "512"
    assert [(u["CONFIG.SI_DATA_WIDTH"], u["CONFIG.MI_DATA_WIDTH"], u["CONFIG.PROTOCOL"]) for u in ups] == \
        [("32", "512", "AXI4")] * 3
    assert sorted(c[c.index("-module_name") + 1] for c in tcl if c[0] == "create_ip" and "axi_dwidth_converter" in c) \
        == ["fa_upsizer_gmem0", "fa_upsizer_gmem1", "fa_upsizer_gmem2"]
    sv = (cl_dir / "design/cl_fa.sv").read_text()
    assert "fa_tiled_top FA_KERNEL (" in sv
    assert [f"localparam int GMEM{k}_BITS = 32;" in sv for k in range(3)] == [True] * 3
    with tarfile.open(path / "bitstream/cl_fa.Developer_CL.tar") as t:
        manifest = t.extractfile("to_aws/fa.manifest.txt").read().decode()
    assert f"pci_device_id=0x{DEVICE_ID:04X}" in manifest
    assert rec["afi"]["agfi_id"] == "agfi-0fa4f2000000000f" and rec["timing"]["met"] is True
    # the generated driver header's offsets (the stand-in moves act_bytes by a word) replace the predictions,
    # which the f2 backend then writes
    assert load_bundle(path).manifest["scripts"]["ip"]["registers"] == {**register_map(), "act_bytes": 0x54}
    assert "cl_fa.Developer_CL.tar" in (path / "bitstream/bitstream.json").read_text()


def _dcp(bundle, tmp_path, monkeypatch, component: str, verilog: str):
    """aws_f2_dcp.sh on an exported IP of the given component.xml and Verilog (the HDK build a stand-in)."""
    ip = tmp_path / "hls/fa_hls/sol/impl/ip"
    (ip / "hdl/verilog").mkdir(parents=True)
    (ip / "component.xml").write_text(component)
    (ip / "hdl/verilog/fa_tiled_top.v").write_text(verilog)
    hdk = fake_hdk(monkeypatch, tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    proc = subprocess.run(["bash", str(bundle.path / "scripts/aws_f2_dcp.sh"), str(tmp_path / "hls"),
                           str(tmp_path / "out")], cwd=work, capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "HDK_SHELL_DIR": str(hdk)}, check=False)
    return proc, work / CL


def _model_parameter(bundle: str, bits: int) -> str:
    p = f"C_M_AXI_{bundle.upper()}_DATA_WIDTH"
    return (f'<spirit:modelParameter spirit:dataType="integer"><spirit:name>{p}</spirit:name><spirit:value '
            f'spirit:format="long" spirit:resolve="generated" spirit:id="MODELPARAM_VALUE.{p}">{bits}</spirit:value>'
            "</spirit:modelParameter>\n")


@pytest.mark.skipif(sys.platform == "win32", reason="bash script")
def test_f2_checkpoint_follows_the_exported_port_widths(bundles, tmp_path, monkeypatch):
    # component.xml says 32 / 128 / 512 (its Verilog disagrees: component.xml wins)
    component = "".join(_model_parameter(b, w) for b, w in (("gmem0", 32), ("gmem1", 128), ("gmem2", 512)))
    verilog = "".join(f"parameter C_M_AXI_GMEM{k}_DATA_WIDTH = 64;\n" for k in range(3))
    proc, cl = _dcp(bundles["aws-f2"], tmp_path, monkeypatch, component, verilog)
    assert "m_axi_gmem1: 128 bits" in proc.stdout, proc.stderr
    sv = (cl / "design/cl_fa.sv").read_text()
    tcl = (cl / "build/scripts/synth_cl_fa.tcl").read_text()
    for b, w in (("gmem0", 32), ("gmem1", 128), ("gmem2", 512)):
        assert f"  localparam int {b.upper()}_BITS = {w};" in sv and f"\nset fa_bits({b}) {w}\n" in tcl
    # the synthesis script makes an upsizer for the two narrow ports only
    record = tmp_path / "tcl_calls.txt"
    stubs = "proc print {a} {}\n" + "".join(f"proc {c} {{args}} {{ set f [open {record} a]; puts $f \"{c} $args\"; "
                                              "close $f }\n" for c in ("create_ip", "set_property", "generate_target",
                                                                        "synth_ip", "get_ips"))
    part = tcl[tcl.index("# the engine's m_axi data widths"):tcl.index("print \"Reading user constraints\"")]
    subprocess.run(["tclsh"], input=stubs + "set build_dir b\n" + part, text=True, check=True, timeout=30)
    made = [line.split("-module_name ")[1].split()[0] for line in record.read_text().splitlines()
            if line.startswith("create_ip")]
    assert made == ["fa_upsizer_gmem0", "fa_upsizer_gmem1"]


@pytest.mark.skipif(sys.platform == "win32", reason="bash script")
@pytest.mark.parametrize("verilog, why", [("parameter C_M_AXI_GMEM0_DATA_WIDTH = 1024;\n", "'1024'"),
                                          ("// no widths\n", "''")])
def test_f2_checkpoint_refuses_a_port_width_the_cl_cannot_take(bundles, tmp_path, monkeypatch, verilog, why):
    proc, _ = _dcp(bundles["aws-f2"], tmp_path, monkeypatch, "<!-- stand-in -->", verilog)
    assert proc.returncode == 1 and "has no m_axi_gmem0 width the custom logic takes" in proc.stderr
    assert f"read: {why}" in proc.stderr and not (tmp_path / "out").exists()


def test_engine_cl_top_drives_every_shell_output_once():
    sv = cl_top(engine_kernel(), "m", ip="fa_tiled_top", master_bits=ENGINE_AXI_BITS)
    assert {n: _drivers(sv, n) for n in CL_OUTPUTS if _drivers(sv, n) != 1} == {}
    # each master's crossbar slot: an upsizer's data (its ID bit tied: its master side has none) or the
    # port's own, by the master's width parameter; the slot's other ID bits tied
    for k in (1, 2, 3):
        assert f".m_axi_wdata(xs_wdata[{512 * k + 511}:{512 * k}])" in sv
        assert f"assign xs_wdata[{512 * k + 511}:{512 * k}] = gmem{k - 1}_wdata;" in sv
        assert f"assign xs_awid[{8 * k}] = 1'b0;" in sv and f"assign xs_awid[{8 * k}] = gmem{k - 1}_awid;" in sv
        assert f"assign xs_awid[{8 * k + 7}:{8 * k + 1}] = '0;" in sv
    assert "logic [GMEM2_BITS - 1:0] gmem2_wdata;" in sv and ".m_axi_gmem2_WDATA(gmem2_wdata)" in sv
    assert "localparam int GMEM0_BITS = 32;" in sv and "localparam int GMEM2_BITS = 512;" in sv


def test_engine_cl_top_elaborates_cleanly():
    pytest.importorskip("pyslang", reason="pyslang is not installed (the dev extra installs it)")
    from fakes.f2_shell import elaborate

    k = engine_kernel()
    args = (id_defines(), buffers(k), control_addr_bits(k))
    for bits in (ENGINE_AXI_BITS, {"gmem0": 32, "gmem1": 32, "gmem2": 32}, {"gmem0": 512, "gmem1": 128, "gmem2": 512}):
        sv = cl_top(k, "m", ip="fa_tiled_top", master_bits=bits)
        assert elaborate(sv, *args, ip="fa_tiled_top", master_bits=bits) == [], bits
    # the check sees a slip: the IP's ports taken as 512 bits wide where the CL wires 32
    sv = cl_top(k, "m", ip="fa_tiled_top", master_bits={"gmem0": 32, "gmem1": 32, "gmem2": 32})
    found = elaborate(sv, *args, ip="fa_tiled_top", master_bits=512)
    assert any("-Wport-width" in d for d in found), found


@pytest.mark.parametrize("bits", [1024, 16, 96, None, True])
def test_engine_cl_top_refuses_a_width_no_axi_master_has(bits):
    widths = {**ENGINE_AXI_BITS, "gmem1": bits}
    with pytest.raises(ValueError, match="m_axi_gmem1: data width"):
        cl_top(engine_kernel(), "m", ip="fa_tiled_top", master_bits=widths)


def test_width_parameters_are_for_a_cl_of_one_kernel():
    from fpga_accel.flow.aws_f2 import dcp_script
    from fpga_accel.flow.aws_f2_cl import kernels_top

    k = engine_kernel()
    with pytest.raises(ValueError, match="one kernel only"):
        kernels_top([("a", k), ("b", k)], "m", master_bits=ENGINE_AXI_BITS)
    with pytest.raises(ValueError, match="one kernel only"):
        dcp_script("m", widths_from_ip=["gmem0"], segments=2)
    with pytest.raises(ValueError, match="not a lower-case identifier"):
        dcp_script("m", "fa_tiled_top", ["gmem0/;rm"])
