"""URAM weights in a bundle of several dataflow segments: the mlp with its middle Gemm sent to the host
(two segments), each folded for a board short of BRAM18 (the knob of test_uram_load.py), so segment 0
keeps its weights in URAM and segment 1 none. Segment 0's bundle carries its own weights/uram.bin and
``uram_load``, checked like a one-part bundle's; every chaining backend loads it at open: C
simulation, the PYNQ register/DMA board model, an XRT stand-in whose card is each segment's C
simulation, and the OpenCL twins (pyopencl and the native host, on PoCL) == emulator bit for bit;
the Zynq block design connects segment 0's weights master; the report says so per segment."""
from __future__ import annotations

import dataclasses
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from pynq_util import drop_pynq, use_fake_pynq
from test_uram_load import images

import fpga_accel
from fpga_accel.bundle import BundleError, load_bundle
from fpga_accel.bundle_model import load_qmodel
from fpga_accel.codegen.hwh import write_segments_hwh
from fpga_accel.fold import get_board
from fpga_accel.runtime.backends import availability, get_backend
from fpga_accel.runtime.session import Session
from fpga_accel.fold import design as fold_design
from fpga_accel.fold.resources import Usage
from fpga_accel.segments import build

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))
import data  # noqa: E402


@pytest.fixture(scope="module")
def segmented(tmp_path_factory):
    """Each segment folded as if the board had 2 BRAM18 (its manifest keeps the real board)."""
    fold, apply = build.fold_model, build.apply_to_manifest

    def tight_fold(s, board, **kw):
        return fold(s, dataclasses.replace(board, bram18=2), **kw)

    def real_board(m, f):
        apply(m, f)
        m["board"]["bram18"] = get_board(m["board"]["name"]).bram18

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(build, "fold_model", tight_fold)
        mp.setattr(build, "apply_to_manifest", real_board)
        return fpga_accel.compile(data.model_path("mlp"), tmp_path_factory.mktemp("useg") / "m.fpga", board="zcu104",
                                  calib=data.load_calib("mlp"), progress=False, engine="dataflow",
                                  host_layers=["/3/Gemm"], target_fps=1000)


def subs(b):
    return [load_bundle(b.path / s["path"]) for s in b.manifest["segments"]["list"]]


def emulated(b, ins):
    with Session(b, backend="emulator") as s:
        return s.run(ins, raw=True)


def test_each_segment_carries_its_own_blob(segmented):
    assert segmented.manifest["segments"]["steps"] == [{"segment": 0}, {"host": "/3/Gemm"}, {"segment": 1}]
    s0, s1 = subs(segmented)
    u = s0.manifest["uram_load"]
    assert [a["layer"] for a in u["arrays"]] == ["/0/Gemm"] and "uram_load" not in s1.manifest
    assert s0.read("weights/uram.bin") and segmented.manifest["files"]["segments/0/weights/uram.bin"] == u["sha256"]
    top = (s0.path / "hls/src/fa_top.cpp").read_text()
    assert "void fa_kernel_s0(" in top and top.count("impl = uram") == 1 and "bundle = gmem_w" in top
    assert [a["name"] for a in s0.manifest["kernel"]["args"]][-2:] == ["wmem", "load"]
    assert "wmem" not in (s1.path / "hls/src/fa_top.cpp").read_text()


def test_csim_chain_loads_each_segment(segmented):
    from codegen_util import need_toolchain

    need_toolchain()
    qm = load_qmodel(segmented)
    ins = images(qm, 5, seed=21)
    with Session(segmented, backend="csim") as s:
        got = s.run(ins, raw=True)
    want = emulated(segmented, ins)
    for t in qm.outputs:
        np.testing.assert_array_equal(got[t.name], want[t.name])


@pytest.mark.parametrize("backend", ["native", "opencl"])
def test_twin_chains_equal_the_emulator(segmented, backend):
    """The OpenCL twins (weights as constants, no load arguments) of each segment, through libfa_host
    and through pyopencl, on a CPU OpenCL device."""
    if backend == "native":
        from test_native_host import built_host

        built_host()
    why = availability(get_backend(backend), segmented)
    if why:
        pytest.skip(why)
    qm = load_qmodel(segmented)
    ins = images(qm, 7, seed=22)
    with Session(segmented, backend=backend, batch_size=3) as s:
        got = s.run(ins, raw=True)
    want = emulated(segmented, ins)
    for t in qm.outputs:
        np.testing.assert_array_equal(got[t.name], want[t.name])


