"""URAM weights on AWS F2: the small URAM model of test_uram_load.py compiled for aws-f2. The CL
connects the kernel's ``wmem`` master (``m_axi_gmem_w``) into the card DDR4 through the crossbar like
every buffer (slang elaborates it against the shell stand-ins); the f2 backend copies weights/uram.bin
into card memory and runs the load once at open. On the card model (which reads the blob over
``wmem`` and computes zeros without it) f2 == emulator bit for bit, for one kernel and for a bundle of
two dataflow segments whose first keeps its weights in URAM."""
from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from fakes.f2_card import F2Card, F2SegmentsCard, FakeFpgaMgmt
from test_uram_load import images

import fpga_accel
from fpga_accel import Session
from fpga_accel.bundle import load_bundle
from fpga_accel.bundle_model import load_qmodel
from fpga_accel.compiler import default_generators
from fpga_accel.flow.aws_f2_cl import buffers, cl_top, control_addr_bits, id_defines
from fpga_accel.fold import apply_to_manifest, fold_model, get_board
from fpga_accel.runtime.f2_driver import libs, runner
from fpga_accel.fold import design as fold_design
from fpga_accel.fold.resources import Usage
from fpga_accel.segments import build

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))
import data  # noqa: E402
from test_uram_load import short_of_bram  # noqa: E402

AGFI = "agfi-0fa4f2000000000f"


def tight_fold(stage, qm, manifest):
    """test_uram_load's knob for the board the bundle is compiled for: too few BRAM18, weights to URAM."""
    board = get_board(manifest["board"]["name"])
    built_for = manifest["board"]
    apply_to_manifest(manifest, fold_model(qm, short_of_bram(board, 4), target_fps=1000))
    manifest["board"] = built_for


def with_afi(b):
    (b.path / "bitstream").mkdir(exist_ok=True)
    (b.path / "bitstream/afi.json").write_text(json.dumps({"afi_id": "afi-0fa4f2000000000f", "agfi_id": AGFI}))
    return load_bundle(b.path)


@pytest.fixture(scope="module")
def f2_uram(tmp_path_factory):
    b = fpga_accel.compile(data.model_path("mlp"), tmp_path_factory.mktemp("uf2") / "mlp.fpga", board="aws-f2",
                           calib=data.load_calib("mlp"), progress=False, generators=[tight_fold, *default_generators()])
    return with_afi(b)


@pytest.fixture(scope="module")
def f2_segments(tmp_path_factory):
    fold, apply = build.fold_model, build.apply_to_manifest

    def real_board(m, f):
        apply(m, f)
        m["board"]["bram18"] = get_board(m["board"]["name"]).bram18

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(build, "fold_model", lambda s, board, **kw: fold(s, dataclasses.replace(board, bram18=8), **kw))
        # the kernels' m_axi adapters left out of the budget (each segment's kernel has its own): the
        # segments then fit the tight board together only with the weights in URAM, the case under test
        mp.setattr(fold_design, "io_ports", lambda io: Usage())
        mp.setattr(build, "apply_to_manifest", real_board)
        b = fpga_accel.compile(data.model_path("mlp"), tmp_path_factory.mktemp("uf2s") / "m.fpga", board="aws-f2",
                               calib=data.load_calib("mlp"), progress=False, engine="dataflow",
                               host_layers=["/3/Gemm"], target_fps=1000)
    return with_afi(b)


@pytest.fixture
def lib(monkeypatch):
    """``lib(card)``: the stand-in libfpga_mgmt over ``card`` that the next session opens."""
    monkeypatch.setenv("FA_FPGA_MGMT_LIB", "/stand-in/libfpga_mgmt.so")

    def use(card):
        monkeypatch.setattr(libs, "load", lambda path=None: libs.bind(FakeFpgaMgmt(card)))
        return card
    return use


def emulated(b, ins):
    with Session(b, backend="emulator") as s:
        return s.run(ins, raw=True)


def test_the_cl_connects_the_weights_master_into_ddr(f2_uram):
    kernel = f2_uram.manifest["kernel"]
    assert f2_uram.manifest["uram_load"]["arrays"] and buffers(kernel)[-1] == "gmem_w"
    sv = (f2_uram.path / "scripts/f2/cl_fa/design/cl_fa.sv").read_text()
    assert ".m_axi_gmem_w_ARVALID(" in sv and ".m_axi_gmem_w_RREADY(" in sv
    n_si = 1 + len(buffers(kernel))  # PCIS, every image buffer and wmem
    assert f"logic [{n_si * 512 - 1}:0] xs_rdata;" in sv
    pytest.importorskip("pyslang", reason="pyslang is not installed (the dev extra installs it)")
    from fakes.f2_shell import elaborate

    assert elaborate(cl_top(kernel, "m"), id_defines(), buffers(kernel), control_addr_bits(kernel)) == []


def test_f2_loads_the_blob_once_then_equals_the_emulator(f2_uram, lib):
    card = lib(F2Card(f2_uram.manifest, load_qmodel(f2_uram)))
    qm = load_qmodel(f2_uram)
    ins = images(qm, 9, seed=31)
    with Session(f2_uram, backend="f2", batch_size=4) as s:
        got = s.run(ins, raw=True)
        again = s.run(ins, raw=True)
    blob = f2_uram.read("weights/uram.bin")
    assert card.loads == [(0, len(blob))] and card.uram_loaded == blob and card.violations == []
    assert card.starts == [4, 4, 1] * 2  # images only after the load; load = 0 for each of them
    want = emulated(f2_uram, ins)
    for t in qm.outputs:
        np.testing.assert_array_equal(got[t.name], want[t.name])
        np.testing.assert_array_equal(again[t.name], want[t.name])


