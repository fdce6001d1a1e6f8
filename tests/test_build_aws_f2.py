"""The AWS F2 flow (aws-f2, the HDK custom-logic flow) under the recording stand-ins: fa_kernel
exported as IP, the generated CL folder built by the stand-in aws_build_dcp_from_cl.py (which runs
the CL's synthesis Tcl under the Vivado stubs after the checks the HDK's script makes), the S3
upload and create-fpga-image; and the CL top's wiring checked against the shell's port list."""
from __future__ import annotations

import json
import re
import shutil
import tarfile
from pathlib import Path

import pytest
from stand_ins.helpers import calls, compile_bundle, fake_hdk, fresh_copy, read_tcl_record, use_stand_ins

from fpga_accel.flow import ToolFailedError, build
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

pytestmark = pytest.mark.skipif(shutil.which("tclsh") is None, reason="tclsh is not installed")


@pytest.fixture(scope="module")
def f2_bundle(tmp_path_factory):
    return compile_bundle(tmp_path_factory.mktemp("f2") / "f2.fpga", "aws-f2")


def _stand_ins(monkeypatch, tmp_path, bundle, tool="vitis_hls"):
    record = use_stand_ins(monkeypatch, tmp_path, kernel_args=[a["name"] for a in bundle.manifest["kernel"]["args"]])
    fake_hdk(monkeypatch, tmp_path)
    monkeypatch.setenv("FA_HLS_TOOL", tool)
    return record


@pytest.mark.parametrize("tool", ["vitis_hls", "v++"])
def test_f2_build_end_to_end(f2_bundle, tmp_path, monkeypatch, tool):
    path = fresh_copy(f2_bundle, tmp_path)
    record = _stand_ins(monkeypatch, tmp_path, f2_bundle, tool)
    rec = build(path, s3_bucket="fa-test-bucket", registry=tmp_path / "reg", echo=lambda s: None)
    run = calls(record)
    assert [c["tool"] for c in run] == [tool, "aws_build_dcp_from_cl.py", "aws", "aws", "aws", "aws"]

    # hls: fa_kernel to the IP catalog (not an .xo), with the Verilog the CL takes
    hls_rec = read_tcl_record(next((path / "build/hls").rglob("tcl_calls.txt")))
    (export,) = [c for c in hls_rec if c[0] == "export_design"]
    assert export[export.index("-format") + 1] == "ip_catalog"
    if tool == "v++":  # the config the stand-in parsed names the IP
        cfg = json.loads(Path(str(record) + ".configs").read_text().splitlines()[0])["config"]
        assert (cfg["flow_target"], cfg["syn.top"], cfg["package.ip.name"]) == ("vivado", "fa_kernel", "fa_kernel")
    else:
        assert export[export.index("-ipname") + 1] == "fa_kernel"
    assert not list((path / "build/hls").rglob("*.xo"))

    # hdk: the HDK's script ran from the CL folder, which holds the kernel's Verilog; the synthesis Tcl
    # read every CL source, made the crossbar for PCIS + one master per buffer, and synthesised cl_fa
    hdk = run[1]
    assert hdk["argv"][:4] == ["--cl", CL, "--tag", "fa"] and hdk["cwd"].endswith(f"build/hdk/{CL}/build/scripts")
    cl_dir = path / "build/hdk" / CL
    assert {"cl_fa.sv", "cl_id_defines.vh", "fa_kernel.v"} <= {p.name for p in (cl_dir / "design").iterdir()}
    tcl = [c[1:] if c[0] == "UNKNOWN" else c for c in read_tcl_record(cl_dir / "build/scripts/tcl_calls.txt")]
    read = " ".join(c[-1] for c in tcl if c[0] == "read_verilog")
    assert all(f"src_post_encryption/{f}" in read for f in ("cl_fa.sv", "fa_kernel.v", "cl_id_defines.vh"))
    props = dict(zip(*[iter(next(c[2] for c in tcl if c[:2] == ["set_property", "-dict"]).split())] * 2))
    buffers = [a for a in f2_bundle.manifest["kernel"]["args"] if a["kind"] == "m_axi"]
    assert props["CONFIG.NUM_SI"] == str(1 + len(buffers)) and props["CONFIG.DATA_WIDTH"] == "512"
    assert any(c[0] == "create_ip" and "axi_crossbar" in c for c in tcl)
    (synth,) = [c for c in tcl if c[0] == "synth_design"]
    assert synth[synth.index("-top") + 1] == CL  # ${CL} as the HDK's build_all.tcl sets it

    # the tarball: the HDK manifest carries the CL's PCI IDs (which the f2 backend checks on the card)
    with tarfile.open(path / "bitstream/cl_fa.Developer_CL.tar") as t:
        manifest = t.extractfile("to_aws/fa.manifest.txt").read().decode()
    assert f"pci_vendor_id=0x{VENDOR_ID:04X}" in manifest and f"pci_device_id=0x{DEVICE_ID:04X}" in manifest

    # afi: the uploaded key is the one create-fpga-image is given
    cp, create = run[2]["argv"], run[3]["argv"]
    assert cp[:2] == ["s3", "cp"] and cp[-2] == str(path / "bitstream/cl_fa.Developer_CL.tar")
    dest = cp[-1]
    loc = create[create.index("--input-storage-location") + 1]
    assert dest == "s3://fa-test-bucket/fpga-accel/main_graph/dcp/cl_fa.Developer_CL.tar"
    assert loc == "Bucket=fa-test-bucket,Key=fpga-accel/main_graph/dcp/cl_fa.Developer_CL.tar"
    assert create[create.index("--logs-storage-location") + 1] == "Bucket=fa-test-bucket,Key=fpga-accel/main_graph/logs/"
    assert [c["argv"][:2] for c in run[4:]] == [["ec2", "describe-fpga-images"]] * 2  # pending, then available
    assert rec["afi"]["afi_id"] == "afi-0fa4f2000000000f" and rec["afi"]["agfi_id"] == "agfi-0fa4f2000000000f"
    assert rec["afi"]["slot_load"] == "sudo fpga-load-local-image -S 0 -I agfi-0fa4f2000000000f"
    # the worst slack of the HDK's post-route timing report in the build record
    assert rec["timing"]["wns_ns"] == 0.1 and rec["timing"]["met"] is True and rec["timing"]["paths"] == 3
    assert rec["timing"]["file"].endswith("build/reports/cl_fa.fa.post_route_timing.rpt")
    entry = (path / "bitstream/bitstream.json").read_text()
    assert "cl_fa.Developer_CL.tar" in entry and "afi.json" in entry


