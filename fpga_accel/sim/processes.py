"""Cut a trace into the DATAFLOW processes that made it.

The C simulation runs the stages one after another and the FA_CYCLE count only grows, so stage k
owns the accesses whose count lies in (end of stage k-1, end of stage k] (every access happens in
a counted loop iteration, after its FA_CYCLE). An m_axi adapter is a DATAFLOW region of two loops
joined by an inner stream (``maxi_io.h``: mem_read → unpack, pack → mem_write): its window is
split at the first read of the stream it both writes and reads; the second loop's iterations
start just before that read. The harness's AXI-Stream beat streams (``in<i>``, ``out<i>``) have
the host at one end: it writes every input beat before the run and reads the outputs after, so
those accesses belong to no process and never wait.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from .errors import SimulationError
from .library import Trace

HOST_STREAM = re.compile(r"(in|out)\d+")
INNER = {"mem_to_stream.raw": ("mem_read", "unpack"), "stream_to_mem.raw": ("pack", "mem_write")}


@dataclass
class Processes:
    names: list[str]
    offsets: np.ndarray  # process p owns events offsets[p]:offsets[p+1] of the arrays below
    iters: np.ndarray  # FA_CYCLE iterations per process
    ev_stream: np.ndarray
    ev_write: np.ndarray
    ev_iter: np.ndarray  # 1-based iteration of the access within its process
    writer: np.ndarray  # per stream: writing process, -1 for the host
    reader: np.ndarray
    host_sink: np.ndarray  # per stream: the host reads it (never full)


def cut(trace: Trace, lib=None) -> Processes:
    """The processes of ``trace``; ``lib`` (a TimedLibrary) makes the first pass over the accesses in
    C++ (the same result as the numpy pass here, a few times faster)."""
    names_of = trace.streams
    host = np.array([bool(HOST_STREAM.fullmatch(s)) for s in names_of] or [False], bool)[:len(names_of)]
    is_in = np.array([s.startswith("in") for s in names_of] or [False], bool)[:len(names_of)]
    lengths = np.array([n for _, n in trace.stages], np.int64)
    ends = trace.start + np.cumsum(lengths)
    starts = ends - lengths
    fast = lib.cut(trace, host & is_in, host & ~is_in, ends) if lib is not None else None
    if fast is not None:
        stream, write, count, bounds = fast
        write = write.view(bool)
    else:
        stream, write, count, bounds = _first_pass(trace, host, is_in, ends)

    names, offsets, iters, base = [], [0], [], np.zeros(len(count), np.int64)
    for k, (name, n) in enumerate(trace.stages):
        lo, hi = int(bounds[k]), int(bounds[k + 1])
        split = _inner_split(stream[lo:hi], write[lo:hi], names_of) if name.endswith(("/input", "/output")) else None
        if split is None:
            names.append(name)
            base[lo:hi] = starts[k]
            iters.append(int(n))
            offsets.append(hi)
            continue
        at, (first, second) = split
        mid = int(count[lo + at]) - 1  # the second loop starts just before its first read
        names += [f"{name}:{first}", f"{name}:{second}"]
        base[lo:lo + at], base[lo + at:hi] = starts[k], mid
        iters += [mid - int(starts[k]), int(ends[k]) - mid]
        offsets += [lo + at, hi]

    seen: dict[str, int] = {}
    for i, n in enumerate(names):  # a layer lowered into two PEs of one kind (a concat chain): n, n#2, ...
        seen[n] = seen.get(n, 0) + 1
        if seen[n] > 1:
            names[i] = f"{n}#{seen[n]}"
    n_streams = len(names_of)
    writer, reader = _ends(lib, np.array(offsets, np.int64), stream, write, n_streams, names, names_of)
    host_sink = host & ~is_in if n_streams else np.zeros(0, bool)
    return Processes(names, np.array(offsets, np.int64), np.array(iters, np.int64), np.asarray(stream, np.int32),
                     write.view(np.uint8), count - base, writer, reader, host_sink)


def _ends(lib, offsets, stream, write, n_streams, names, names_of):
    """Writer and reader process of every stream (-1: none), each end held by one process."""
    writer, reader = np.full(n_streams, -1, np.int32), np.full(n_streams, -1, np.int32)
    if lib is not None:
        e = lib.ends(offsets, stream, write.view(np.uint8), writer, reader)
        if e < 0:
            return writer, reader
        writer[:], reader[:] = -1, -1  # name the conflict as the numpy pass does
    proc = np.repeat(np.arange(len(names)), np.diff(offsets))
    for who, mask in ((writer, write), (reader, ~write)):
        s, p = stream[mask], proc[mask]
        who[s] = p  # one process per stream end, checked next
        bad = np.flatnonzero(who[s] != p)
        if len(bad):
            sid = s[bad[0]]
            raise SimulationError(f"stream '{names_of[sid]}' is {'written' if who is writer else 'read'} by "
                                  f"several processes ({names[who[sid]]}, {names[p[bad[0]]]}); the trace was cut wrong")
    return writer, reader


def _first_pass(trace: Trace, host, is_in, ends):
    """The accesses the host does not make, in stage order, and each stage's first index (numpy)."""
    ev = trace.events
    stream = ev["stream"].astype(np.int32)
    write = ev["write"].astype(bool)
    count = ev["count"].astype(np.int64)
    # the host's ends of the beat streams: writes of in<i>, reads of out<i>
    if len(trace.streams):
        host_end = host[stream] & np.where(is_in[stream], write, ~write)
    else:
        host_end = np.zeros(len(ev), bool)
    keep = ~host_end
    stream, write, count = stream[keep], write[keep], count[keep]
    if len(count) and (count.min() <= trace.start or count.max() > ends[-1]):
        raise SimulationError("a stream access happened outside every stage's loop iterations; the trace "
                              "cannot be cut into processes (a PE reads or writes outside an FA_CYCLE loop)")
    stage = np.searchsorted(ends, count, side="left")
    if len(stage) > 1 and (np.diff(stage) < 0).any():  # the stages ran one after another: normally in order
        order = np.argsort(stage, kind="stable")
        stream, write, count, stage = stream[order], write[order], count[order], stage[order]
    return stream, write, count, np.searchsorted(stage, np.arange(len(ends) + 1), side="left")


def _inner_split(stream, write, names_of):
    """(index of the second loop's first access, loop names) when the window holds an inner stream."""
    inner = np.intersect1d(stream[write], stream[~write])
    if not len(inner):
        return None
    sid = int(inner[0])
    loops = INNER.get(names_of[sid], ("loop0", "loop1"))
    at = int(np.flatnonzero((stream == sid) & ~write)[0])
    return at, loops
