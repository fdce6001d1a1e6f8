"""``Session``: run a compiled bundle, float in and float out, on one of the backends.

Around the backend (which computes only the accelerated part's integers) the session runs the
host ops before it in float, quantises the hardware inputs (round half to even), dequantises the
hardware outputs and runs the host ops after it, exactly as :func:`fpga_accel.emulator.emulate`
does. A batch of any size is split into chunks of at most ``batch_size`` images (and of the
backend's ``max_batch``); with a backend that allows it, the next chunk is prepared and started
while the previous one computes (double buffering).

Runs execute in order on the session's own thread: :meth:`Session.submit` returns at once with a
:class:`RunFuture`, :meth:`Session.run` waits for it. Every wait is bounded by ``timeout``, so a
hung device raises :class:`SessionTimeout` instead of blocking for ever.
"""
from __future__ import annotations

import os
import time
import weakref
from collections import deque

import numpy as np

from ..bundle import Bundle, load_bundle
from ..bundle_model import load_qmodel
from ..errors import InputError
from ..ir.execute import run_graph
from ..procs import valid_seconds
from ..quant.arith import dequantize, quantize
from .backends import availability, choose_backend, get_backend
from .errors import BackendUnavailable, SessionError, SessionTimeout
from .feeds import batch_size as batch_of
from .feeds import by_name, check_float, check_raw, warn_saturation
from .segments import SegmentedBackend, is_segmented
from .stats import SessionStats, Timing
from .worker import Job, Worker

__all__ = ["RunFuture", "Session", "SessionStats", "Timing"]


class RunFuture:
    """A submitted run. :meth:`result` waits for its outputs (``{name: array}``)."""

    def __init__(self, session: Session, job: Job, images: int):
        self._session, self._job, self.images = session, job, images

    def done(self) -> bool:
        return self._job.done()

    def result(self, timeout: float | None = None) -> dict[str, np.ndarray]:
        """The outputs; the run's error re-raised. ``timeout`` (seconds) bounds this wait: past it
        :class:`SessionTimeout` is raised and the run goes on (ask again later). Independently,
        with a session ``timeout``, a backend that makes no progress for that long ends the run
        with :class:`SessionTimeout`."""
        s, job = self._session, self._job
        if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float))
                                    or not 0 <= timeout < float("inf")):
            raise InputError(f"result(timeout=...) must be a number of seconds >= 0 or None, got {timeout!r}")
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if job.wait(0.05 if left is None else min(0.05, left)):
                return job.result(0)
            if s._stalled():
                raise s._hung("made no progress")
            if deadline is not None and time.monotonic() >= deadline:
                raise SessionTimeout(f"the run of {self.images} image(s) is not finished after {timeout} s; it goes "
                                     "on: call result() again to keep waiting")


