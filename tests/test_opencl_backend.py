"""The OpenCL backend's host side: the XRT path with a stand-in pyopencl whose "Xilinx" platform
records every call (program from the xclbin bytes, arguments set before the first transfer, events
polled against the timeout), a kernel that never completes, build errors with their log, device
selection, availability reasons and release on close."""
import shutil
import sys
import time
import types

import numpy as np
import pytest

import fpga_accel
from fpga_accel.bundle import load_bundle, sha256_file, write_manifest
from fpga_accel.codegen.opencl import KERNEL_PATH, generate_opencl
from fpga_accel.compiler import load_qmodel
from fpga_accel.emulator import run_layers
from fpga_accel.runtime.backends import opencl as backend
from fpga_accel.runtime.errors import BackendUnavailable, SessionTimeout
from fpga_accel.runtime.session import Session

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1] / "models"))
import data

XCLBIN = b"xclbin2\x00 stand-in binary for the tests"
COMPLETE = 0


# --- a stand-in pyopencl ---------------------------------------------------------------------
class Error(Exception):
    pass


class FakeCL(types.ModuleType):
    """Enough of pyopencl for the backend. ``calls`` logs (what, detail) in order; the kernel
    "runs" the emulator on the buffers it was given, so data really moves through the fake."""

    class device_type:
        CPU, GPU, ACCELERATOR = 2, 4, 8

    class mem_flags:
        READ_WRITE, WRITE_ONLY, READ_ONLY, ALLOC_HOST_PTR = 1, 2, 4, 16

    class command_queue_properties:
        PROFILING_ENABLE = 2

    class command_execution_status:
        COMPLETE, RUNNING, SUBMITTED, QUEUED = 0, 1, 2, 3

    class program_build_info:
        LOG = 0x1183

    Error = Error
    RuntimeError = type("RuntimeError", (Error,), {})

    def __init__(self, platforms, qmodel=None, hang=False, build_log=None):
        super().__init__("pyopencl")
        self.platforms, self.qmodel, self.hang, self.build_log = platforms, qmodel, hang, build_log
        self.calls, self.programs, self.buffers, self.events = [], [], [], []
        fake = self

        class Context:
            def __init__(self, devices):
                fake.calls.append(("context", devices[0].name))

        class CommandQueue:
            def __init__(self, ctx, device, properties=0):
                self.properties = properties
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
                if fake.build_log is not None:
                    raise fake.RuntimeError("clBuildProgram failed: BUILD_PROGRAM_FAILURE")
                return self

            def get_build_info(self, device, what):
                return fake.build_log

        class Kernel:
            def __init__(self, program, name):
                self.name, self.args = name, {}

            def set_args(self, *args):
                fake.calls.append(("set_args", len(args)))
                self.args = dict(enumerate(args))

            def set_arg(self, i, value):
                fake.calls.append(("set_arg", i))
                self.args[i] = value

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

    def _event(self, status=COMPLETE):
        ev = FakeEvent(status, len(self.events))
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
        self.calls.append(("run", tuple(global_size)))
        if self.hang:
            return self._event(self.command_execution_status.RUNNING)
        qm, args = self.qmodel, kernel.args
        n = int(args[len(args) - 1])
        ins = {t.name: args[i].data[:n * int(np.prod(t.shape[1:])) * t.qparams.qtype.dtype.itemsize]
               .view(t.qparams.qtype.dtype).reshape(n, *t.shape[1:]) for i, t in enumerate(qm.inputs)}
        outs = run_layers(qm, ins)
        for j, t in enumerate(qm.outputs):
            raw = np.frombuffer(outs[t.name].tobytes(), np.uint8)
            args[len(qm.inputs) + j].data[:raw.size] = raw
        return self._event()


class FakeEvent:
    def __init__(self, status, k):
        self._status, self.polls = status, 0
        self.profile = types.SimpleNamespace(start=1000 * k + 10, end=1000 * k + 510)

    @property
    def command_execution_status(self):
        self.polls += 1
        return self._status


def platform(name, *devices):
    return types.SimpleNamespace(name=name, get_devices=lambda: list(devices))


def device(name, kind=FakeCL.device_type.ACCELERATOR):
    return types.SimpleNamespace(name=name, type=kind)


# --- bundles ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def mlp_bundle(tmp_path_factory):
    return fpga_accel.compile(data.model_path("mlp"), tmp_path_factory.mktemp("mlp") / "mlp.fpga",
                              calib=data.load_calib("mlp"), progress=False, generators=[generate_opencl])


@pytest.fixture
def xclbin_bundle(mlp_bundle, tmp_path):
    """The mlp bundle with a bitstream/ directory holding an .xclbin, as a build leaves it."""
    path = tmp_path / "mlp.fpga"
    shutil.copytree(mlp_bundle.path, path)
    (path / "bitstream").mkdir()
    (path / "bitstream" / "fa_kernel.xclbin").write_bytes(XCLBIN)
    return load_bundle(path)