@pytest.fixture
def fake_pynq(monkeypatch):
    yield use_fake_pynq(monkeypatch)
    drop_pynq()


def _with_overlay(b, tmp_path):
    dest = tmp_path / b.path.name
    shutil.copytree(b.path, dest)
    (dest / "bitstream").mkdir()
    (dest / "bitstream/fa_design.bit").write_bytes(b"stand-in: the design is served by the board model\n")
    write_segments_hwh(dest / "bitstream/fa_design.hwh", b.manifest, [s.manifest for s in subs(b)])
    return load_bundle(dest)


def test_pynq_loads_each_segment_ip_once(segmented, tmp_path, fake_pynq):
    b = _with_overlay(segmented, tmp_path)
    qm = load_qmodel(b)
    ins = images(qm, 6, seed=23)
    with Session(b, backend="pynq") as s:
        got = s.run(ins, raw=True)
        s.run(ins, raw=True)
    board = fake_pynq.board
    s0 = subs(b)[0]
    assert [len(ip.loads) for ip in board.ips] == [1, 0]  # segment 1 keeps no weights in URAM
    assert board.ips[0].uram_loaded == s0.read("weights/uram.bin") and board.violations == []
    want = emulated(b, ins)
    for t in qm.outputs:
        np.testing.assert_array_equal(got[t.name], want[t.name])


def test_pynq_board_model_without_the_load_gives_other_outputs(segmented, tmp_path, fake_pynq, monkeypatch):
    """The board model honours the load: skipped, segment 0 computes from empty URAM."""
    from fpga_accel.runtime.backends import pynq as backend

    monkeypatch.setattr(backend.PynqBackend, "_load_uram", lambda *a: None)
    b = _with_overlay(segmented, tmp_path)
    qm = load_qmodel(b)
    ins = images(qm, 4, seed=24)
    with Session(b, backend="pynq") as s:
        got = s.run(ins, raw=True)
    want = emulated(b, ins)
    assert any(not np.array_equal(got[t.name], want[t.name]) for t in qm.outputs)


def test_a_corrupt_segment_blob_is_refused(segmented, tmp_path):
    dest = tmp_path / "m.fpga"
    shutil.copytree(segmented.path, dest)
    blob = dest / "segments/0/weights/uram.bin"
    raw = bytearray(blob.read_bytes())
    raw[7] ^= 1
    blob.write_bytes(bytes(raw))
    with pytest.raises(BundleError, match="uram.bin"):
        load_bundle(dest)


