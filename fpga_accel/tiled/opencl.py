"""The tiled engine on an OpenCL device: the twin kernel (``opencl_records.cl``, ``opencl_checks.cl``
and ``opencl_engine.cl``, joined) built for a CPU device such as PoCL, or the engine's xclbin on XRT,
driven by one host path.

Both expose ``fa_tiled_kernel(desc, desc_words, weights, weights_bytes, acts, act_bytes, status)``
(:data:`KERNEL_ARGS`): the arguments of ``hls/include/fpga_accel/tiled/top.h`` in its order, with the
return value it gives in its control register as a one-word ``status`` buffer, since an OpenCL
kernel returns nothing. :class:`TiledOpenCL` is the reference executor
(:class:`~fpga_accel.tiled.engine.TiledEngine`) with its layer loop replaced by one kernel call per
image over ``self.descriptors`` (which a caller may replace between runs, as with
:class:`~fpga_accel.tiled.csim.TiledCsim`)::

    from fpga_accel.tiled.opencl import TiledOpenCL
    outs = TiledOpenCL(program).run(raw_inputs)        # == TiledEngine(program).run(raw_inputs), bit for bit

Per image the host writes the descriptors and the activation arena (the inputs already in it), the
kernel runs, and the arena and status word come back; the weights arena is written once. The
arguments are set before the first transfer (XRT places each buffer in the bank of its argument);
waits poll the events against ``timeout``, which bounds all the images of one ``run`` together. A
status other than 0 raises :class:`~fpga_accel.tiled.csim.EngineStatusError` naming the code and
layer, as the C simulation does.

The twin runs as one work-group (its work-items share each layer's outputs and meet at a barrier
between layers); an xclbin runs as a task of one work-item. pyopencl is imported when a device is
opened, never at module import.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from ..quant.arith import MAX_ACC_BITS
from .csim import ALL_UNITS, DEFAULT_LUT_ENTRIES, STATUS, EngineConfig, EngineStatusError
from .descriptors import encode
from .engine import MAX_ACTIVATION_BYTES, TiledEngine
from .program import Program, ProgramError

#: the twin's source files, in the order they are joined into one program
KERNEL_SOURCES = tuple(Path(__file__).with_name(f"opencl_{part}.cl") for part in ("records", "checks", "engine"))
KERNEL_NAME = "fa_tiled_kernel"
#: the kernel's arguments in order: tiled/top.h's, then its return value as a one-word buffer
KERNEL_ARGS = ("desc", "desc_words", "weights", "weights_bytes", "acts", "act_bytes", "status")
#: work-items of the twin's one work-group (fewer when the device allows fewer)
WORK_GROUP = 256
#: device buffers are whole 512-bit memory words: an engine moving whole words never passes their end
MEMORY_WORD = 64


class TwinUnavailable(ProgramError):
    """No OpenCL device to run the twin on (pyopencl missing, or no CPU device)."""


def build_options(config: EngineConfig) -> list[str]:
    """The twin's ``-D`` options for one engine configuration (integers only: a program is untrusted)."""
    return ["-D" + d for d in config.defines() if not d.startswith("FA_TILED_AS_SYNTHESIS")]


def kernel_source() -> str:
    """The twin's OpenCL C: its three files joined."""
    return "\n".join(p.read_text() for p in KERNEL_SOURCES)


def _pyopencl():
    try:
        import pyopencl  # the vendor package, imported only when a device is opened
    except ImportError:
        raise TwinUnavailable("pyopencl is not installed (pip install 'fpga-accel[opencl]')") from None
    return pyopencl


def default_device(cl=None):
    """The first CPU OpenCL device (``FPGA_ACCEL_OPENCL_PLATFORM`` / ``_DEVICE`` narrow the choice)."""
    from ..runtime.backends.opencl import DEVICE_ENV, PLATFORM_ENV, device_candidates

    cl = cl or _pyopencl()
    try:
        found = device_candidates(cl, binary=False, source=True)
    except cl.Error as e:  # an ICD loader without platforms
        raise TwinUnavailable(f"no OpenCL platform ({e})") from None
    if not found:
        narrowed = [f"${k}={os.environ[k]!r}" for k in (PLATFORM_ENV, DEVICE_ENV) if os.environ.get(k)]
        raise TwinUnavailable("no OpenCL CPU device for the tiled engine's twin (install PoCL" +
                              (f", or change {', '.join(narrowed)})" if narrowed else ")"))
    return found[0][1]


