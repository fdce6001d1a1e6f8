"""A bundle of several dataflow segments on AWS F2: one HDK custom logic holds every segment's kernel
``fa_kernel_s<k>`` (its masters on the memory crossbar after PCIS, its registers on OCL at k · 0x1000
through ``fa_ctrl_xbar``), built by ``fpga-accel build`` under the recording stand-ins (hls per segment,
hdk, afi; tclsh runs the CL's synthesis Tcl under the Vivado stubs) and elaborated with slang against
stand-ins of the shell, the crossbars and the IPs; the f2 backend runs the kernels in turn with the
host steps between them on the card model (tests/fakes/f2_card.py, several kernels) == emulator bit
for bit. Nothing here ran on an F2 instance."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from fakes.f2_card import F2SegmentsCard, FakeFpgaMgmt
from stand_ins.helpers import calls, fake_hdk, read_tcl_record, use_stand_ins
from test_build_aws_f2 import _drivers
from test_dataflow_segments import residual_lrn
from test_segments_float import images, softmax_inside

import fpga_accel
from fpga_accel.bundle import load_bundle
from fpga_accel.bundle_model import load_qmodel
from fpga_accel.emulator import run_layers
from fpga_accel.flow import build
from fpga_accel.flow.aws_f2_cl import CL, CL_OUTPUTS, buffers, control_addr_bits, id_defines, segments_cl_files
from fpga_accel.runtime import BackendUnavailable, SessionTimeout
from fpga_accel.runtime.f2_driver import libs
from fpga_accel.runtime.session import Session

AGFI = "agfi-0fa4f2000000000f"


@pytest.fixture(scope="module")
def graphs(tmp_path_factory):
    d = tmp_path_factory.mktemp("dseg-f2")
    soft = fpga_accel.compile(softmax_inside(), d / "s.fpga", board="aws-f2", calib=images(32, 51), progress=False,
                              engine="dataflow")
    forced = fpga_accel.compile(residual_lrn(), d / "r.fpga", board="aws-f2", calib=images(32, 61), progress=False,
                                engine="dataflow", host_layers=["norm"])
    return {"softmax": soft, "forced": forced}


def _kernels(b):
    return [load_bundle(b.path / s["path"]).manifest["kernel"] for s in b.manifest["segments"]["list"]]


# --- the build -------------------------------------------------------------------------------------
def test_the_scripts_describe_one_cl_with_every_segments_kernel(graphs):
    m = graphs["softmax"].manifest["scripts"]
    assert m["steps"] == ["hls_s0", "hls_s1", "hdk", "afi"] and m["cl_dir"] == f"scripts/f2/{CL}"
    assert [(s["top"], s["control_base"]) for s in m["segments"]] == [("fa_kernel_s0", 0), ("fa_kernel_s1", 0x1000)]
    assert m["pci_ids"] == {"vendor": 0x1D0F, "device": 0xF0FA}


@pytest.mark.skipif(shutil.which("tclsh") is None, reason="tclsh is not installed")
def test_f2_build_of_every_segment_with_stand_ins(graphs, tmp_path, monkeypatch):
    b = graphs["softmax"]
    path = tmp_path / "b.fpga"
    shutil.copytree(b.path, path)
    record = use_stand_ins(monkeypatch, tmp_path, kernel_args=["in0", "out0", "n_images"])
    fake_hdk(monkeypatch, tmp_path)
    monkeypatch.setenv("FA_HLS_TOOL", "vitis_hls")
    rec = build(path, s3_bucket="fa-test-bucket", registry=False, echo=lambda s: None)
    run = calls(record)
    assert [c["tool"] for c in run] == ["vitis_hls", "vitis_hls", "aws_build_dcp_from_cl.py", "aws", "aws", "aws",
                                        "aws"]
    assert [rec["steps"][s]["status"] for s in ("hls_s0", "hls_s1", "hdk", "afi")] == ["done"] * 4
    for k in range(2):  # each segment exported to the IP catalog under the name its CL instance uses
        hls_rec = read_tcl_record(next((path / f"build/hls/s{k}").rglob("tcl_calls.txt")))
        (export,) = [c for c in hls_rec if c[0] == "export_design"]
        assert export[export.index("-format") + 1] == "ip_catalog"
        assert export[export.index("-ipname") + 1] == f"fa_kernel_s{k}"
    cl_dir = path / "build/hdk" / CL
    design = {p.name for p in (cl_dir / "design").iterdir()}
    assert {"cl_fa.sv", "cl_id_defines.vh", "fa_kernel_s0.v", "fa_kernel_s1.v"} <= design
    sv = (cl_dir / "design/cl_fa.sv").read_text()
    assert "fa_kernel_s0 FA_KERNEL_S0 (" in sv and "fa_kernel_s1 FA_KERNEL_S1 (" in sv and "FA_CTRL_XBAR" in sv
    tcl = [c[1:] if c[0] == "UNKNOWN" else c for c in read_tcl_record(cl_dir / "build/scripts/tcl_calls.txt")]
    props = [dict(zip(*[iter(c[2].split())] * 2)) for c in tcl if c[:2] == ["set_property", "-dict"]]
    mem, ctrl = props  # fa_xbar, then fa_ctrl_xbar
    n_buf = sum(len(buffers(k)) for k in _kernels(b))
    assert mem["CONFIG.NUM_SI"] == str(1 + n_buf) and mem["CONFIG.DATA_WIDTH"] == "512"
    assert (ctrl["CONFIG.PROTOCOL"], ctrl["CONFIG.NUM_MI"]) == ("AXI4LITE", "2")
    assert [ctrl[f"CONFIG.M0{k}_A00_BASE_ADDR"] for k in range(2)] == ["0x00000000", "0x00001000"]
    assert ctrl["CONFIG.M01_A00_ADDR_WIDTH"] == "12"
    assert [c[c.index("-module_name") + 1] for c in tcl if c[0] == "create_ip"] == ["fa_xbar", "fa_ctrl_xbar"]
    assert (path / "bitstream/cl_fa.Developer_CL.tar").is_file()
    assert rec["afi"]["agfi_id"] == AGFI


def test_a_clash_between_two_segments_files_is_refused(graphs, tmp_path):
    """The checkpoint script copies every segment's Verilog into one folder: a file name two IPs share stops it."""
    import subprocess

    script = graphs["softmax"].path / "scripts/aws_f2_dcp.sh"
    hls, out = tmp_path / "hls", tmp_path / "out"
    for k in range(2):
        d = hls / f"s{k}/proj/impl/ip"
        (d / "hdl/verilog").mkdir(parents=True)
        (d / "component.xml").write_text("<x/>")
        (d / "hdl/verilog/shared.v").write_text("module shared; endmodule\n")
    work = tmp_path / "work"
    work.mkdir()
    r = subprocess.run(["bash", str(script), str(hls), str(out)], cwd=work, capture_output=True, text=True,
                       env={"PATH": "/usr/bin:/bin", "HDK_SHELL_DIR": str(tmp_path)}, timeout=60, check=False)
    assert r.returncode == 1 and "two segments' IPs both export shared.v" in r.stderr


