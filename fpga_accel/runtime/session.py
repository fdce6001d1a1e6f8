"""``Session``: run a compiled bundle, float in and float out, on one of the backends.

Around the backend (which computes only the accelerated part's integers) the session runs the
host ops before it in float, quantises the hardware inputs (round half to even), dequantises the
hardware outputs and runs the host ops after it, exactly as :func:`fpga_accel.emulator.emulate`
does. Batches of any size are split into ``batch_size`` chunks.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass

import numpy as np

from ..bundle import Bundle, load_bundle
from ..errors import InputError
from ..ir.execute import run_graph
from ..quant.arith import dequantize, quantize
from .backends import choose_backend, get_backend
from .errors import BackendUnavailable, SessionError, SessionTimeout
from .feeds import batch_size as batch_of
from .feeds import by_name, check_float, check_raw


@dataclass
class SessionStats:
    """Counters of a session: runs, images, and time spent in :meth:`Session.run` (seconds)."""

    calls: int = 0
    images: int = 0
    total_s: float = 0.0
    last_s: float = 0.0
    last_images: int = 0

    @property
    def images_per_s(self) -> float:
        return self.images / self.total_s if self.total_s > 0 else 0.0

    @property
    def latency_s(self) -> float:
        """Mean time per image."""
        return self.total_s / self.images if self.images else 0.0

    def __str__(self) -> str:
        return (f"{self.calls} run(s), {self.images} image(s) in {self.total_s:.3f} s "
                f"(last {self.last_s * 1e3:.2f} ms for {self.last_images}), {self.images_per_s:,.1f} images/s")


class Session:
    """A compiled model ready to run.

    ``bundle`` is a :class:`~fpga_accel.bundle.Bundle` or the path of a ``NAME.fpga`` directory
    (loaded and hash-verified). ``backend`` is a name from :func:`backend_names` or ``"auto"``
    (the available backend of highest priority). ``batch_size`` bounds the images per backend
    call (None: the whole batch at once); ``timeout`` (seconds) bounds one :meth:`run`.
    Use as a context manager or call :meth:`close`.
    """

    def __init__(self, bundle: Bundle | str | os.PathLike, backend: str = "emulator",
                 batch_size: int | None = None, timeout: float | None = None):
        from ..compiler import load_qmodel

        if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int)
                                       or batch_size < 1):
            raise InputError(f"batch_size must be a positive integer or None, got {batch_size!r}")
        if timeout is not None and not (isinstance(timeout, (int, float)) and timeout > 0):
            raise InputError(f"timeout must be a positive number of seconds or None, got {timeout!r}")
        self.bundle = bundle if isinstance(bundle, Bundle) else load_bundle(bundle)
        self.qmodel = load_qmodel(self.bundle)
        cls = choose_backend(self.bundle) if backend == "auto" else get_backend(backend)
        why = cls.unavailable(self.bundle)
        if why is not None:
            raise BackendUnavailable(f"backend '{cls.name}' cannot run {self.bundle.path}: {why}")
        self.batch_size, self.timeout = batch_size, timeout
        self.backend = cls(self.bundle, self.qmodel, timeout=timeout)
        self.stats = SessionStats()
        self._closed = False

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
        if self._closed:
            raise SessionError(f"this session of {self.bundle.path} is closed; open a new Session to run again")
        qm = self.qmodel
        if raw:
            feeds = check_raw(by_name(inputs, [t.name for t in qm.inputs], "raw input"), qm.inputs)
        else:
            feeds = check_float(by_name(inputs, self.input_names), qm.model_inputs)
        n = batch_of(feeds)
        step = self.batch_size or n
        start = time.perf_counter()
        parts = []
        for s in range(0, n, step):
            if s and self.timeout is not None and time.perf_counter() - start > self.timeout:
                raise SessionTimeout(f"run of {n} images stopped after {time.perf_counter() - start:.3f} s "
                                     f"({s} done), over the timeout of {self.timeout} s; raise the timeout "
                                     f"or run fewer images at once")
            chunk = {k: v[s:s + step] for k, v in feeds.items()}
            parts.append(self._backend(chunk) if raw else self._float(chunk))
        out = parts[0] if len(parts) == 1 else {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        took = time.perf_counter() - start
        st = self.stats
        st.calls, st.images, st.total_s, st.last_s, st.last_images = \
            st.calls + 1, st.images + n, st.total_s + took, took, n
        return out

    def _float(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        qm = self.qmodel
        pre = run_graph(qm.host_before, feeds) if qm.host_before.nodes else feeds
        raw = self._backend({t.name: quantize(pre[t.name], t.qparams, name=t.name) for t in qm.inputs})
        deq = {t.name: dequantize(raw[t.name], t.qparams) for t in qm.outputs}
        post = run_graph(qm.host_after, deq) if qm.host_after.nodes else deq
        return {name: post[name] for name in self.output_names}

    def _backend(self, q_inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """One backend call, its answer checked against the manifest (a wrong answer is a backend bug)."""
        n = batch_of(q_inputs)
        got = self.backend.run_raw(q_inputs)
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

    # --- lifetime ---------------------------------------------------------------------------
    def close(self) -> None:
        """Release the backend. Closing twice is harmless; running afterwards is an error."""
        if not self._closed:
            self._closed = True
            self.backend.close()

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
