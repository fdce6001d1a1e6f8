"""A bundle in dataflow segments from one xclbin on XRT: the opencl backend makes the program once from
the xclbin's bytes and runs the segment kernels ``fa_kernel_s<k>`` in turn, the host steps between
them. The card is a stand-in pyopencl (that of tests/test_tiled_opencl_xrt.py) whose "Xilinx" device
runs each kernel named in the stand-in xclbin as the C simulation of that segment's HLS project, on
the buffers the host gave it. Results == the emulator bit for bit. No Alveo card is used here."""
from __future__ import annotations

import shutil
import sys

import numpy as np
import pytest
from test_segments import _toolchain
from test_segments_float import images, softmax_inside
from test_tiled_opencl_xrt import FakeCL

import fpga_accel
from fpga_accel.bundle import load_bundle
from fpga_accel.runtime.errors import BackendUnavailable
from fpga_accel.runtime.session import Session

XCLBIN = b"xclbin2\x00 stand-in holding the kernels fa_kernel_s0 fa_kernel_s1"


class SegmentCard(FakeCL):
    """The stand-in card: a kernel must be in the xclbin; running it is its segment's C simulation."""

    def __init__(self, subs):
        super().__init__()
        fake, plain = self, self.Kernel
        self.csim = {}
        for sub in subs:
            self.csim[sub.manifest["kernel"]["name"]] = (Session(sub, backend="csim"), sub)

        class Kernel(plain):
            def __init__(self, program, name):
                if name.encode() not in (program.binaries or [b""])[0]:
                    raise fake.Error(f"CL_INVALID_KERNEL_NAME: {name}")
                super().__init__(program, name)

        self.Kernel = Kernel

    def enqueue_nd_range_kernel(self, queue, kernel, global_size, local_size, wait_for=None):
        self.calls.append(("run", kernel.name, tuple(global_size)))
        session, sub = self.csim[kernel.name]
        qm = session.qmodel
        args = sub.manifest["kernel"]["args"]
        n = int(kernel.args[-1])
        feeds, outs = {}, []
        for a, buf in zip(args, kernel.args):
            if a["kind"] != "m_axi":
                continue
            shape = (n, *qm.tensors[a["tensor"]].shape[1:])
            size = int(np.prod(shape)) * np.dtype(a["dtype"]).itemsize
            if a["direction"] == "in":
                feeds[a["tensor"]] = buf.data[:size].view(a["dtype"]).reshape(shape)
            else:
                outs.append((a, buf, size))
        got = session.run(feeds, raw=True)
        for a, buf, size in outs:
            buf.data[:size] = np.ascontiguousarray(got[a["tensor"]], a["dtype"]).view(np.uint8).reshape(-1)
        return self._event()

    def close(self):
        for session, _ in self.csim.values():
            session.close()


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    _toolchain()
    root = tmp_path_factory.mktemp("dseg-xrt")
    b = fpga_accel.compile(softmax_inside(), root / "built.fpga", board="alveo-u250", calib=images(32, 51),
                           progress=False, engine="dataflow")
    path = root / "s.fpga"  # as a build leaves it: bitstream/ with the xclbin of every segment
    shutil.copytree(b.path, path)
    (path / "bitstream").mkdir()
    (path / "bitstream" / "fa_kernel.xclbin").write_bytes(XCLBIN)
    return load_bundle(path)


def _card(monkeypatch, bundle):
    card = SegmentCard([load_bundle(bundle.path / s["path"]) for s in bundle.manifest["segments"]["list"]])
    monkeypatch.setitem(sys.modules, "pyopencl", card)
    return card


def test_the_xclbin_runs_every_segment_kernel_in_turn(bundle, monkeypatch):
    x = images(3, 81)
    with Session(bundle, backend="emulator") as s:
        q = s.hardware_inputs(x)
        want = s.run(q, raw=True)
    card = _card(monkeypatch, bundle)
    try:
        with Session(bundle, backend="opencl", timeout=30.0) as s:
            assert [b.mode for b in s.backend.segments] == ["binary", "binary"]
            got = s.run(q, raw=True)
    finally:
        card.close()
    for k in want:
        np.testing.assert_array_equal(got[k], want[k])
    (prog,) = card.programs  # the card is programmed once, from the xclbin's bytes
    assert prog.binaries == [XCLBIN] and prog.source is None
    assert [c for c in card.calls if c[0] == "kernel"] == [("kernel", "fa_kernel_s0"), ("kernel", "fa_kernel_s1")]
    assert [c for c in card.calls if c[0] == "run"] == [("run", "fa_kernel_s0", (1,)), ("run", "fa_kernel_s1", (1,))]
    kinds = [c[0] for c in card.calls]
    for i in [i for i, k in enumerate(kinds) if k == "run"]:  # arguments set before each kernel's transfers
        last_set = max(j for j in range(i) if kinds[j] == "set_args")
        assert all(kinds[j] == "write" for j in range(last_set + 1, i))
    assert all(b.released for b in card.buffers)


def test_an_xclbin_without_a_segment_kernel_is_refused(bundle, monkeypatch, tmp_path):
    path = tmp_path / "s.fpga"
    shutil.copytree(bundle.path, path)
    (path / "bitstream" / "fa_kernel.xclbin").write_bytes(XCLBIN.replace(b"fa_kernel_s1", b"fa_kernel_x1"))
    card = _card(monkeypatch, load_bundle(path))
    try:
        with pytest.raises(BackendUnavailable, match=r"fa_kernel.xclbin has no kernel 'fa_kernel_s1'.*rebuild it"):
            Session(path, backend="opencl", timeout=30.0)
    finally:
        card.close()