def test_without_the_load_the_card_computes_other_outputs(f2_uram, lib, monkeypatch):
    monkeypatch.setattr(runner.KernelRunner, "load_uram", lambda *a: None)
    lib(F2Card(f2_uram.manifest, load_qmodel(f2_uram)))
    qm = load_qmodel(f2_uram)
    ins = images(qm, 3, seed=32)
    with Session(f2_uram, backend="f2") as s:
        got = s.run(ins, raw=True)
    want = emulated(f2_uram, ins)
    assert any(not np.array_equal(got[t.name], want[t.name]) for t in qm.outputs)


def test_a_load_that_never_finishes_times_out(f2_uram, lib):
    from fpga_accel.runtime import SessionTimeout

    lib(F2Card(f2_uram.manifest, load_qmodel(f2_uram), hang=True))
    with pytest.raises(SessionTimeout, match="loading .* bytes of URAM weights"):
        Session(f2_uram, backend="f2", timeout=0.5)


def test_f2_segments_load_each_kernel_then_equal_the_emulator(f2_segments, lib):
    subs = [load_bundle(f2_segments.path / s["path"]) for s in f2_segments.manifest["segments"]["list"]]
    assert "uram_load" in subs[0].manifest and "uram_load" not in subs[1].manifest
    assert [len(r["args"]) for r in f2_segments.manifest["scripts"]["segments"]] == [
        len(s.manifest["kernel"]["args"]) for s in subs]
    sv = (f2_segments.path / "scripts/f2/cl_fa/design/cl_fa.sv").read_text()
    assert sv.count(".m_axi_gmem_w_ARVALID(") == 1  # segment 0's kernel only
    card = lib(F2SegmentsCard([(s.manifest, load_qmodel(s)) for s in subs]))
    qm = load_qmodel(f2_segments)
    ins = images(qm, 6, seed=33)
    with Session(f2_segments, backend="f2", batch_size=4) as s:
        got = s.run(ins, raw=True)
    assert [len(k.loads) for k in card.kernels] == [1, 0] and card.violations == []
    assert card.kernels[0].uram_loaded == subs[0].read("weights/uram.bin")
    assert card.order == [0, 0, 1, 0, 1]  # the load, then each batch through both kernels
    want = emulated(f2_segments, ins)
    for t in qm.outputs:
        np.testing.assert_array_equal(got[t.name], want[t.name])


def test_f2_build_with_stand_ins_then_the_session_on_measured_offsets(f2_uram, tmp_path, monkeypatch, lib):
    """The hls, hdk and afi steps under the recording stand-ins: the crossbar gets a slot for the
    weights master, the manifest holds the driver header's offsets of wmem and load, and the session
    loads the weights through them."""
    import shutil as sh

    if sh.which("tclsh") is None:
        pytest.skip("tclsh is not installed")
    from stand_ins.helpers import calls, fake_hdk, fresh_copy, read_tcl_record, use_stand_ins

    from fpga_accel.flow import build as build_bundle
    from fpga_accel.flow.aws_f2_cl import CL

    path = fresh_copy(f2_uram, tmp_path)
    names = [a["name"] for a in f2_uram.manifest["kernel"]["args"]]
    record = use_stand_ins(monkeypatch, tmp_path, kernel_args=names)
    fake_hdk(monkeypatch, tmp_path)
    monkeypatch.setenv("FA_HLS_TOOL", "vitis_hls")
    build_bundle(path, s3_bucket="fa-test-bucket", registry=tmp_path / "reg", echo=lambda s: None)
    assert [c["tool"] for c in calls(record)][:2] == ["vitis_hls", "aws_build_dcp_from_cl.py"]
    tcl = [c[1:] if c[0] == "UNKNOWN" else c for c in
           read_tcl_record(path / "build/hdk" / CL / "build/scripts/tcl_calls.txt")]
    props = dict(zip(*[iter(next(c[2] for c in tcl if c[:2] == ["set_property", "-dict"]).split())] * 2))
    assert props["CONFIG.NUM_SI"] == str(1 + len(buffers(f2_uram.manifest["kernel"])))  # PCIS + in0, out0, wmem
    built = load_bundle(path)
    header = next((path / "build/hls").rglob("xfa_kernel_hw.h")).read_text()
    for a in built.manifest["kernel"]["args"]:  # the header's offsets, wmem and load included
        assert f"XFA_KERNEL_CONTROL_ADDR_{a['name'].upper()}_DATA 0x{a['offset']:02x}" in header
    card = lib(F2Card(built.manifest, load_qmodel(built)))
    qm = load_qmodel(built)
    ins = images(qm, 3, seed=34)
    with Session(built, backend="f2") as s:
        got = s.run(ins, raw=True)
    assert len(card.loads) == 1 and card.violations == []
    want = emulated(built, ins)
    for t in qm.outputs:
        np.testing.assert_array_equal(got[t.name], want[t.name])
