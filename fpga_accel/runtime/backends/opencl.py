"""The OpenCL backend: the bundle's kernel on an OpenCL device, through pyopencl.

Two programs, one host path:

- **XRT** (Alveo, AWS F1): the bundle holds ``bitstream/*.xclbin`` (or ``*.awsxclbin``) and the
  Xilinx platform is present: the program is made from the binary's bytes (``build()`` programs
  the card), and the HLS kernel ``fa_kernel`` runs as a task (one work-item).
- **Any other OpenCL device** (PoCL on a CPU in tests): ``opencl/fa_kernel.cl`` built from source;
  one work-item per image, one work-item per work-group (its intermediates are private arrays).

Both take the arguments of ``manifest["kernel"]["args"]``: one buffer per hardware input, then per
hardware output, then ``n_images``; a kernel source whose intermediates do not fit in private
memory takes one more, a global scratch buffer of ``manifest["opencl"]["scratch"]`` bytes per
work-item, which this backend allocates. A bundle compiled without an OpenCL model (the manifest's
``opencl.skipped`` says why) runs here only from its xclbin. Arguments are set before the first transfer (XRT places each
buffer in the memory bank its argument is connected to), then write → kernel → read are enqueued
with events on a profiling queue; ``last_timing`` holds the measured nanoseconds of the last call.
Waits poll the events against the session's timeout (:class:`OpenCLTimeout`). An xclbin whose
weights the fold placed in URAM gets them at open: the bundle's ``weights/uram.bin`` in a buffer on
the ``wmem`` argument and one run with ``load`` = 1 (fpga_accel/codegen/uram_load.py); the twin
built from source has them as constants and takes no such arguments. Two batches may be
in flight, each with its own buffers.

A bundle in **dataflow segments** with an xclbin (one compute unit per segment kernel
``fa_kernel_s<k>``, fpga_accel/flow/segments_scripts.py) runs from it: the program is made once and
:meth:`OpenCLBackend.open_segments` gives the chain (runtime/segments.py) one backend per kernel,
sharing context, queue and program, each with its own buffers; without an xclbin each segment's own
OpenCL twin runs on a CPU device.

A bundle compiled for the **tiled engine** runs its program in ``fa_tiled_kernel``
(:mod:`fpga_accel.tiled.opencl`): from the bundle's xclbin on XRT, or else the engine's OpenCL twin,
which comes with the package and is built for the program's engine configuration, on a CPU device.
The same buffers (descriptors, weights arena, activation arena, status word), arguments, timeouts
and error mapping serve both; one kernel call per image.

Platform and device: ``FPGA_ACCEL_OPENCL_PLATFORM`` / ``FPGA_ACCEL_OPENCL_DEVICE`` (a substring of
the name, case-insensitive) or the ``platform=`` / ``device=`` arguments pick them; otherwise the
Xilinx platform when the bundle has a binary, else every CPU device in turn until one builds the
kernel. pyopencl is imported here only, when the backend is opened.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from ...bundle_kernel import image_args
from ...bundle_tiled import is_tiled
from ...bundle_uram import has_uram_weights, read_uram_blob
from ...errors import InputError
from ..errors import BackendUnavailable, SessionError, SessionTimeout
from .base import Backend, bitstream_mismatch

KERNEL_SOURCE = "opencl/fa_kernel.cl"
#: the AFI's .awsxclbin first: on F1 the build leaves the linked .xclbin beside it, which XRT there cannot load
BINARY_PATTERNS = ("*.awsxclbin", "*.xclbin")
PLATFORM_ENV, DEVICE_ENV = "FPGA_ACCEL_OPENCL_PLATFORM", "FPGA_ACCEL_OPENCL_DEVICE"
XILINX = "xilinx"
#: longest sleep between two polls of an event (seconds)
POLL_MAX_S = 0.0005
#: the buffer-set key of the kernel source's global scratch (not a manifest argument)
SCRATCH = "#scratch"


class OpenCLTimeout(SessionTimeout, TimeoutError):
    """An event did not complete in time (a :class:`SessionTimeout`, and the ``TimeoutError`` the
    backend interface's ``wait`` promises)."""


class OpenCLBuildError(SessionError):
    """The kernel source did not build on any candidate device; the message holds the build logs."""


def _pyopencl():
    import pyopencl  # the vendor package, imported only when the backend is asked for

    return pyopencl


def binary_path(bundle) -> Path | None:
    """The bundle's xclbin / awsxclbin, or None."""
    root = Path(bundle.path) / "bitstream"
    for pattern in BINARY_PATTERNS:
        found = sorted(root.glob(pattern)) if root.is_dir() else []
        if found:
            return found[0]
    return None


def source_path(bundle) -> Path | None:
    p = Path(bundle.path) / KERNEL_SOURCE
    return p if p.is_file() else None


def _matches(name: str, pattern: str | None) -> bool:
    return pattern is None or pattern.lower() in name.lower()


#: which of several identical cards this process drives (set per worker, e.g. by fpga_accel.distributed)
INDEX_ENV = "FPGA_ACCEL_DEVICE_INDEX"


def candidates(cl, bundle, platform: str | None = None, device: str | None = None) -> list[tuple]:
    """(platform, device, mode) to try in order; mode "binary" (the xclbin on Xilinx) or "source"."""
    source = is_tiled(bundle) or source_path(bundle) is not None  # the tiled engine's twin is always there
    return device_candidates(cl, binary_path(bundle) is not None, source, platform, device)


def device_candidates(cl, binary: bool, source: bool, platform: str | None = None,
                      device: str | None = None) -> list[tuple]:
    """:func:`candidates` for a program that has an xclbin (``binary``) and/or a kernel source."""
    platform = platform if platform is not None else os.environ.get(PLATFORM_ENV) or None
    device = device if device is not None else os.environ.get(DEVICE_ENV) or None
    out = []
    for p in cl.get_platforms():
        if not _matches(p.name, platform):
            continue
        xilinx = XILINX in p.name.lower()
        for d in p.get_devices():
            if not _matches(d.name, device):
                continue
            if xilinx and binary:
                out.append((p, d, "binary"))
            elif not xilinx and source and (device is not None or platform is not None
                                            or d.type & cl.device_type.CPU):
                out.append((p, d, "source"))
    out.sort(key=lambda c: c[2] != "binary")  # a card first when the bundle has its binary
    cards = [c for c in out if c[2] == "binary"]
    index = os.environ.get(INDEX_ENV, "").strip()
    if index and not index.isdigit():
        raise InputError(f"${INDEX_ENV} must be a card number (0, 1, ...), got {index!r}; unset it to use the "
                         f"first card")
    if len(cards) > 1 and index:  # one process per card (a Ray actor per device): card N first
        k = int(index) % len(cards)
        out = cards[k:] + cards[:k] + out[len(cards):]
    return out


class OpenCLBackend(Backend):
    name = "opencl"
    #: two batches in flight: the session prepares and enqueues the next while the device computes
    in_flight = 2
    priority = -5  # below the emulator: on PoCL it is a check of the kernel, not a faster path (see docs/opencl.md)

    @classmethod
    def unavailable(cls, bundle) -> str | None:
        skipped = bundle.manifest.get("opencl", {}).get("skipped")
        tiled = is_tiled(bundle)  # the tiled engine's twin comes with the package, not the bundle
        if binary_path(bundle) is None and skipped and not tiled:
            return f"this bundle has no OpenCL model ({skipped}) and no bitstream/*.xclbin"
        if binary_path(bundle) is None and source_path(bundle) is None and not tiled:
            return (f"the bundle has neither bitstream/*.xclbin nor {KERNEL_SOURCE}; compile with the "
                    f"OpenCL generator (fpga_accel.codegen.opencl.generate_opencl) or build the bitstream")
        if binary_path(bundle) is not None:
            mismatch = bitstream_mismatch(bundle)
            if mismatch:
                return mismatch
        try:
            cl = _pyopencl()
        except ImportError:
            return "pyopencl is not installed (pip install 'fpga-accel[opencl]')"
        try:
            found = candidates(cl, bundle)
        except InputError as e:  # a bad environment variable: say which
            return str(e)
        except Exception as e:  # noqa: BLE001 - must not raise; an ICD loader without platforms does
            return f"no OpenCL platform ({e})".replace("\n", " ")
        if not found:
            want = [f"{PLATFORM_ENV}={os.environ[PLATFORM_ENV]!r}"] if os.environ.get(PLATFORM_ENV) else []
            want += [f"{DEVICE_ENV}={os.environ[DEVICE_ENV]!r}"] if os.environ.get(DEVICE_ENV) else []
            kinds = "a Xilinx platform for the xclbin or a CPU device for the kernel source"
            return f"no OpenCL device found ({kinds}{'; with ' + ', '.join(want) if want else ''})"
        return None

    @classmethod
    def segments_from_bitstream(cls, bundle) -> bool:
        """A bundle in dataflow segments runs from its xclbin (every segment's kernel, a compute unit
        each) when it has one; otherwise each segment's own OpenCL twin runs (runtime/segments.py)."""
        return "segments" in bundle.manifest and binary_path(bundle) is not None

    def __init__(self, bundle, qmodel, timeout: float | None = None, platform: str | None = None,
                 device: str | None = None):
        super().__init__(bundle, qmodel, timeout)
        self.cl = cl = _pyopencl()
        self.last_timing: dict[str, int] | None = None
        self._sets: list[_BufferSet] = []  # device buffers, one set per batch in flight
        self.ctx = self.queue = self.program = self.kernel = self.tiled = None
        if is_tiled(bundle):
            self._open_tiled(platform, device)
            return
        # a bundle in dataflow segments: the program only, its kernels are the segments' (open_segments)
        self.args = [] if "segments" in bundle.manifest else (bundle.manifest.get("kernel", {}).get("args")
                                                               or _default_args(qmodel))
        unknown = [a["name"] for a in self.args if a["kind"] not in ("m_axi", "scalar")]
        if unknown:
            raise SessionError(f"kernel arguments {unknown} of {bundle.path} are of a kind this backend cannot set")
        self._scratch = 0
        found = candidates(cl, bundle, platform, device)
        if not found:
            raise BackendUnavailable(self.unavailable(bundle) or "no OpenCL device")
        logs = []
        self._wmem = None
        for p, d, mode in found:
            try:
                self._open(p, d, mode)
                break
            except cl.Error as e:
                logs.append(f"--- {p.name} / {d.name} ({mode}) ---\n{_build_log(cl, self.program, d, e)}")
                self._release()
        else:
            what = source_path(bundle) if found[0][2] == "source" else binary_path(bundle)
            raise OpenCLBuildError(f"{what}: the OpenCL program did not build on {len(logs)} device(s); pick "
                                   f"another with {PLATFORM_ENV} / {DEVICE_ENV}. Build log(s):\n" + "\n".join(logs))
        if self.mode != "binary":  # the twin's weights are constants: it takes no load arguments
            self.args = image_args(self.args)
        elif has_uram_weights(bundle) and self.kernel is not None:
            self._load_uram()

    def _load_uram(self) -> None:
        """The xclbin's URAM weights (empty after programming, AMD UG573): the blob in a buffer bound to
        ``wmem``, one run with load = 1 and no images, waited for against the timeout. The buffer stays
        bound to the argument, so later runs (load = 0) keep it."""
        cl = self.cl
        blob = read_uram_blob(self.bundle)
        self._wmem = cl.Buffer(self.ctx, cl.mem_flags.READ_ONLY, len(blob))
        word = int(self.bundle.manifest["kernel"].get("mem_word_bytes", 1))
        spare = cl.Buffer(self.ctx, cl.mem_flags.READ_WRITE, word)  # the image buffers: not read with load = 1
        args = [self._wmem if a["name"] == "wmem" else np.uint32(1) if a["name"] == "load" else
                spare if a["kind"] == "m_axi" else np.uint32(0) for a in self.args]
        self.kernel.set_args(*args)
        write = cl.enqueue_copy(self.queue, self._wmem, np.frombuffer(blob, np.uint8), is_blocking=False)
        run = cl.enqueue_nd_range_kernel(self.queue, self.kernel, (1,), (1,), wait_for=[write])
        self.queue.flush()
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        self._wait([write, run], "URAM weight load", deadline, self.timeout)
        spare.release()

    # --- setup ------------------------------------------------------------------------------
    def _open(self, platform, device, mode: str) -> None:
        cl = self.cl
        self.platform, self.device, self.mode = platform, device, mode
        self.ctx = cl.Context(devices=[device])
        self.queue = cl.CommandQueue(self.ctx, device, properties=cl.command_queue_properties.PROFILING_ENABLE)
        start = time.perf_counter()
        if mode == "binary":
            data = binary_path(self.bundle).read_bytes()
            self.program = cl.Program(self.ctx, [device], [data])
        else:
            # read through the manifest's sha256: the source compiled is the one compile wrote
            self.program = cl.Program(self.ctx, self.bundle.read(KERNEL_SOURCE).decode())
        self.program.build(options=list(self.bundle.manifest.get("opencl", {}).get("build_options", [])),
                           devices=[device])
        self.build_s = time.perf_counter() - start
        if "segments" not in self.bundle.manifest:
            self.kernel = cl.Kernel(self.program, self.bundle.manifest.get("kernel", {}).get("name", "fa_kernel"))
        # the source's global scratch (the xclbin keeps its tensors on chip: no such argument)
        scratch = self.bundle.manifest.get("opencl", {}).get("scratch") or {}
        self._scratch = int(scratch.get("bytes_per_work_item", 0)) if mode == "source" else 0

    def open_segments(self, opened: list) -> list:
        """One backend per segment (``opened``: [(segment bundle, its QModel)]) on this program's kernel
        of its name (``fa_kernel_s<k>``), sharing the context, queue and program: the card is
        programmed once; the chain runs the kernels in turn, the host steps between them. A kernel with
        URAM weights gets them from its segment's ``weights/uram.bin`` first (one load run each)."""
        out = []
        for sub, sq in opened:
            seg = type(self).__new__(type(self))
            Backend.__init__(seg, sub, sq, self.timeout)
            seg.cl, seg.last_timing, seg._sets, seg.tiled, seg._scratch = self.cl, None, [], None, 0
            seg.platform, seg.device, seg.mode, seg.build_s = self.platform, self.device, self.mode, self.build_s
            seg.ctx, seg.queue, seg.program, seg._wmem = self.ctx, self.queue, self.program, None
            seg.args, name = sub.manifest["kernel"]["args"], sub.manifest["kernel"]["name"]
            try:
                seg.kernel = self.cl.Kernel(self.program, name)
            except self.cl.Error as e:
                raise BackendUnavailable(f"{binary_path(self.bundle)} has no kernel {str(name)[:80]!r} ({e}); it was "
                                         "built from another bundle: rebuild it with `fpga-accel build`") from None
            out.append(seg)
            if has_uram_weights(sub):  # each kernel's own URAM weights, from its segment's blob
                try:
                    seg._load_uram()
                except BaseException:
                    for b in out:
                        b.close()
                    raise
        return out

    def _open_tiled(self, platform: str | None, device: str | None) -> None:
        """The tiled engine: its xclbin on a Xilinx card, else the twin built for a CPU device, driven
        by :class:`~fpga_accel.tiled.opencl.TiledOpenCL` with the bundle's own descriptors."""
        from ...bundle_tiled import load_program
        from ...tiled.opencl import KERNEL_SOURCES, TiledOpenCL

        cl = self.cl
        program, words = load_program(self.bundle)
        found = candidates(cl, self.bundle, platform, device)
        if not found:
            raise BackendUnavailable(self.unavailable(self.bundle) or "no OpenCL device")
        logs = []
        for p, d, mode in found:
            try:
                binary = binary_path(self.bundle).read_bytes() if mode == "binary" else None
                self.tiled = TiledOpenCL(program, device=d, binary=binary, timeout=self.device_timeout())
            except cl.Error as e:
                logs.append(f"--- {p.name} / {d.name} ({mode}) ---\n{e}")
                continue
            self.tiled.descriptors = words  # the bundle's own (== encode(program), checked on load)
            self.platform, self.device, self.mode, self.build_s = p, d, mode, self.tiled.build_s
            return
        what = KERNEL_SOURCES[-1].parent if found[0][2] == "source" else binary_path(self.bundle)
        raise OpenCLBuildError(f"{what}: the tiled engine's program did not build on {len(logs)} device(s); pick "
                               f"another with {PLATFORM_ENV} / {DEVICE_ENV}. Build log(s):\n" + "\n".join(logs))

    def _buffer_set(self, n: int) -> _BufferSet:
        """A set of buffers for ``n`` images no started batch is using (made or grown as needed)."""
        free = [b for b in self._sets if not b.busy]
        if not free:
            free = [_BufferSet()]
            self._sets.append(free[0])
        bs = max(free, key=lambda b: b.capacity)
        if bs.capacity < n:
            cl = self.cl
            bs.release()
            extra = cl.mem_flags.ALLOC_HOST_PTR if self.mode == "binary" else 0
            for a in self.args:
                if a["kind"] == "m_axi" and "tensor" in a:  # (wmem: the load's buffer, made once)
                    t = self.qmodel.tensors[a["tensor"]]
                    size = n * int(np.prod(t.shape[1:], dtype=np.int64)) * np.dtype(a["dtype"]).itemsize
                    flags = cl.mem_flags.READ_ONLY if a.get("direction") == "in" else cl.mem_flags.WRITE_ONLY
                    # the FPGA kernel reads and writes whole memory words: never past the buffer's end
                    word = int(self.bundle.manifest["kernel"].get("mem_word_bytes", 1))
                    bs.buffers[a["name"]] = cl.Buffer(self.ctx, flags | extra, max(1, -(-size // word)) * word)
            if self._scratch:  # one slice per work-item, one work-item per image
                bs.buffers[SCRATCH] = cl.Buffer(self.ctx, cl.mem_flags.READ_WRITE, n * self._scratch)
            bs.capacity = n
        bs.busy = True
        return bs

    # --- running ----------------------------------------------------------------------------
    def run_raw(self, q_inputs):
        return self.wait(self.start(q_inputs), self.timeout)

    def start(self, q_inputs):
        """Enqueue write → kernel → read for one batch (nothing waits here); the handle for :meth:`wait`."""
        try:
            if self.tiled is not None:  # one engine call per image, each waited for against the timeout
                outs = self.tiled.run(q_inputs)
                self.last_timing = self.tiled.last_timing
                return _Call(outs, [], None, [])
            return self._enqueue(q_inputs)
        except Exception as e:  # noqa: BLE001 - raised again by wait, where the session expects answers
            return _Call({}, [], None, [], error=e)

    def wait(self, handle, timeout: float | None):
        """The outputs of a started batch; :class:`OpenCLTimeout` when an event is not complete
        within ``timeout`` seconds (the events are polled, never waited on without a bound)."""
        if handle.error is not None:
            raise handle.error
        if handle.run is None:
            return handle.outs
        deadline = None if timeout is None else time.monotonic() + timeout
        self._wait(handle.writes, "input transfer", deadline, timeout)
        self._wait([handle.run], "kernel", deadline, timeout)
        self._wait(handle.reads, "output transfer", deadline, timeout)
        handle.buffers.busy = False  # (a batch that timed out keeps its buffers: it may still complete)
        self.last_timing = _timing(handle.writes, handle.run, handle.reads)
        return handle.outs

    def _enqueue(self, q_inputs) -> _Call:
        cl = self.cl
        n = next(iter(q_inputs.values())).shape[0] if q_inputs else 0
        outs = {a["tensor"]: np.empty((n, *self.qmodel.tensors[a["tensor"]].shape[1:]), a["dtype"])
                for a in self.args if a["kind"] == "m_axi" and a.get("direction") == "out"}
        if n == 0:
            return _Call(outs, [], None, [])
        bs = self._buffer_set(n)
        # the arguments are set before this set's first transfer: XRT places a buffer in the memory bank
        # of the argument it is first bound to; the kernel keeps the values it had when it was enqueued
        args = [self._wmem if a["name"] == "wmem" and self._wmem is not None else np.uint32(0) if a["name"] == "load"
                else bs.buffers[a["name"]] if a["kind"] == "m_axi" else np.uint32(n) for a in self.args]
        self.kernel.set_args(*args, *([bs.buffers[SCRATCH]] if self._scratch else []))
        writes = [cl.enqueue_copy(self.queue, bs.buffers[a["name"]],
                                  np.ascontiguousarray(q_inputs[a["tensor"]], a["dtype"]), is_blocking=False)
                  for a in self.args if a["kind"] == "m_axi" and a.get("direction") == "in" and "tensor" in a]
        size = (1,) if self.mode == "binary" else (n,)
        run = cl.enqueue_nd_range_kernel(self.queue, self.kernel, size, (1,), wait_for=writes)
        reads = [cl.enqueue_copy(self.queue, outs[a["tensor"]], bs.buffers[a["name"]], is_blocking=False,
                                 wait_for=[run])
                 for a in self.args if a["kind"] == "m_axi" and a.get("direction") == "out"]
        self.queue.flush()
        return _Call(outs, writes, run, reads, buffers=bs)

    def _wait(self, events, what: str, deadline: float | None, timeout: float | None) -> None:
        wait_events(self.cl, events, f"{what} on {self.device.name}", deadline, timeout)

    # --- lifetime ---------------------------------------------------------------------------
    def _release(self) -> None:
        if self.tiled is not None:
            self.tiled.close()
            self.tiled = None
        for bs in self._sets:
            bs.release()
        self._sets = []
        if self.queue is not None:
            try:
                self.queue.finish()
            except self.cl.Error:
                pass
        if getattr(self, "_wmem", None) is not None:
            self._wmem.release()
            self._wmem = None
        self.kernel = self.program = self.queue = self.ctx = None

    def close(self) -> None:
        self._release()


def wait_events(cl, events, what: str, deadline: float | None, timeout: float | None) -> None:
    """Poll ``events`` until complete: :class:`OpenCLTimeout` past ``deadline`` (never an unbounded
    wait), :class:`SessionError` when one failed. ``what`` names the command and device."""
    done = cl.command_execution_status.COMPLETE
    for ev in events:
        pause = 0.0
        while True:
            status = ev.command_execution_status
            if status == done:
                break
            if status < 0:
                raise SessionError(f"OpenCL {what} failed with status {status}")
            if deadline is not None and time.monotonic() > deadline:
                raise OpenCLTimeout(f"OpenCL {what} did not complete within {timeout:.3g} s; raise the timeout or "
                                    f"run fewer images at once")
            time.sleep(pause)
            pause = min(POLL_MAX_S, pause * 2 or 1e-5)


class _Call:
    """One started batch: its output arrays, events and buffers (or the error that stopped it)."""

    def __init__(self, outs, writes, run, reads, error=None, buffers=None):
        self.outs, self.writes, self.run, self.reads, self.error = outs, writes, run, reads, error
        self.buffers = buffers


class _BufferSet:
    """Device buffers by argument name for ``capacity`` images; ``busy`` while a batch uses them."""

    def __init__(self):
        self.buffers: dict[str, object] = {}
        self.capacity, self.busy = 0, False

    def release(self) -> None:
        for buf in self.buffers.values():
            buf.release()
        self.buffers, self.capacity = {}, 0


def _default_args(qmodel) -> list[dict]:
    from ...bundle_kernel import kernel_interface

    return kernel_interface(qmodel)["args"]


def _build_log(cl, program, device, error) -> str:
    log = ""
    if program is not None:
        try:
            log = program.get_build_info(device, cl.program_build_info.LOG) or ""
        except Exception:  # noqa: BLE001 - no log from a device that failed before building
            log = ""
    text = str(error)
    return text if log.strip() and log.strip() in text else f"{text}\n{log}".strip()


def _timing(writes, run, reads) -> dict[str, int] | None:
    """Nanoseconds of the transfers and the kernel, from the events' profiling counters."""
    try:
        def span(evs):
            return max(e.profile.end for e in evs) - min(e.profile.start for e in evs) if evs else 0

        start = min(e.profile.start for e in [*writes, run])
        end = max(e.profile.end for e in [run, *reads])
        return {"write_ns": int(span(writes)), "kernel_ns": int(run.profile.end - run.profile.start),
                "read_ns": int(span(reads)), "total_ns": int(end - start)}
    except Exception:  # noqa: BLE001 - a device without profiling counters gives no timing
        return None


BACKEND = OpenCLBackend