def test_every_shell_output_is_driven_once_and_the_cl_elaborates(graphs):
    pytest.importorskip("pyslang", reason="pyslang is not installed (the dev extra installs it)")
    from fakes.f2_shell import elaborate_kernels

    for b in graphs.values():
        kernels = _kernels(b)
        sv = segments_cl_files(kernels, "m")["design/cl_fa.sv"]
        bad = {n: _drivers(sv, n) for n in CL_OUTPUTS if _drivers(sv, n) != 1}
        assert bad == {}
        ips = [(f"fa_kernel_s{k}", buffers(kern), control_addr_bits(kern)) for k, kern in enumerate(kernels)]
        assert elaborate_kernels(sv, id_defines(), ips) == []
        # the check sees a slip: the control crossbar's address bus one slot too narrow
        n = len(kernels)
        broken = sv.replace(f"logic [{n * 32 - 1}:0] cm_awaddr;", f"logic [{(n - 1) * 32 - 1}:0] cm_awaddr;")
        assert any("-Wport-width" in d or "-Wrange-oob" in d for d in elaborate_kernels(broken, id_defines(), ips))


def test_a_kernel_whose_registers_overflow_its_window_is_refused(graphs):
    kernels = _kernels(graphs["softmax"])
    big = dict(kernels[1], args=[*kernels[1]["args"], {"name": "far", "kind": "scalar", "offset": 0x1000}])
    with pytest.raises(ValueError, match="segment 1's kernel has 13 control address bits, more than its 12-bit window"):
        segments_cl_files([kernels[0], big], "m")


# --- the runtime on the card model -------------------------------------------------------------------
def _with_afi(b, tmp_path):
    dest = tmp_path / b.path.name
    shutil.copytree(b.path, dest)
    (dest / "bitstream").mkdir(exist_ok=True)
    (dest / "bitstream/afi.json").write_text(json.dumps({"afi_id": "afi-0fa4f2000000000f", "agfi_id": AGFI}))
    return load_bundle(dest)


