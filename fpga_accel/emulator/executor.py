"""Run a :class:`QModel`: host part before (float), quantise, integer layers, dequantise,
host part after (float). Integer layers run with their op's ``run_int``.

Layers may hand on their integers in any integer dtype that holds them (the emulator keeps the
narrowest it can, for speed); every tensor returned is in its qtype's storage dtype.

Images are independent, so :func:`run_layers` cuts a batch into pieces of a few dozen images (their
intermediates stay in the CPU cache) and runs the pieces on a pool of threads: numpy and BLAS release
the GIL. The integers are the same for any cut (tests compare them).

A MaxPool that alone reads a Conv / Gemm / MatMul output runs on that layer's exact sums, before
requantising, when the requantisation is non-decreasing in them (then both orders give the same
integers): only the pooled values are requantised. ``keep=True`` (every tensor) runs layer by layer.
"""
from __future__ import annotations

import ctypes
import itertools
import math
import os
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError
from ..ir.execute import check_feeds, run_graph
from ..ops import lookup
from ..ops.max_pool import every_window_has_input, max_windows
from ..quant.arith import dequantize, quantize
from ..quant.host_float import is_host_float, run_host_float
from . import fastint
from .windows import lowest


@dataclass
class EmulationResult:
    outputs: dict[str, np.ndarray]  # float model outputs
    raw: dict[str, np.ndarray]  # integer hardware outputs
    tensors: dict[str, np.ndarray] = field(default_factory=dict)  # every integer tensor (keep=True)
    saturated: dict[str, int] = field(default_factory=dict)  # per layer: outputs at the type limits


def _op(layer):
    op = lookup(layer.op_type, layer.domain)
    if op is None:
        raise InputError(f"layer '{layer.name}': op {layer.op_type} is not known to this fpga-accel")
    return op


def default_threads() -> int:
    """Worker threads of :func:`run_layers`: ``$FPGA_ACCEL_THREADS`` if set, else the CPUs this
    process may run on."""
    env = os.environ.get("FPGA_ACCEL_THREADS", "").strip()
    if env:
        try:
            n = int(env)
        except ValueError:
            n = 0
        if n < 1:
            raise InputError(f"FPGA_ACCEL_THREADS must be a positive integer, got {env!r}")
        return n
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


#: bytes of intermediates per piece of a batch that :func:`run_layers` aims for (about the L2
#: cache of one core or more; measured best between 2 and 8 MB on the example models)
PIECE_BYTES = 6 << 20
#: a piece has at least this many elements in its widest layer output, so that its numpy work
#: outweighs the per-layer Python overhead and the hand-over to a thread (at 32 images mnist_cnn
#: runs faster in one piece than in two)
MIN_PIECE_ELEMENTS = 1 << 19


