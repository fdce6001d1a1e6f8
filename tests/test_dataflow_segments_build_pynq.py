"""A bundle in dataflow segments on one PYNQ overlay: every segment's IP ``fa_axis_s<k>_0`` and its
DMAs found by name in the .hwh (the one of the block design the bundle's scripts build, written here
by fpga_accel.codegen.hwh), the host steps run between them, on the register/DMA board model of the
PYNQ tests with one IP per segment. Results == the emulator bit for bit on the two graphs of
tests/test_dataflow_segments.py. No board and no Vivado build are involved."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
from pynq_util import drop_pynq, use_fake_pynq
from test_dataflow_segments import residual_lrn
from test_segments_float import images, softmax_inside

import fpga_accel
from fpga_accel.bundle import load_bundle
from fpga_accel.codegen.hwh import generate_segments_hwh, write_segments_hwh
from fpga_accel.runtime.errors import BackendUnavailable
from fpga_accel.runtime.pynq_driver import OverlayMismatch, RegisterMapError
from fpga_accel.runtime.session import Session


@pytest.fixture(scope="module")
def graphs(tmp_path_factory):
    d = tmp_path_factory.mktemp("dseg-pynq")
    soft = fpga_accel.compile(softmax_inside(), d / "s.fpga", board="kv260", calib=images(32, 51), progress=False,
                              engine="dataflow")
    forced = fpga_accel.compile(residual_lrn(), d / "r.fpga", board="zcu104", calib=images(32, 61), progress=False,
                                engine="dataflow", host_layers=["norm"])
    return {"softmax": soft, "forced": forced}


@pytest.fixture
def fake_pynq(monkeypatch):
    yield use_fake_pynq(monkeypatch)
    drop_pynq()


def _segment_manifests(b):
    return [load_bundle(b.path / s["path"]).manifest for s in b.manifest["segments"]["list"]]


def _with_overlay(b, tmp_path, hwh: str | None = None):
    """A copy of bundle ``b`` with a stand-in .bit and the .hwh of its block design (or ``hwh``)."""
    dest = tmp_path / b.path.name
    shutil.copytree(b.path, dest)
    d = dest / "bitstream"
    d.mkdir()
    (d / "fa_design.bit").write_bytes(b"stand-in: the design is served by the board model\n")
    if hwh is None:
        write_segments_hwh(d / "fa_design.hwh", b.manifest, _segment_manifests(b))
    else:
        (d / "fa_design.hwh").write_text(hwh)
    return load_bundle(dest)


@pytest.mark.parametrize("graph, seed, n", [("softmax", 71, 3), ("forced", 72, 5)])
def test_pynq_runs_every_segment_on_one_overlay_bit_exact(graphs, tmp_path, fake_pynq, graph, seed, n):
    b = _with_overlay(graphs[graph], tmp_path)
    x = images(n, seed)
    with Session(b, backend="emulator") as s:
        q = s.hardware_inputs(x)
        want = s.run(q, raw=True)
    with Session(b, backend="pynq") as s:
        got = s.run(q, raw=True)
        floats = s.run({"x": x})
    board = fake_pynq.board
    for name, v in want.items():
        assert got[name].dtype == v.dtype
        np.testing.assert_array_equal(got[name], v)
    with Session(b, backend="emulator") as s:
        np.testing.assert_array_equal(floats["y"], s.run({"x": x})["y"])
    assert board.violations == []
    assert len(board.ips) == 2
    assert board.started_with == [n, n, n, n]  # each IP once per batch, the batch in one run, two batches
    assert [ip.starts for ip in board.ips] == [2, 2]
    moved = {k: dma for k, dma in board.dmas.items()}
    assert sorted(moved) == sorted(f"s{k}/{s['name']}" for k, m in enumerate(_segment_manifests(b))
                                   for s in m["kernel"]["axis"]["streams"])
    for key, dma in moved.items():  # every segment's DMAs moved its own streams
        assert key.split("/")[0] in dma.name


def test_the_overlay_holds_each_segments_ip_and_dmas_by_name(graphs):
    b = graphs["forced"]
    text = generate_segments_hwh(b.manifest, _segment_manifests(b))
    for k, m in enumerate(_segment_manifests(b)):
        assert f'INSTANCE="fa_axis_s{k}_0"' in text and f"fpga-accel.org:hls:fa_axis_s{k}:1.0" in text
        for s in m["kernel"]["axis"]["streams"]:
            assert f'INSTANCE="dma_s{k}_{s["name"]}"' in text
    assert 'INSTANCE="fa_axis_0"' not in text


def test_a_design_without_a_segments_dma_is_refused_before_the_pl_is_touched(graphs, tmp_path, fake_pynq):
    b = graphs["softmax"]
    hwh = generate_segments_hwh(b.manifest, _segment_manifests(b)).replace("dma_s1_out0", "dma_x1_out0")
    b = _with_overlay(b, tmp_path, hwh)
    with pytest.raises(OverlayMismatch, match=r"no instance called 'dma_s1_out0'.*must name segment 1's DMA of "
                                              r"stream out0 'dma_s1_out0'"):
        Session(b, backend="pynq")
    assert fake_pynq.board is None  # nothing was downloaded


def test_a_segment_ip_of_another_build_is_refused(graphs, tmp_path, fake_pynq):
    b = graphs["softmax"]
    subs = _segment_manifests(b)
    subs[1]["kernel"]["axis"]["registers"] = {"n_images": 0x18}  # as another build's IP would have it
    b = _with_overlay(b, tmp_path, generate_segments_hwh(b.manifest, subs))
    with pytest.raises(RegisterMapError, match=r"'fa_axis_s1_0'.*'n_images' is at 0x18 in the .hwh but at 0x10"):
        Session(b, backend="pynq")


def test_a_bundle_without_the_segments_block_design_is_unavailable(graphs, tmp_path):
    b = _with_overlay(graphs["softmax"], tmp_path)
    from fpga_accel.bundle import write_manifest

    m = dict(b.manifest)
    m["scripts"] = {k: v for k, v in m["scripts"].items() if k != "segments"}
    for k in ("manifest_sha256", "manifest_hmac"):
        m.pop(k, None)
    write_manifest(b.path, m)
    with pytest.raises(BackendUnavailable, match="no Zynq block design"):
        Session(b.path, backend="pynq")


@pytest.mark.slow
@pytest.mark.parametrize("version", ["3.0.1", "3.1.2", "4.0.0"])
def test_real_pynq_runs_every_segment_on_one_overlay(graphs, tmp_path, version):
    """The same on the real pynq package (its Overlay, .hwh parser, DMA driver, PynqBuffer) in the venv
    of .ci/pynq_env.sh, against the emulated Zynq device of the PYNQ tests."""
    import json
    import os
    import subprocess
    import sys

    from pynq_util import ROOT
    from test_pynq_real import pynq_python

    python = pynq_python(version)
    for name, seed in (("softmax", 91), ("forced", 92)):
        b = _with_overlay(graphs[name], tmp_path)
        with Session(b, backend="emulator") as s:
            q = s.hardware_inputs(images(6, seed))
            want = s.run(q, raw=True)
        np.savez(tmp_path / f"{b.path.stem}.ref.npz", **{f"in:{k}": v for k, v in q.items()},
                 **{f"out:{k}": v for k, v in want.items()})
    env = {k: v for k, v in os.environ.items() if k not in ("XILINX_XRT", "PYNQ_REMOTE_DEVICES", "PYTHONHOME")}
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.run([str(python), str(ROOT / "tests" / "pynq_real_segments_check.py"), str(tmp_path)],
                          check=False, capture_output=True, text=True, env=env, timeout=600)
    sys.stdout.write(proc.stdout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    assert report["pynq"] == version and set(report["bundles"]) == {"s.fpga", "r.fpga"}
    for entry in report["bundles"].values():
        assert entry["bit_exact"] and entry["violations"] == [] and entry["pynq_dma"]
        assert entry["segments"] == 2 and entry["ips"] == ["fa_axis_s0_0", "fa_axis_s1_0"]
        assert entry["register_maps"] == {"fa_axis_s0_0": 0x10, "fa_axis_s1_0": 0x10}
        assert entry["ap_starts"] == [6, 6] and entry["downloads"] == 1
        assert entry["overlay"] == "pynq.overlay.Overlay"