def test_f2_design_missing_timing_is_refused(f2_bundle, tmp_path, monkeypatch):
    path = fresh_copy(f2_bundle, tmp_path)
    _stand_ins(monkeypatch, tmp_path, f2_bundle)
    monkeypatch.setenv("FA_STANDIN_WNS", "-0.250")
    with pytest.raises(ToolFailedError, match="misses timing at 250 MHz"):
        build(path, s3_bucket="b", registry=False, echo=lambda s: None)
    assert not (path / "bitstream/cl_fa.Developer_CL.tar").exists()
    rec = build(path, steps=["hls", "hdk"], registry=False, echo=lambda s: None, allow_timing_failure=True)
    assert rec["steps"]["hdk"]["status"] == "done" and (path / "bitstream/cl_fa.Developer_CL.tar").is_file()
    assert rec["timing"]["wns_ns"] == -0.25 and rec["timing"]["met"] is False and rec["timing"]["failure_allowed"]


def test_f2_afi_step_needs_a_bucket(f2_bundle, tmp_path, monkeypatch):
    from fpga_accel.flow import BuildError

    path = fresh_copy(f2_bundle, tmp_path)
    _stand_ins(monkeypatch, tmp_path, f2_bundle)
    with pytest.raises(BuildError, match="step 'afi' needs an S3 bucket.*AWS F2 has no Vitis"):
        build(path, registry=False, echo=lambda s: None)


def _drivers(sv: str, name: str) -> int:
    """How many places drive ``name``: assigns, instance port connections, always_ff/comb targets."""
    assign = len(re.findall(rf"\bassign\s+{name}\s*=", sv))
    port = len(re.findall(rf"\.\w+\(\s*{name}\s*\)", sv))
    flop = len(re.findall(rf"(?<![.\w]){name}\s*<=", sv))
    return assign + port + (1 if flop else 0)