class Session:
    """A compiled model ready to run.

    ``bundle`` is a :class:`~fpga_accel.bundle.Bundle` or the path of a ``NAME.fpga`` directory
    (loaded and hash-verified). ``backend`` is a name from :func:`backend_names` or ``"auto"``
    (the available backend of highest priority). ``batch_size`` bounds the images per backend
    call (None: the whole batch, within the backend's ``max_batch``). ``timeout`` (seconds, None:
    no limit) bounds every wait: each chunk on the backend, and each host step of a run, must
    finish within it, else :class:`SessionTimeout` is raised and the session refuses further runs
    (the device state is unknown; open a new session).
    Use as a context manager or call :meth:`close`.
    """

    def __init__(self, bundle: Bundle | str | os.PathLike, backend: str = "emulator",
                 batch_size: int | None = None, timeout: float | None = None):
        if not isinstance(bundle, (Bundle, str, os.PathLike)):
            raise InputError(f"bundle must be a Bundle or the path of a NAME.fpga directory, got {type(bundle).__name__}")
        if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int)
                                       or batch_size < 1):
            raise InputError(f"batch_size must be a positive integer or None, got {batch_size!r}")
        if timeout is not None and not valid_seconds(timeout):  # (inf: use None; NaN fails too)
            raise InputError(f"timeout must be a positive number of seconds or None, got {timeout!r}")
        self.bundle = bundle if isinstance(bundle, Bundle) else load_bundle(bundle)
        self.qmodel = load_qmodel(self.bundle)
        cls = choose_backend(self.bundle) if backend == "auto" else get_backend(backend)
        why = availability(cls, self.bundle)
        if why is not None:
            raise BackendUnavailable(f"backend '{cls.name}' cannot run {self.bundle.path}: {why}")
        self.batch_size, self.timeout = batch_size, timeout
        if is_segmented(self.bundle):  # dataflow segments with host steps between them, one backend each
            self.backend = SegmentedBackend(cls, self.bundle, self.qmodel, timeout=timeout)
        else:
            self.backend = cls(self.bundle, self.qmodel, timeout=timeout)
        self.stats = SessionStats()
        self._closed = False
        self._broken: str | None = None  # set when the backend timed out: its state is unknown
        self._saturation_told = False  # inputs clamped by quantisation: warned once per session
        self._beat: float | None = None  # last progress of the running run (None: idle)
        self._worker = Worker("fpga-accel-session")
        # an unclosed session still stops its thread when it is collected
        self._finalizer = weakref.finalize(self, self._worker.stop)
        self._finalizer.atexit = False  # daemon threads end with the interpreter anyway

    # --- description -------------------------------------------------------------------------
    @property
    def input_names(self) -> list[str]:
        return [t.name for t in self.qmodel.model_inputs]

    @property
    def output_names(self) -> list[str]:
        return [t.name for t in self.qmodel.model_outputs]

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"Session({str(self.bundle.path)!r}, backend={self.backend.name!r}, {state})"

    # --- running ----------------------------------------------------------------------------
    def run(self, inputs, raw: bool = False) -> dict[str, np.ndarray]:
        """Run a batch: ``x`` (single-input models) or ``{input name: x}``, batch on axis 0.

        Returns ``{output name: array}``. With ``raw=True`` inputs and outputs are the hardware
        integers (names of the accelerated part's inputs and outputs; ``bundle.manifest
        ["hardware"]`` lists them with their qtype, scale and zero point).
        """
        return self.submit(inputs, raw=raw).result()

    def submit(self, inputs, raw: bool = False) -> RunFuture:
        """Start a run and return at once; the inputs are checked now (errors raise here).

        Runs execute one after the other in submission order. Do not modify the input arrays
        before the run's result is in: the session reads them while it runs.
        """
        self._check_usable()
        qm = self.qmodel
        if raw:
            feeds = check_raw(by_name(inputs, [t.name for t in qm.inputs], "raw input"), qm.inputs)
        else:
            feeds = check_float(by_name(inputs, self.input_names), qm.model_inputs)
        n = batch_of(feeds)
        try:
            job = self._worker.submit(self._execute, feeds, raw, n)
        except RuntimeError:  # closed by another thread meanwhile
            self._check_usable()
            raise
        return RunFuture(self, job, n)

    def hardware_inputs(self, inputs) -> dict[str, np.ndarray]:
        """Float model inputs → the hardware input integers (host ops before, then quantisation)."""
        qm = self.qmodel
        return self._quantize(check_float(by_name(inputs, self.input_names), qm.model_inputs))

    def model_outputs(self, raw: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Hardware output integers → the model's float outputs (dequantisation, host ops after)."""
        qm = self.qmodel
        missing = [t.name for t in qm.outputs if not isinstance(raw, dict) or t.name not in raw]
        if missing:
            raise InputError(f"model_outputs needs the hardware output(s) {missing} (a dict of integer arrays)")
        deq = {t.name: dequantize(raw[t.name], t.qparams) for t in qm.outputs}
        post = run_graph(qm.host_after, deq) if qm.host_after.nodes else deq
        return {name: post[name] for name in self.output_names}

    def _step(self, n: int) -> int:
        step = min(self.batch_size or n, n)
        cap = getattr(self.backend, "max_batch", None)
        return min(step, cap) if cap else step

    def _execute(self, feeds: dict[str, np.ndarray], raw: bool, n: int) -> dict[str, np.ndarray]:
        """One run on the session's thread: chunks started ahead up to the backend's ``in_flight``."""
        self._check_usable()
        start = self._beat = time.monotonic()
        try:
            step, ahead = self._step(n), max(1, int(getattr(self.backend, "in_flight", 1)))
            pending: deque = deque()
            parts = []
            for s in range(0, n, step):
                chunk = {k: v[s:s + step] for k, v in feeds.items()}
                q = chunk if raw else self._quantize(chunk)
                pending.append((s, min(n, s + step), self.backend.start(q)))
                self._beat = time.monotonic()
                if len(pending) >= ahead:
                    parts.append(self._finish(pending.popleft(), n, raw))
            while pending:
                parts.append(self._finish(pending.popleft(), n, raw))
            out = parts[0] if len(parts) == 1 else {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        finally:
            self._beat = None
        self.stats.record(time.monotonic() - start, n, backend_calls=-(-n // step), largest_call=min(step, n))
        return out

    def _quantize(self, chunk):
        qm = self.qmodel
        pre = run_graph(qm.host_before, chunk) if qm.host_before.nodes else chunk
        if not self._saturation_told:
            self._saturation_told = warn_saturation(pre, qm.inputs)
        return {t.name: quantize(pre[t.name], t.qparams, name=t.name) for t in qm.inputs}

    def _finish(self, item, n: int, raw: bool) -> dict[str, np.ndarray]:
        s, e, handle = item
        try:
            got = self.backend.wait(handle, self.timeout)
        except (TimeoutError, SessionTimeout) as err:
            # a backend's own timeout message carries its diagnosis (which transfer stalled, ...)
            why = str(err) if isinstance(err, SessionTimeout) else ""
            raise self._hung(f"gave no answer for images {s}..{e - 1} of {n}", why) from None
        self._beat = time.monotonic()
        checked = self._check_answer(got, e - s)
        return checked if raw else self.model_outputs(checked)

    def _check_answer(self, got, n: int) -> dict[str, np.ndarray]:
        """The backend's answer checked against the manifest (a wrong answer is a backend bug)."""
        out = {}
        for t in self.qmodel.outputs:
            x = got.get(t.name) if isinstance(got, dict) else None
            q = t.qparams.qtype
            want = (n,) + tuple(t.shape[1:])
            if x is None or np.asarray(x).shape != want or np.asarray(x).dtype.kind not in "iu":
                desc = "nothing" if x is None else f"{np.asarray(x).dtype} {np.asarray(x).shape}"
                raise SessionError(f"backend '{self.backend.name}' returned {desc} for hardware output "
                                   f"'{t.name}'; expected {q.name} integers of shape {want}")
            x = np.asarray(x)
            if x.min() < q.min or x.max() > q.max:
                raise SessionError(f"backend '{self.backend.name}' returned values outside {q.name} for "
                                   f"hardware output '{t.name}'")
            out[t.name] = x.astype(q.dtype, copy=False)
        return out

    # --- timeouts ---------------------------------------------------------------------------
    def _stalled(self) -> bool:
        beat = self._beat
        return self.timeout is not None and beat is not None and time.monotonic() - beat > self.timeout

    def _hung(self, what: str, detail: str = "") -> SessionTimeout:
        msg = (f"backend '{self.backend.name}' {what} within the timeout of {self.timeout} s; the device may be "
               "hung. Close this session and open a new one (or raise the timeout)"
               + (f". The backend says: {detail}" if detail else ""))
        self._broken = self._broken or msg
        return SessionTimeout(msg)

    def _check_usable(self) -> None:
        if self._closed:
            raise SessionError(f"this session of {self.bundle.path} is closed; open a new Session to run again")
        if self._broken:
            raise SessionError(f"this session cannot run any more: {self._broken}")

    # --- lifetime ---------------------------------------------------------------------------
    def close(self) -> None:
        """Release the backend (device, buffers, threads). Closing twice is harmless; running
        afterwards is an error, and runs submitted but not started fail with SessionError."""
        if self._closed:
            return
        self._closed = True
        self._worker.stop(SessionError(f"the session of {self.bundle.path} was closed before this run started"),
                          join=0.0 if self._broken else 1.0)
        self._finalizer.detach()
        self.backend.close()

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