class TiledOpenCL(TiledEngine):
    """:class:`TiledEngine` whose layers run in ``fa_tiled_kernel`` on an OpenCL device: the twin built
    from source for the program's engine configuration, or ``binary`` (an xclbin's bytes)."""

    def __init__(self, program: Program, device=None, binary: bytes | None = None, timeout: float | None = None,
                 acc_bits: int = MAX_ACC_BITS, lut_entries: int = DEFAULT_LUT_ENTRIES,
                 max_activation_bytes: int = MAX_ACTIVATION_BYTES, units: int = ALL_UNITS):
        super().__init__(program, max_activation_bytes)
        for what, n in (("weights", self.weights.buf.size), ("activation", self.acts.buf.size)):
            if n >= 1 << 32:  # the kernel's sizes and addresses are 32-bit
                raise ProgramError(f"tiled engine: the {what} arena has {n} bytes, more than 32-bit sizes hold")
        self.descriptors = encode(program)
        self.timeout, self.last_timing = timeout, None
        self.cl = cl = _pyopencl()
        self.device = device if device is not None else default_device(cl)
        self.ctx = cl.Context(devices=[self.device])
        self.queue = cl.CommandQueue(self.ctx, self.device, properties=cl.command_queue_properties.PROFILING_ENABLE)
        start = time.perf_counter()
        if binary is not None:
            self.program_cl = cl.Program(self.ctx, [self.device], [binary]).build()
        else:
            options = build_options(EngineConfig.of(program, acc_bits, lut_entries, units=units))
            self.program_cl = cl.Program(self.ctx, kernel_source()).build(options=options)
        self.build_s = time.perf_counter() - start
        self.kernel = cl.Kernel(self.program_cl, KERNEL_NAME)
        wg = self.kernel.get_work_group_info(cl.kernel_work_group_info.WORK_GROUP_SIZE, self.device)
        self.work_items = 1 if binary is not None else max(1, min(WORK_GROUP, wg))
        mf = cl.mem_flags
        self._host_ptr = mf.ALLOC_HOST_PTR if binary is not None else 0  # as the dataflow path on XRT
        self._weights = cl.Buffer(self.ctx, mf.READ_ONLY | self._host_ptr, _words(self.weights.buf.size))
        self._acts = cl.Buffer(self.ctx, mf.READ_WRITE | self._host_ptr, _words(self.acts.buf.size))
        self._status = cl.Buffer(self.ctx, mf.WRITE_ONLY | self._host_ptr, MEMORY_WORD)
        self._desc, self._desc_bytes, self._deadline = None, 0, None
        self._weights_written = False

    def run(self, inputs):
        """As :meth:`TiledEngine.run`, all images within ``timeout`` seconds together."""
        self._deadline = None if self.timeout is None else time.monotonic() + self.timeout
        try:
            return super().run(inputs)
        finally:
            self._deadline = None

    def _run_layers(self) -> None:
        from ..runtime.backends.opencl import wait_events

        cl, words = self.cl, self.descriptors
        if not isinstance(words, np.ndarray) or words.dtype != np.uint32 or words.ndim != 1:
            raise ProgramError("tiled engine: the descriptors must be a 1-D uint32 array")
        words = np.ascontiguousarray(words)
        if words.size == 0 or words.size >= 1 << 30:
            raise ProgramError(f"tiled engine: {words.size} descriptor words; the engine takes 1 to {(1 << 30) - 1}")
        if self._desc_bytes < words.nbytes:
            if self._desc is not None:
                self._desc.release()
            size = _words(words.nbytes)
            self._desc, self._desc_bytes = cl.Buffer(self.ctx, cl.mem_flags.READ_ONLY | self._host_ptr, size), size
        # arguments before the first transfer into their buffers
        self.kernel.set_args(self._desc, np.uint32(words.size), self._weights, np.uint32(self.weights.buf.size),
                             self._acts, np.uint32(self.acts.buf.size), self._status)
        writes = [cl.enqueue_copy(self.queue, self._desc, words, is_blocking=False)]
        if not self._weights_written and self.weights.buf.size:
            writes.append(cl.enqueue_copy(self.queue, self._weights, np.ascontiguousarray(self.weights.buf),
                                          is_blocking=False))
        if self.acts.buf.size:
            writes.append(cl.enqueue_copy(self.queue, self._acts, self.acts.buf, is_blocking=False))
        size = (self.work_items,)
        run = cl.enqueue_nd_range_kernel(self.queue, self.kernel, size, size, wait_for=writes)
        status = np.zeros(1, np.uint32)
        reads = [cl.enqueue_copy(self.queue, status, self._status, is_blocking=False, wait_for=[run])]
        if self.acts.buf.size:
            reads.append(cl.enqueue_copy(self.queue, self.acts.buf, self._acts, is_blocking=False, wait_for=[run]))
        self.queue.flush()
        deadline = self._deadline
        if deadline is None and self.timeout is not None:  # called on its own, not from run()
            deadline = time.monotonic() + self.timeout
        name = self.device.name
        wait_events(cl, writes, f"input transfer on {name}", deadline, self.timeout)
        self._weights_written = True
        wait_events(cl, [run], f"kernel on {name}", deadline, self.timeout)
        wait_events(cl, reads, f"output transfer on {name}", deadline, self.timeout)
        try:
            self.last_timing = {"kernel_ns": int(run.profile.end - run.profile.start)}
        except cl.Error:  # a device without profiling counters
            self.last_timing = None
        if status[0]:
            raise status_error(int(status[0]), self.program, f"OpenCL on {name}")

    def close(self) -> None:
        """Release the device buffers and queue (also done when the object is collected)."""
        self.queue.finish()  # nothing enqueued still uses the buffers
        for buf in (self._desc, self._weights, self._acts, self._status):
            if buf is not None:
                buf.release()
        self._desc = self._weights = self._acts = self._status = None


def _words(n: int) -> int:
    """Bytes of a device buffer holding ``n`` bytes: whole memory words, at least one."""
    return max(1, -(-n // MEMORY_WORD)) * MEMORY_WORD


def status_error(status: int, program: Program, where: str) -> EngineStatusError:
    """The engine's status word as the error the C simulation raises, naming where it ran."""
    code, layer = status & 0xFF, status >> 8
    layers = program.layers
    at = f"layer {layer} '{layers[layer]['name']}'" if code > 2 and layer < len(layers) else "the program"
    return EngineStatusError(f"tiled engine ({where}): {at}: status {code}, {STATUS.get(code, 'unknown status')}",
                             code, layer)