@pytest.mark.parametrize("n_in,n_out", [(1, 1), (2, 1), (1, 3)])
def test_cl_top_drives_every_shell_output_once(n_in, n_out):
    args = [{"name": f"in{i}", "kind": "m_axi", "bundle": f"gmem{i}", "offset": 0x10 + 12 * i} for i in range(n_in)]
    args += [{"name": f"out{i}", "kind": "m_axi", "bundle": f"gmem{n_in + i}", "offset": 0x10 + 12 * (n_in + i)}
             for i in range(n_out)]
    args.append({"name": "n_images", "kind": "scalar", "offset": 0x10 + 12 * (n_in + n_out)})
    sv = cl_top({"args": args}, "m\nendmodule // x")
    code = [line.split("//")[0] for line in sv.splitlines()]  # the model name stays inside one comment line
    assert sv.splitlines()[0].startswith("// Custom logic of 'm_endmodule")
    assert sum(line.startswith("module ") for line in code) == 1 and sum("endmodule" in line for line in code) == 1
    bad = {n: _drivers(sv, n) for n in CL_OUTPUTS if _drivers(sv, n) != 1}
    assert bad == {}
    assert sv.count("(") == sv.count(")") and sv.count("{") == sv.count("}")
    for g in [a["bundle"] for a in args if a["kind"] == "m_axi"]:
        assert f".m_axi_{g}_AWVALID(" in sv and f".m_axi_{g}_RREADY(" in sv
    # the OCL address bits reach the kernel's last register
    bits = control_addr_bits({"args": args})
    assert 2 ** bits > args[-1]["offset"] + 4 and f"ocl_cl_awaddr[{bits - 1}:0]" in sv
    # every crossbar slot bus is declared as wide as its slots
    n_si = 1 + n_in + n_out
    assert f"logic [{n_si * 512 - 1}:0] xs_wdata;" in sv and f"logic [{n_si * 8 - 1}:0] xs_awid;" in sv


def test_f2_without_the_hdk_says_how_to_get_it(f2_bundle, tmp_path, monkeypatch):
    from fpga_accel.flow import ToolNotFoundError

    path = fresh_copy(f2_bundle, tmp_path)
    use_stand_ins(monkeypatch, tmp_path, skip=("aws_build_dcp_from_cl.py",))
    monkeypatch.setenv("FA_HLS_TOOL", "vitis_hls")
    with pytest.raises(ToolNotFoundError, match=r"(?s)aws_build_dcp_from_cl\.py.*branch f2.*hdk_setup\.sh") as e:
        build(path, s3_bucket="b", registry=False, echo=lambda s: None)
    assert "aws_f2_dcp.sh" in str(e.value)  # the commands to run by hand


def test_f2_cli_build_prints_the_afi(f2_bundle, tmp_path, monkeypatch, capsys):
    from fpga_accel.cli import main

    path = fresh_copy(f2_bundle, tmp_path)
    _stand_ins(monkeypatch, tmp_path, f2_bundle)
    assert main(["build", str(path), "--s3-bucket", "fa-test-bucket", "--no-registry"]) == 0
    out = capsys.readouterr().out
    assert "AFI             afi-0fa4f2000000000f / agfi-0fa4f2000000000f (available)" in out
    assert main(["build", str(path), "--dry-run"]) == 0
    assert "[done] hdk: cd" in capsys.readouterr().out


@pytest.mark.parametrize("n_in,n_out", [(1, 1), (3, 2)])
def test_cl_top_elaborates_cleanly(n_in, n_out):
    """slang elaborates cl_fa.sv against stand-ins for the shell's ports, sh_ddr, the crossbar and the
    HLS IP (tests/fakes/f2_shell.py) with no error or warning: widths, names and directions agree."""
    pytest.importorskip("pyslang", reason="pyslang is not installed (the dev extra installs it)")
    from fakes.f2_shell import elaborate

    args = [{"name": f"in{i}", "kind": "m_axi", "bundle": f"gmem{i}", "offset": 0x10 + 12 * i} for i in range(n_in)]
    args += [{"name": f"out{i}", "kind": "m_axi", "bundle": f"gmem{n_in + i}", "offset": 0x10 + 12 * (n_in + i)}
             for i in range(n_out)]
    args.append({"name": "n_images", "kind": "scalar", "offset": 0x10 + 12 * (n_in + n_out)})
    k = {"args": args}
    assert elaborate(cl_top(k, "m"), id_defines(), buffers(k), control_addr_bits(k)) == []
    # the check sees a slip: a bus one slot too narrow
    broken = cl_top(k, "m").replace(f"logic [{(1 + n_in + n_out) * 512 - 1}:0] xs_wdata;",
                                    f"logic [{(n_in + n_out) * 512 - 1}:0] xs_wdata;")
    found = elaborate(broken, id_defines(), buffers(k), control_addr_bits(k))
    assert any("-Wrange-oob" in d for d in found) and any("-Wport-width-expand" in d for d in found), found