@pytest.fixture
def card(monkeypatch):
    """``card(bundle, **options)``: the card with every segment's kernel that the next session opens."""
    monkeypatch.setenv("FA_FPGA_MGMT_LIB", "/stand-in/libfpga_mgmt.so")

    def make(bundle, **kw):
        subs = [load_bundle(bundle.path / s["path"]) for s in bundle.manifest["segments"]["list"]]
        c = F2SegmentsCard([(s.manifest, load_qmodel(s)) for s in subs], **kw)
        lib = FakeFpgaMgmt(c)
        monkeypatch.setattr(libs, "load", lambda path=None: libs.bind(lib))
        return c
    return make


@pytest.mark.parametrize("graph, seed, n", [("softmax", 111, 6), ("forced", 112, 5)])
def test_f2_runs_every_segment_in_turn_bit_exact(graphs, tmp_path, card, graph, seed, n):
    b = _with_afi(graphs[graph], tmp_path)
    c = card(b)
    qm = load_qmodel(b)
    with Session(b, backend="emulator") as s:
        q = s.hardware_inputs(images(n, seed))
        emu = s.run(q, raw=True)
    with Session(b, backend="f2", batch_size=4) as s:
        assert s.backend.name == "f2" and len(s.backend.segments) == 2
        got = s.run(q, raw=True)
    every = run_layers(qm, q, threads=1, fuse=False)
    for t in qm.outputs:
        np.testing.assert_array_equal(got[t.name], every[t.name])
        np.testing.assert_array_equal(got[t.name], emu[t.name])
    assert c.violations == []
    # every kernel started once per batch, in the order of the steps
    assert c.order == [0, 1, 0, 1] and [k.starts for k in c.kernels] == [[4, n - 4], [4, n - 4]]


def test_another_cl_in_the_slot_is_refused(graphs, tmp_path, card):
    b = _with_afi(graphs["softmax"], tmp_path)
    card(b, ids=(0x1D0F, 0xF001))
    with pytest.raises(BackendUnavailable, match=rf"slot 0 holds PCI IDs 1d0f:f001, not the bundle's CL .* -I {AGFI}"):
        Session(b, backend="f2")


def test_a_segment_kernel_that_never_finishes_times_out(graphs, tmp_path, card):
    b = _with_afi(graphs["softmax"], tmp_path)
    c = card(b, hang=1)
    with Session(b, backend="f2", timeout=0.5) as s, pytest.raises(SessionTimeout, match="fa_kernel_s1 did not finish"):
        s.run(images(2, 113))
    assert c.order == [0, 1]


def test_f2_without_the_segments_build_record_is_unavailable(graphs, tmp_path):
    from fpga_accel.bundle import write_manifest
    from fpga_accel.runtime.backends import availability, get_backend

    b = _with_afi(graphs["softmax"], tmp_path)
    m = dict(b.manifest)
    m["scripts"] = dict(m["scripts"], segments=[dict(s, control_base=0x2000) for s in m["scripts"]["segments"]])
    for k in ("manifest_sha256", "manifest_hmac"):
        m.pop(k)
    write_manifest(b.path, m)
    why = availability(get_backend("f2"), load_bundle(b.path))
    assert "segment 0's control registers are recorded at 0x2000, not at 0x0" in why


@pytest.mark.parametrize("case", ["newline-exec", "dollar-paren"])
def test_a_hostile_model_name_stays_inert_in_the_f2_scripts(graphs, tmp_path, case):
    import subprocess

    from hostile_util import HOSTILE, with_canary

    model = softmax_inside()
    model.graph.name = with_canary(HOSTILE[case], tmp_path / "canary")
    b = fpga_accel.compile(model, tmp_path / "h.fpga", board="aws-f2", calib=images(32, 51), progress=False,
                           engine="dataflow")
    plain = graphs["softmax"].path / "scripts"
    files = sorted(p.relative_to(plain) for p in plain.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(b.path / "scripts") for p in (b.path / "scripts").rglob("*") if p.is_file())
    def code(path):
        return [x for x in path.read_text().splitlines() if not x.lstrip().startswith(("#", "//", "prefix="))]

    for f in files:  # the same files, line for line, but for comments and the S3 prefix (a file stem of the name)
        assert code(b.path / "scripts" / f) == code(plain / f), f
    import re

    (prefix,) = [x for x in (b.path / "scripts/aws_f2_afi.sh").read_text().splitlines() if x.startswith("prefix=")]
    assert re.fullmatch(r"prefix=\$\{FA_S3_PREFIX:-fpga-accel/[A-Za-z0-9_.-]+\}", prefix), prefix
    for sh in ("aws_f2_dcp.sh", "aws_f2_afi.sh", "build.sh"):
        assert subprocess.run(["bash", "-n", str(b.path / "scripts" / sh)], check=False).returncode == 0
    assert not (tmp_path / "canary").exists()