def inputs(bundle, n=7, seed=0):
    qm = load_qmodel(bundle)
    r = np.random.default_rng(seed)
    return qm, {t.name: r.integers(t.qparams.qtype.min, t.qparams.qtype.max + 1, (n, *t.shape[1:]))
                .astype(t.qparams.qtype.dtype) for t in qm.inputs}


# --- the XRT path ------------------------------------------------------------------------------
def test_xilinx_platform_runs_the_xclbin(xclbin_bundle, monkeypatch):
    qm, q = inputs(xclbin_bundle)
    fake = FakeCL([platform("Portable Computing Language", device("cpu", FakeCL.device_type.CPU)),
                   platform("Xilinx", device("xilinx_u250_gen3x16_xdma_shell_4_1"))], qm)
    monkeypatch.setitem(sys.modules, "pyopencl", fake)
    with Session(xclbin_bundle, backend="opencl", timeout=5.0) as s:
        got = s.run(q, raw=True)
        got2 = s.run({k: v[:3] for k, v in q.items()}, raw=True)
        assert s.backend.device.name.startswith("xilinx_u250")
        timing = s.backend.last_timing
    want = run_layers(qm, q)
    for t in qm.outputs:
        assert np.array_equal(got[t.name], want[t.name])
        assert np.array_equal(got2[t.name], want[t.name][:3])
    (prog,) = fake.programs
    assert prog.binaries == [XCLBIN] and prog.source is None  # the program is the xclbin's bytes
    kinds = [c[0] for c in fake.calls]
    assert kinds.index("set_args") < kinds.index("write")  # arguments placed the buffers before any transfer
    assert ("run", (1,)) in fake.calls  # the HLS kernel is a task: one work-item for the whole batch
    assert ("queue", FakeCL.command_queue_properties.PROFILING_ENABLE) in fake.calls
    assert all(ev.polls >= 1 for ev in fake.events)  # every event was polled, none blocked on
    assert all(b.flags & FakeCL.mem_flags.ALLOC_HOST_PTR for b in fake.buffers)
    # fa_kernel moves whole 64-byte words: mlp's 10-byte output rows would otherwise be overrun
    assert all(b.data.size % 64 == 0 for b in fake.buffers)
    assert timing == {"write_ns": 500, "kernel_ns": 500, "read_ns": 500,
                      "total_ns": fake.events[-1].profile.end - fake.events[-3].profile.start}
    assert all(b.released for b in fake.buffers) and ("finish", None) in fake.calls  # close released them


def test_batches_in_flight_use_their_own_buffers(xclbin_bundle, monkeypatch):
    qm, q = inputs(xclbin_bundle, n=11)
    fake = FakeCL([platform("Xilinx", device("u250"))], qm)
    monkeypatch.setitem(sys.modules, "pyopencl", fake)
    with Session(xclbin_bundle, backend="opencl", batch_size=4, timeout=5.0) as s:
        got = s.run(q, raw=True)
    want = run_layers(qm, q)
    for t in qm.outputs:
        assert np.array_equal(got[t.name], want[t.name])
    kinds = [c[0] for c in fake.calls]
    runs = [i for i, k in enumerate(kinds) if k == "run"]
    assert len(runs) == 3
    for i in runs:  # every batch's arguments were set before its transfers
        last_set = max(j for j in range(i) if kinds[j] == "set_args")
        assert all(kinds[j] == "write" for j in range(last_set + 1, i))
    assert len(fake.buffers) == 2 * (len(qm.inputs) + len(qm.outputs))  # two sets: two batches in flight


def test_kernel_that_never_completes_times_out(xclbin_bundle, monkeypatch):
    qm, q = inputs(xclbin_bundle)
    fake = FakeCL([platform("Xilinx", device("u50"))], qm, hang=True)
    monkeypatch.setitem(sys.modules, "pyopencl", fake)
    with Session(xclbin_bundle, backend="opencl", timeout=0.2) as s:
        start = time.monotonic()
        with pytest.raises(SessionTimeout, match=r"within the timeout of 0.2 s"):
            s.run(q, raw=True)
        assert 0.2 <= time.monotonic() - start < 2.0
    assert max(ev.polls for ev in fake.events) > 1  # the running kernel's event was polled until the deadline


def test_wait_raises_session_timeout_naming_the_stuck_event(xclbin_bundle, monkeypatch):
    qm, q = inputs(xclbin_bundle)
    fake = FakeCL([platform("Xilinx", device("u50"))], qm, hang=True)
    monkeypatch.setitem(sys.modules, "pyopencl", fake)
    b = backend.OpenCLBackend(xclbin_bundle, qm, timeout=0.1)
    handle = b.start(q)
    with pytest.raises(SessionTimeout, match=r"OpenCL kernel on u50 did not complete within 0.1 s") as e:
        b.wait(handle, 0.1)
    assert isinstance(e.value, TimeoutError)
    b.close()


