"""The opencl backend's XRT path for a tiled bundle, with a stand-in pyopencl whose "Xilinx" card
runs the engine an xclbin holds: the C simulation of the HLS engine (tiled/top.h), called on the
buffers the host gave the kernel. What is checked is the host path (program from the xclbin's bytes,
kernel name and argument order, arguments before the first transfer, a task of one work-item,
events polled against the timeout, the status word mapped to the engine's error), and that it gives
the emulator's integers. No Alveo card is used here."""
import shutil
import sys
import types

import numpy as np
import pytest

import fpga_accel
from fpga_accel import toolchain
from fpga_accel.bundle import load_bundle
from fpga_accel.runtime.errors import SessionTimeout
from fpga_accel.tiled import csim, descriptors
from fpga_accel.tiled.opencl import KERNEL_ARGS, KERNEL_NAME
from models import data

XCLBIN = b"xclbin2\x00 stand-in for the tiled engine's binary"


class FakeCL(types.ModuleType):
    """Enough of pyopencl for the tiled path; ``calls`` logs (what, detail) in order."""

    class device_type:
        CPU, ACCELERATOR = 2, 8

    class mem_flags:
        READ_WRITE, WRITE_ONLY, READ_ONLY, ALLOC_HOST_PTR = 1, 2, 4, 16

    class command_queue_properties:
        PROFILING_ENABLE = 2

    class command_execution_status:
        COMPLETE, RUNNING = 0, 1

    class kernel_work_group_info:
        WORK_GROUP_SIZE = 0x11B0

    Error = type("Error", (Exception,), {})

    def __init__(self, hang=False):
        super().__init__("pyopencl")
        self.hang, self.calls, self.programs, self.buffers, self.events = hang, [], [], [], []
        fake = self
        dev = types.SimpleNamespace(name="xilinx_u250_gen3x16_xdma_shell_4_1", type=self.device_type.ACCELERATOR)
        self.platforms = [types.SimpleNamespace(name="Xilinx", get_devices=lambda: [dev])]

        class Context:
            def __init__(self, devices):
                fake.calls.append(("context", devices[0].name))

        class CommandQueue:
            def __init__(self, ctx, device, properties=0):
                fake.calls.append(("queue", properties))

            def flush(self):
                pass

            def finish(self):
                fake.calls.append(("finish", None))

        class Program:
            def __init__(self, ctx, *args):
                self.source = args[0] if len(args) == 1 else None
                self.binaries = args[1] if len(args) == 2 else None
                fake.programs.append(self)

            def build(self, options=(), devices=None):
                fake.calls.append(("build", self.binaries))
                return self

        class Kernel:
            def __init__(self, program, name):
                self.name, self.args = name, ()
                fake.calls.append(("kernel", name))

            def set_args(self, *args):
                fake.calls.append(("set_args", len(args)))
                self.args = args

            def get_work_group_info(self, what, device):
                return 1

        class Buffer:
            def __init__(self, ctx, flags, size):
                self.flags, self.data, self.released = flags, np.zeros(size, np.uint8), False
                fake.buffers.append(self)

            def release(self):
                self.released = True

        self.Context, self.CommandQueue, self.Program, self.Kernel, self.Buffer = \
            Context, CommandQueue, Program, Kernel, Buffer

    def get_platforms(self):
        return self.platforms

    def _event(self, status=0):
        ev = types.SimpleNamespace(command_execution_status=status,
                                   profile=types.SimpleNamespace(start=100, end=600))
        self.events.append(ev)
        return ev

    def enqueue_copy(self, queue, dest, src, is_blocking=True, wait_for=None):
        if isinstance(dest, self.Buffer):
            raw = np.frombuffer(np.ascontiguousarray(src).tobytes(), np.uint8)
            dest.data[:raw.size] = raw
            self.calls.append(("write", raw.size))
        else:
            view = dest.reshape(-1).view(np.uint8)
            view[:] = src.data[:view.size]
            self.calls.append(("read", view.size))
        return self._event()

    def enqueue_nd_range_kernel(self, queue, kernel, global_size, local_size, wait_for=None):
        """The card: the HLS engine's kernel form (``fa_tiled_kernel``) of the program's configuration on
        the kernel's buffers."""
        self.calls.append(("run", tuple(global_size)))
        if self.hang:
            return self._event(self.command_execution_status.RUNNING)
        desc, n_words, weights, w_bytes, acts, a_bytes, status = kernel.args
        status.data[:4] = np.frombuffer(np.uint32(self.engine.run(
            desc.data[:4 * int(n_words)].view(np.uint32), weights.data[:int(w_bytes)],
            acts.data[:int(a_bytes)], kernel_form=True)).tobytes(), np.uint8)
        return self._event()


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    try:
        toolchain.compiler()
        toolchain.ap_types_dir()
    except toolchain.ToolchainError as e:
        pytest.skip(str(e))
    root = tmp_path_factory.mktemp("tiled-xrt")
    b = fpga_accel.compile(data.model_path("resnet_ds"), root / "built.fpga", calib=data.load_calib("resnet_ds"),
                           progress=False, engine="tiled")
    path = root / "resnet_ds.fpga"  # as a build leaves it: bitstream/ with the engine's xclbin
    shutil.copytree(b.path, path)
    (path / "bitstream").mkdir()
    (path / "bitstream" / "fa_tiled_top.xclbin").write_bytes(XCLBIN)
    return load_bundle(path)