def _pieces(qm, n: int, threads: int) -> list[tuple[int, int]]:
    """Cut ``n`` images into contiguous (start, stop) pieces of about PIECE_BYTES of float32
    accumulators each, and into up to ``threads`` pieces when each still has MIN_PIECE_ELEMENTS."""
    per_image = max((math.prod(qm.tensors[layer.outputs[0]].shape[1:]) for layer in qm.layers), default=1)
    least = max(1, -(-MIN_PIECE_ELEMENTS // max(1, per_image)))
    size = max(least, PIECE_BYTES // (4 * max(1, per_image)))
    k = max(1, -(-n // size))
    if threads > 1 and k > 1:
        k = -(-k // threads) * threads  # whole rounds: no thread waits on a lone last piece
    if k < threads:
        k = min(threads, n // least)
    k = max(1, min(k, n // least))
    edges = [n * i // k for i in range(k + 1)]
    return list(itertools.pairwise(edges))


class _BlasThreads:
    """OpenBLAS's thread count, set to 1 while emulator threads run (a context manager; nested and
    concurrent uses share one count). Does nothing where numpy's BLAS is not an OpenBLAS found
    through /proc/self/maps (macOS, Windows, MKL builds): those then share the cores as they can."""

    def __init__(self):
        self._lock = threading.Lock()
        self._users = 0
        self._saved = None
        self._fns = False  # not looked up yet

    def _lookup(self):
        if self._fns is False:
            self._fns = None
            try:
                with open("/proc/self/maps", encoding="utf-8") as f:
                    paths = sorted({line.split()[-1] for line in f if "openblas" in line.lower() and "/" in line})
                for path in paths:
                    lib = ctypes.CDLL(path)
                    for pre in ("scipy_openblas", "openblas"):
                        for suf in ("64_", ""):
                            get = getattr(lib, f"{pre}_get_num_threads{suf}", None)
                            put = getattr(lib, f"{pre}_set_num_threads{suf}", None)
                            if get is not None and put is not None:
                                put.argtypes = [ctypes.c_int]
                                self._fns = (get, put)
                                return self._fns
            except OSError:
                pass
        return self._fns

    def __enter__(self):
        with self._lock:
            fns = self._lookup()
            if fns is not None and self._users == 0:
                self._saved = fns[0]()
                fns[1](1)
            self._users += 1

    def __exit__(self, *exc):
        with self._lock:
            self._users -= 1
            if self._users == 0 and self._fns and self._saved is not None:
                self._fns[1](self._saved)
                self._saved = None


_blas_single_threaded = _BlasThreads()

_POOLS: dict[int, ThreadPoolExecutor] = {}  # by size; kept for the life of the process
_POOLS_LOCK = threading.Lock()


def _pool(threads: int) -> ThreadPoolExecutor:
    with _POOLS_LOCK:
        if threads not in _POOLS:
            _POOLS[threads] = ThreadPoolExecutor(threads, thread_name_prefix="fpga-accel-emulator")
        return _POOLS[threads]


def _fusions(qm) -> dict[int, int]:
    """Which MaxPool layers run on their producer's accumulators: {producer index: pool index}.

    A Conv / Gemm / MatMul (an op with ``run_dot`` and ``requantize_dot``) whose output only one
    MaxPool reads, and which is no hardware output, pools its sums and requantises only the pooled
    values when (a) its requantisation is non-decreasing in the accumulator for every channel
    (M >= 0, a right shift: then max and requantise commute), (b) every pooling window covers an
    input pixel, and (c) the padding value lies at or below the producer's clamp floor, so padding
    never decides a max. The integers are those of the layers run one by one (tests compare them).
    """
    readers: dict[str, list[int]] = {}
    for j, layer in enumerate(qm.layers):
        for name in layer.inputs:
            readers.setdefault(name, []).append(j)
    outputs = {t.name for t in qm.outputs}
    plan = {}
    for i, layer in enumerate(qm.layers):
        op = _op(layer)
        y = layer.outputs[0]
        if (not hasattr(op, "run_dot") or not hasattr(op, "requantize_dot") or len(layer.outputs) != 1
                or y in outputs or len(readers.get(y, ())) != 1):
            continue
        j = readers[y][0]
        pool = qm.layers[j]
        if pool.op_type != "MaxPool" or pool.domain or pool.inputs != [y] or len(pool.outputs) != 1:
            continue
        pad = pool.config.get("pad_value")
        if (fastint.requant_is_monotone(layer) and every_window_has_input(pool.config)
                and (pad is None or pad <= layer.config["lo"])):
            plan[i] = j
    return plan


def _run(qm, env: dict[str, np.ndarray], keep: bool, fused: Mapping[int, int] | None = None) -> dict[str, np.ndarray]:
    fused = fused or {}
    skip = set(fused.values())
    for i, layer in enumerate(qm.layers):
        if i in skip:
            continue
        op = _op(layer)
        inputs = [env[name] for name in layer.inputs]
        if i in fused:  # max over the sums, then requantise the pooled ones only
            pool = qm.layers[fused[i]]
            if hasattr(op, "run_pool_int"):
                env[pool.outputs[0]] = op.run_pool_int(layer, inputs, pool.config)
            else:
                dot = op.run_dot(layer, inputs)
                env[pool.outputs[0]] = op.requantize_dot(layer, max_windows(dot, pool.config, lowest(dot.dtype)))
        else:  # a float host op between hardware nodes: dequantise, float, quantise (quant/host_float.py)
            run = run_host_float if is_host_float(layer) else op.run_int
            env[layer.outputs[0]] = run(layer, inputs)
    names = env if keep else [t.name for t in qm.outputs]
    return {k: env[k].astype(qm.tensors[k].qparams.qtype.dtype, copy=False) for k in names}


def run_layers(qm, q_inputs: Mapping[str, np.ndarray], keep: bool = False,
               threads: int | None = None, fuse: bool = True) -> dict[str, np.ndarray]:
    """Integer hardware part only: integers in (per hardware input), integers out.

    ``threads`` bounds the worker threads (None: :func:`default_threads`; 1: run in the caller's
    thread); the batch is cut into pieces either way, and the integers do not depend on it.
    ``fuse`` lets a MaxPool run on its producer's accumulators (see :func:`_fusions`; the same
    integers, fewer to requantise); ``keep=True`` returns every tensor and so never fuses.
    """
    if threads is None:
        threads = default_threads()
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise InputError(f"threads must be a positive integer or None, got {threads!r}")
    env: dict[str, np.ndarray] = {}
    for t in qm.inputs:
        if t.name not in q_inputs:
            raise InputError(f"raw input '{t.name}' is missing; the hardware inputs are {[x.name for x in qm.inputs]}")
        x = np.asarray(q_inputs[t.name])
        q = t.qparams.qtype
        if x.dtype.kind not in "iu" or tuple(x.shape[1:]) != tuple(t.shape[1:]):
            raise InputError(f"raw input '{t.name}' must be integers of shape (N, {', '.join(map(str, t.shape[1:]))}); "
                             f"got {x.dtype} {x.shape}")
        if x.size and (x.min() < q.min or x.max() > q.max):
            raise InputError(f"raw input '{t.name}' has values outside {q.name} [{q.min}, {q.max}]")
        env[t.name] = x.astype(q.dtype, copy=False)
    for layer in qm.layers:
        _op(layer)  # an unknown op fails here, before any work
    fused = _fusions(qm) if fuse and not keep else {}
    n = next(iter(env.values())).shape[0] if env else 0
    pieces = _pieces(qm, n, threads)
    workers = min(threads, len(pieces))
    # ``threads`` is the whole budget, and BLAS runs on one: its own threads would compete with ours,
    # and they spin-wait for cores, which makes every small product slow on a busy machine
    with _blas_single_threaded:
        if len(pieces) == 1:
            return _run(qm, env, keep, fused)
        parts = [{k: v[a:b] for k, v in env.items()} for a, b in pieces]
        if workers == 1:
            done = [_run(qm, p, keep, fused) for p in parts]
        else:
            done = list(_pool(workers).map(lambda p: _run(qm, p, keep, fused), parts))
    return {k: np.concatenate([d[k] for d in done]) for k in done[0]}


#: images per pass through the layers in :func:`emulate`: bounds the memory of the intermediates
#: (a few MB per image at most for the example models) and keeps them cache friendly
EMULATE_BATCH = 256


def emulate(qm, feeds: Mapping[str, np.ndarray], keep: bool = False,
            batch_size: int = EMULATE_BATCH) -> EmulationResult:
    """Float in, float out, through exactly the integers the hardware computes.

    The batch runs ``batch_size`` images at a time; the results are the same for any chunking.
    """
    feeds = check_feeds(qm.host_before, feeds)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InputError(f"batch_size must be a positive integer, got {batch_size!r}")
    n = next(iter(feeds.values())).shape[0] if feeds else 0
    if n <= batch_size:
        return _emulate(qm, feeds, keep)
    parts = [_emulate(qm, {k: v[s:s + batch_size] for k, v in feeds.items()}, keep) for s in range(0, n, batch_size)]

    def join(dicts):
        return {k: np.concatenate([d[k] for d in dicts]) for k in dicts[0]}

    return EmulationResult(join([p.outputs for p in parts]), join([p.raw for p in parts]),
                           join([p.tensors for p in parts]),
                           {k: sum(p.saturated[k] for p in parts) for k in parts[0].saturated})


def _emulate(qm, feeds, keep: bool) -> EmulationResult:
    pre = run_graph(qm.host_before, feeds) if qm.host_before.nodes else dict(feeds)
    q_in = {t.name: quantize(pre[t.name], t.qparams, name=t.name) for t in qm.inputs}
    env = run_layers(qm, q_in, keep=True)
    raw = {t.name: env[t.name] for t in qm.outputs}
    deq = {t.name: dequantize(raw[t.name], t.qparams) for t in qm.outputs}
    outs = run_graph(qm.host_after, deq) if qm.host_after.nodes else deq
    sat = {}
    for layer in qm.layers:
        p = qm.tensors[layer.outputs[0]].qparams
        v = env[layer.outputs[0]]
        # at a type limit; the lower limit only counts when it is not the integer of 0.0 (ReLU)
        at_min = int(np.count_nonzero(v == p.qtype.min)) if p.qtype.min != p.zero_point else 0
        sat[layer.name] = at_min + int(np.count_nonzero(v == p.qtype.max))
    return EmulationResult({o.name: outs[o.name] for o in qm.model_outputs}, raw, env if keep else {}, sat)