def test_build_error_shows_the_build_log(xclbin_bundle, monkeypatch):
    fake = FakeCL([platform("Xilinx", device("u250"))], build_log="ERROR: xclbin uuid does not match the shell")
    monkeypatch.setitem(sys.modules, "pyopencl", fake)
    with pytest.raises(backend.OpenCLBuildError, match="xclbin uuid does not match the shell"):
        Session(xclbin_bundle, backend="opencl")


def test_real_build_error_shows_the_compiler_log(mlp_bundle, tmp_path):
    pytest.importorskip("pyopencl")
    if backend.OpenCLBackend.unavailable(mlp_bundle):
        pytest.skip(backend.OpenCLBackend.unavailable(mlp_bundle))
    path = tmp_path / "broken.fpga"
    shutil.copytree(mlp_bundle.path, path)
    src = path / KERNEL_PATH
    src.write_text(src.read_text().replace("uint n_images)", "uint n_images) { int broken = ;", 1))
    # sealed again with the edited source's hash, as a compile that wrote this source would have
    write_manifest(path, {**mlp_bundle.manifest, "files": {**mlp_bundle.manifest["files"], KERNEL_PATH: sha256_file(src)}})
    broken = load_bundle(path)
    with pytest.raises(backend.OpenCLBuildError) as e:
        backend.OpenCLBackend(broken, load_qmodel(mlp_bundle))
    assert "fa_kernel.cl" in str(e.value) and "expected expression" in str(e.value)


# --- choosing a device, and saying why not ------------------------------------------------------
def test_device_is_chosen_by_environment(mlp_bundle, monkeypatch):
    fake = FakeCL([platform("Portable Computing Language", device("cpu-a", FakeCL.device_type.CPU),
                            device("cpu-b", FakeCL.device_type.CPU))])
    monkeypatch.setitem(sys.modules, "pyopencl", fake)
    assert [d.name for _, d, _ in backend.candidates(fake, mlp_bundle)] == ["cpu-a", "cpu-b"]
    monkeypatch.setenv(backend.DEVICE_ENV, "CPU-B")
    assert [d.name for _, d, _ in backend.candidates(fake, mlp_bundle)] == ["cpu-b"]
    monkeypatch.setenv(backend.DEVICE_ENV, "gpu")
    why = backend.OpenCLBackend.unavailable(mlp_bundle)
    assert "no OpenCL device" in why and "FPGA_ACCEL_OPENCL_DEVICE='gpu'" in why
    with pytest.raises(BackendUnavailable, match="no OpenCL device"):
        Session(mlp_bundle, backend="opencl")


def test_source_kernel_without_binary_skips_the_xilinx_platform(mlp_bundle, monkeypatch):
    fake = FakeCL([platform("Xilinx", device("u250")), platform("PoCL", device("cpu", FakeCL.device_type.CPU))])
    assert [(p.name, m) for p, _, m in backend.candidates(fake, mlp_bundle)] == [("PoCL", "source")]


def test_unavailable_reasons(mlp_bundle, tmp_path, monkeypatch):
    plain = fpga_accel.compile(data.model_path("mlp"), tmp_path / "plain.fpga", calib=data.load_calib("mlp"),
                               progress=False, generators=[])
    assert "neither bitstream/*.xclbin nor opencl/fa_kernel.cl" in backend.OpenCLBackend.unavailable(plain)
    monkeypatch.setitem(sys.modules, "pyopencl", FakeCL([]))
    assert "no OpenCL device" in backend.OpenCLBackend.unavailable(mlp_bundle)
    monkeypatch.setitem(sys.modules, "pyopencl", None)  # import fails as when it is not installed
    assert "pyopencl is not installed" in backend.OpenCLBackend.unavailable(mlp_bundle)


def test_importing_the_backend_needs_no_pyopencl():
    import subprocess

    code = ("import sys; sys.modules['pyopencl'] = None; import fpga_accel; "
            "from fpga_accel.runtime.backends import get_backend; get_backend('opencl'); "
            "import fpga_accel.codegen.opencl")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_device_index_picks_one_of_several_cards(xclbin_bundle, monkeypatch):
    from fpga_accel.runtime.backends.opencl import candidates

    cards = [device(f"xilinx_u250_gen3x16_xdma_shell_4_1 #{i}") for i in range(3)]
    fake = FakeCL([platform("Xilinx", *cards)], None)
    monkeypatch.delenv("FPGA_ACCEL_DEVICE_INDEX", raising=False)
    assert [c[1] for c in candidates(fake, xclbin_bundle)] == cards
    for index, first in (("1", 1), ("2", 2), ("4", 1)):
        monkeypatch.setenv("FPGA_ACCEL_DEVICE_INDEX", index)
        got = [c[1] for c in candidates(fake, xclbin_bundle)]
        assert got[0] is cards[first] and sorted(map(id, got)) == sorted(map(id, cards))