def _fake(monkeypatch, bundle, **kw):
    from fpga_accel.bundle_tiled import load_program

    fake = FakeCL(**kw)
    fake.engine = csim.engine_library(csim.EngineConfig.of(load_program(bundle)[0]))
    monkeypatch.setitem(sys.modules, "pyopencl", fake)
    return fake


def _images(bundle, n):
    x, _ = data.load_test("resnet_ds")
    return {bundle.manifest["inputs"][0]["name"]: x[:n]}


def test_xclbin_runs_through_the_same_host_path(bundle, monkeypatch):
    feeds = _images(bundle, 3)
    with fpga_accel.Session(bundle, backend="emulator") as s:
        q = s.hardware_inputs(feeds)
        want = s.run(q, raw=True)
    fake = _fake(monkeypatch, bundle)
    with fpga_accel.Session(bundle, backend="opencl", timeout=30.0) as s:
        assert s.backend.mode == "binary" and s.backend.tiled.work_items == 1
        got = s.run(q, raw=True)
        assert s.backend.last_timing == {"kernel_ns": 500}
    for k in want:
        np.testing.assert_array_equal(got[k], want[k])
    (prog,) = fake.programs
    assert prog.binaries == [XCLBIN] and prog.source is None  # the program is the xclbin's bytes
    assert ("kernel", KERNEL_NAME) in fake.calls and len(KERNEL_ARGS) == 7
    kinds = [c[0] for c in fake.calls]
    runs = [i for i, k in enumerate(kinds) if k == "run"]
    assert len(runs) == 3 and all(fake.calls[i] == ("run", (1,)) for i in runs)  # a task per image
    for i in runs:  # each call's arguments were set before its transfers
        last_set = max(j for j in range(i) if kinds[j] == "set_args")
        assert fake.calls[last_set] == ("set_args", 7) and all(kinds[j] == "write" for j in range(last_set + 1, i))
    assert kinds.count("write") == 3 * 2 + 1  # descriptors and arena per image, weights once
    # whole 64-byte memory words in host-mapped memory, as for the dataflow kernel
    assert all(b.data.size % 64 == 0 and b.flags & FakeCL.mem_flags.ALLOC_HOST_PTR for b in fake.buffers)
    assert all(b.released for b in fake.buffers) and ("finish", None) in fake.calls


def test_engine_status_is_the_error_the_csim_raises(bundle, monkeypatch):
    _fake(monkeypatch, bundle)
    with fpga_accel.Session(bundle, backend="opencl", timeout=30.0) as s:
        words = s.backend.tiled.descriptors.reshape(-1, descriptors.RECORD_WORDS).copy()
        words[2, descriptors.LAYER["tile_tm"]] = 10_000
        s.backend.tiled.descriptors = words.reshape(-1)
        with pytest.raises(csim.EngineStatusError, match=r"OpenCL on xilinx_u250.*layer 1 .*status 7") as e:
            s.run(_images(bundle, 1))
    assert (e.value.code, e.value.layer) == (7, 1)


def test_a_kernel_that_never_completes_times_out(bundle, monkeypatch):
    fake = _fake(monkeypatch, bundle, hang=True)
    with fpga_accel.Session(bundle, backend="opencl", timeout=0.2) as s, \
            pytest.raises(SessionTimeout, match="OpenCL kernel on xilinx_u250.* did not complete within 0.18 s"):
        s.run(_images(bundle, 1))
    assert fake.calls.count(("run", (1,))) == 1
