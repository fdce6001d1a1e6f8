"""The traced C simulation, loaded with ctypes: run a batch, read back the trace.

One run calls the generated ABI (``fa_csim_run`` for the m_axi kernel, ``fa_csim_run_axis`` for the
AXI-Stream IP) with the trace recording; :meth:`TimedLibrary.run` returns the outputs and the
:class:`Trace`: every stream access in execution order with its FA_CYCLE count, the stream names,
and the stages' iteration counts (which cut the trace into processes, see ``processes.py``).
"""
from __future__ import annotations

import ctypes
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import SimulationError

EVENT = np.dtype([("count", "<u8"), ("stream", "<u4"), ("write", "<u4")], align=True)  # aligned: copied as bytes
_LOCKS: dict[str, threading.Lock] = {}
_I64P = ctypes.POINTER(ctypes.c_int64)
_U64P = ctypes.POINTER(ctypes.c_uint64)
_U8P = ctypes.POINTER(ctypes.c_uint8)


@dataclass
class Trace:
    events: np.ndarray  # EVENT records in execution order
    streams: list[str]  # stream names by index
    stages: list[tuple[str, int]]  # (name, FA_CYCLE iterations) in execution order
    start: int  # FA_CYCLE count before the run


class TimedLibrary:
    """A compiled traced C simulation (``build_timed``). Calls are serialised: the trace is global."""

    def __init__(self, path):
        self.path = Path(path)
        try:
            lib = ctypes.CDLL(str(self.path))
            for fn in ("fa_csim_run", "fa_csim_run_axis"):
                f = getattr(lib, fn)
                f.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(ctypes.c_void_p), ctypes.c_uint]
                f.restype = ctypes.c_int
            lib.fa_csim_stage_count.restype = ctypes.c_int
            lib.fa_csim_stage_name.argtypes, lib.fa_csim_stage_name.restype = [ctypes.c_int], ctypes.c_char_p
            lib.fa_csim_stage_cycles.argtypes, lib.fa_csim_stage_cycles.restype = [ctypes.c_int], ctypes.c_ulonglong
            lib.fa_timed_now.restype = ctypes.c_ulonglong
            lib.fa_timed_event_count.restype = ctypes.c_ulonglong
            lib.fa_timed_events.restype = ctypes.c_void_p
            lib.fa_timed_stream_count.restype = ctypes.c_int
            lib.fa_timed_stream_name.argtypes, lib.fa_timed_stream_name.restype = [ctypes.c_int], ctypes.c_char_p
            lib.fa_timed_enable.argtypes = [ctypes.c_int]
            lib.fa_timed_replay.restype = ctypes.c_int
            lib.fa_timed_replay.argtypes = [ctypes.c_int, _I64P, _I64P, ctypes.POINTER(ctypes.c_int32),
                                            ctypes.POINTER(ctypes.c_uint8), _I64P, ctypes.c_int, _I64P,
                                            ctypes.POINTER(ctypes.c_int32), ctypes.POINTER(ctypes.c_int32), _I64P, _I64P,
                                            _I64P]
            lib.fa_timed_ends.restype = ctypes.c_int64
            lib.fa_timed_ends.argtypes = [ctypes.c_int, _I64P, ctypes.POINTER(ctypes.c_int32), _U8P,
                                          ctypes.POINTER(ctypes.c_int32), ctypes.POINTER(ctypes.c_int32)]
            lib.fa_timed_cut.restype = ctypes.c_int64
            lib.fa_timed_cut.argtypes = [ctypes.c_void_p, ctypes.c_int64, _U8P, _U8P, ctypes.c_uint64, _U64P,
                                         ctypes.c_int, ctypes.POINTER(ctypes.c_int32), _U8P, _I64P, _I64P]
        except (OSError, AttributeError) as e:
            raise SimulationError(f"{self.path}: not a loadable timed simulation ({e}); rebuild it with "
                                  "fpga_accel.sim.build_timed") from None
        self._lib = lib
        self._lock = _LOCKS.setdefault(str(self.path.resolve()), threading.Lock())

    def set_fast_paths(self, on: bool) -> None:
        """C-simulation fast paths (native integers) or the loops synthesis sees (see csim)."""
        fn = self._lib.fa_csim_set_fast_paths
        fn.argtypes, fn.restype = [ctypes.c_int], None
        with self._lock:
            fn(1 if on else 0)

    def load(self, blob: bytes, axis: bool) -> None:
        """Fill the design's URAM weight memories from ``blob`` (weights/uram.bin) through the top's load
        call, as a host does once after configuration (the URAM holds zeros until then)."""
        fn = getattr(self._lib, "fa_csim_load", None)
        if fn is None:
            raise SimulationError(f"{self.path.name}: this design keeps no weights in URAM (no fa_csim_load)")
        fn.argtypes, fn.restype = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int], ctypes.c_int
        with self._lock:
            code = fn(bytes(blob), len(blob), 1 if axis else 0)
        if code != 0:
            raise SimulationError(f"{self.path.name}: the load call refused {len(blob)} bytes of URAM weights "
                                  f"(status {code}); they are not the blob of this design")

    def run(self, inputs: list[np.ndarray], outputs: list[np.ndarray], n: int, axis: bool) -> Trace:
        """Run ``n`` images through the kernel (``axis``: the AXI-Stream IP); outputs in place."""
        lib = self._lib
        ins = (ctypes.c_void_p * max(1, len(inputs)))(*(a.ctypes.data for a in inputs))
        outs = (ctypes.c_void_p * max(1, len(outputs)))(*(a.ctypes.data for a in outputs))
        with self._lock:
            lib.fa_timed_clear()
            lib.fa_timed_enable(1)
            start = int(lib.fa_timed_now())
            code = (lib.fa_csim_run_axis if axis else lib.fa_csim_run)(ins, outs, int(n))
            lib.fa_timed_enable(0)
            if code != 0:
                raise SimulationError(f"{self.path.name}: the C simulation returned {code} for {n} image(s)")
            count = int(lib.fa_timed_event_count())
            buf = (ctypes.c_char * (count * EVENT.itemsize)).from_address(lib.fa_timed_events()) if count else b""
            events = np.frombuffer(buf, np.uint8).copy().view(EVENT) if count else np.zeros(0, EVENT)
            streams = [lib.fa_timed_stream_name(i).decode() for i in range(lib.fa_timed_stream_count())]
            stages = [(lib.fa_csim_stage_name(i).decode(), int(lib.fa_csim_stage_cycles(i)))
                      for i in range(lib.fa_csim_stage_count())]
            lib.fa_timed_clear()
        return Trace(events, streams, stages, start)

    def cut(self, trace: Trace, drop_write: np.ndarray, drop_read: np.ndarray, stage_ends: np.ndarray):
        """First pass of the cut (fa_timed.cpp): (stream, write, count, per-stage bounds) of the accesses
        the host does not make, or None when the counts are out of order; raises on an access outside
        every stage."""
        n = len(trace.events)
        ev = np.ascontiguousarray(trace.events)
        stream, write = np.empty(n, np.int32), np.empty(n, np.uint8)
        count, bounds = np.empty(n, np.int64), np.zeros(len(stage_ends) + 1, np.int64)
        dw, dr = (np.ascontiguousarray(a, np.uint8) for a in (drop_write, drop_read))
        ends = np.ascontiguousarray(stage_ends, np.uint64)
        kept = self._lib.fa_timed_cut(ev.ctypes.data if n else None, n, dw.ctypes.data_as(_U8P),
                                      dr.ctypes.data_as(_U8P), int(trace.start), ends.ctypes.data_as(_U64P),
                                      len(ends), stream.ctypes.data_as(ctypes.POINTER(ctypes.c_int32)),
                                      write.ctypes.data_as(_U8P), count.ctypes.data_as(_I64P),
                                      bounds.ctypes.data_as(_I64P))
        if kept == -1:
            raise SimulationError("a stream access happened outside every stage's loop iterations; the trace "
                                  "cannot be cut into processes (a PE reads or writes outside an FA_CYCLE loop)")
        if kept < 0:
            return None
        return stream[:kept], write[:kept], count[:kept], bounds

    def ends(self, offsets, stream, write, writer, reader) -> int:
        """Fill ``writer`` / ``reader`` (int32, -1) with each stream's processes (fa_timed_ends): -1, or
        the first access whose stream end another process already holds."""
        off = np.ascontiguousarray(offsets, np.int64)
        st, wr = np.ascontiguousarray(stream, np.int32), np.ascontiguousarray(write, np.uint8)
        i32 = ctypes.POINTER(ctypes.c_int32)
        return int(self._lib.fa_timed_ends(len(off) - 1, off.ctypes.data_as(_I64P), st.ctypes.data_as(i32),
                                           wr.ctypes.data_as(_U8P), writer.ctypes.data_as(i32),
                                           reader.ctypes.data_as(i32)))

    def replay(self, proc_off, proc_iters, ev_stream, ev_write, ev_iter, depth, writer, reader):
        """The bounded-FIFO replay (fa_timed.cpp): (deadlocked, event times, per-process rows, per-stream
        rows: most words held at once, words written)."""
        n_proc, n_streams = len(proc_iters), len(depth)
        args = [np.ascontiguousarray(a, dt) for a, dt in
                ((proc_off, np.int64), (proc_iters, np.int64), (ev_stream, np.int32), (ev_write, np.uint8),
                 (ev_iter, np.int64), (depth, np.int64), (writer, np.int32), (reader, np.int32))]
        ev_time = np.empty(len(ev_stream), np.int64)  # written for every access made (all unless deadlocked)
        proc_out = np.zeros((max(1, n_proc), 6), np.int64)
        stream_out = np.zeros((max(1, n_streams), 2), np.int64)

        def ptr(a, t):
            return a.ctypes.data_as(ctypes.POINTER(t))

        code = self._lib.fa_timed_replay(
            n_proc, ptr(args[0], ctypes.c_int64), ptr(args[1], ctypes.c_int64), ptr(args[2], ctypes.c_int32),
            ptr(args[3], ctypes.c_uint8), ptr(args[4], ctypes.c_int64), n_streams, ptr(args[5], ctypes.c_int64),
            ptr(args[6], ctypes.c_int32), ptr(args[7], ctypes.c_int32), ptr(ev_time, ctypes.c_int64),
            ptr(proc_out, ctypes.c_int64), ptr(stream_out, ctypes.c_int64))
        return code == 1, ev_time, proc_out[:n_proc], stream_out[:n_streams]