def test_block_design_connects_the_segment_weights_master(segmented, tmp_path):
    """Under tclsh with recording stand-ins: segment 0's m_axi_gmem_w joins the DMAs' SmartConnect onto
    the HP port; segment 1's IP has no such master."""
    if shutil.which("tclsh") is None:
        pytest.skip("tclsh is not installed")
    from test_build_scripts import run_vivado_tcl

    proc, calls = run_vivado_tcl(segmented.path / "scripts/vivado_bd.tcl", tmp_path, [tmp_path / "ip", tmp_path / "out"],
                                 env={"FA_STANDIN_BOARD_PART": "xilinx.com:zcu104:part0:1.1"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    auto = [c for c in calls if c[0] == "apply_bd_automation" and c[-1].endswith("m_axi_gmem_w")]
    assert [c[-1] for c in auto] == ["fa_axis_s0_0/m_axi_gmem_w"]
    assert "Slave /ps8/S_AXI_HP0_FPD" in auto[0][4] and "intc_ip Auto" in auto[0][4]
    dma = [c for c in calls if c[0] == "apply_bd_automation" and c[-1].endswith(("M_AXI_MM2S", "M_AXI_S2MM"))]
    assert len(dma) == 4 and calls.index(dma[-1]) < calls.index(auto[0])


def test_report_names_the_load_per_segment(segmented, capsys):
    from fpga_accel.cli import main

    assert main(["report", str(segmented.path)]) == 0
    out = capsys.readouterr().out
    seg0, seg1 = out.split("== segment 1")
    assert "loads them from DDR at start" in seg0 and "weights/uram.bin" in seg0
    assert "URAM weights" not in seg1.split("==")[0]


@pytest.fixture(scope="module")
def segmented_xrt(tmp_path_factory):
    """The same split compiled for alveo-u250, with a stand-in xclbin of both segment kernels."""
    fold, apply = build.fold_model, build.apply_to_manifest

    def real_board(m, f):
        apply(m, f)
        m["board"]["bram18"] = get_board(m["board"]["name"]).bram18

    root = tmp_path_factory.mktemp("useg-xrt")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(build, "fold_model", lambda s, board, **kw: fold(s, dataclasses.replace(board, bram18=8), **kw))
        # the kernels' m_axi adapters left out of the budget (each segment's kernel has its own): the
        # segments then fit the tight board together only with the weights in URAM, the case under test
        mp.setattr(fold_design, "io_ports", lambda io: Usage())
        mp.setattr(build, "apply_to_manifest", real_board)
        b = fpga_accel.compile(data.model_path("mlp"), root / "built.fpga", board="alveo-u250",
                               calib=data.load_calib("mlp"), progress=False, engine="dataflow",
                               host_layers=["/3/Gemm"], target_fps=1000)
    path = root / "m.fpga"
    shutil.copytree(b.path, path)
    (path / "bitstream").mkdir()
    (path / "bitstream/fa_kernel.xclbin").write_bytes(b"xclbin2\x00 stand-in holding fa_kernel_s0 fa_kernel_s1")
    return load_bundle(path)


def test_xrt_loads_each_segment_kernel_once_at_open(segmented_xrt, monkeypatch):
    """The opencl backend on the model's xclbin, on a stand-in pyopencl whose card runs each kernel as
    its segment's C simulation, URAM empty until a run with load = 1 fills it from the wmem buffer."""
    from codegen_util import need_toolchain
    from test_tiled_opencl_xrt import FakeCL

    from fpga_accel.emulator.csim_library import CsimLibrary, build_csim

    need_toolchain()
    parts = subs(segmented_xrt)
    assert "uram_load" in parts[0].manifest and "uram_load" not in parts[1].manifest
    link = (segmented_xrt.path / "scripts/link.cfg").read_text()  # wmem on a memory bank like every buffer
    assert [line.split(":")[0] for line in link.splitlines() if ".wmem:" in line] == ["sp=fa_kernel_s0_1.wmem"]

    class Card(FakeCL):
        def __init__(self):
            super().__init__()
            self.loads, self.libs = [], {}
            for sub in parts:
                lib = CsimLibrary(build_csim(sub, progress=False))
                if "uram_load" in sub.manifest:  # a freshly programmed card: URAM empty (AMD UG573)
                    lib.load(bytes(sub.manifest["uram_load"]["bytes"]))
                self.libs[sub.manifest["kernel"]["name"]] = (lib, sub, load_qmodel(sub))

        def enqueue_nd_range_kernel(self, queue, kernel, global_size, local_size, wait_for=None):
            lib, sub, qm = self.libs[kernel.name]
            a = {arg["name"]: v for arg, v in zip(sub.manifest["kernel"]["args"], kernel.args)}
            if "load" in a and int(a["load"]) == 1:
                lib.load(a["wmem"].data[:sub.manifest["uram_load"]["bytes"]].tobytes())
                self.loads.append(kernel.name)
                return self._event()
            n = int(a["n_images"])
            feeds = [a[f"in{i}"].data[:n * int(np.prod(t.shape[1:])) * t.qparams.qtype.dtype.itemsize]
                     .view(t.qparams.qtype.dtype).reshape(n, *t.shape[1:]) for i, t in enumerate(qm.inputs)]
            outs = [np.empty((n, *t.shape[1:]), t.qparams.qtype.dtype) for t in qm.outputs]
            lib.run([np.ascontiguousarray(f) for f in feeds], outs, n)
            for j, o in enumerate(outs):
                raw = np.frombuffer(o.tobytes(), np.uint8)
                a[f"out{j}"].data[:raw.size] = raw
            return self._event()

    card = Card()
    monkeypatch.setitem(sys.modules, "pyopencl", card)
    qm = load_qmodel(segmented_xrt)
    ins = images(qm, 5, seed=25)
    with Session(segmented_xrt, backend="opencl", timeout=60.0) as s:
        assert [b.mode for b in s.backend.segments] == ["binary", "binary"]
        got = s.run(ins, raw=True)
        again = s.run(ins, raw=True)
    assert card.loads == ["fa_kernel_s0"]
    want = emulated(segmented_xrt, ins)
    for t in qm.outputs:
        np.testing.assert_array_equal(got[t.name], want[t.name])
        np.testing.assert_array_equal(again[t.name], want[t.name])
