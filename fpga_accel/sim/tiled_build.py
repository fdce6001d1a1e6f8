"""The tiled engine's C simulation built with its stage trace (``tiled/trace.h``), run on a program.

:func:`traced_engine` compiles ``tiled/top.h`` for one engine configuration with ``FA_TILED_TRACE``
defined plus ``hls/sim/timed/tiled_trace.cpp`` (the trace's C ABI), through the C-simulation cache
like :func:`fpga_accel.tiled.csim.engine_library`. :class:`TracedCsim` is the engine's C simulation
(:class:`~fpga_accel.tiled.csim.TiledCsim`: same host writes and reads) on that library; its
:meth:`~TracedCsim.trace` runs a batch and returns the outputs with the :class:`StageTrace`.
"""
from __future__ import annotations

import ctypes
import json
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import toolchain
from ..emulator.csim_library import build_csim
from ..tiled.csim import CXXFLAGS, EngineConfig, EngineLibrary, TiledCsim
from .errors import SimulationError

TRACE_SOURCE = toolchain.HLS_ROOT / "sim" / "timed" / "tiled_trace.cpp"
#: tiled/trace.h: Event and Run, as packed
EVENT = np.dtype([("layer", "<i4"), ("unit", "<i4"), ("r0", "<i4"), ("q0", "<i4"), ("reads", "<u8"),
                  ("writes", "<u8"), ("iterations", "<u8"), ("first_run", "<u8"), ("runs", "<u8"),
                  ("moves", "<u8")])
RUN = np.dtype([("port", "<u4"), ("write", "<u4"), ("offset", "<u8"), ("bytes", "<u8")])
UNITS = ("control", "layer", "load", "compute", "store", "image")
#: the trace's ports (tiled/trace.h Port): the masters as ddr.py numbers them, then any other address
PORTS = ("desc", "weights", "acts", "weights_b", "acts_b", "other")
#: most events and most runs one traced batch keeps (64 and 24 bytes each): a larger program or batch
#: is refused rather than allocating without bound
MAX_RECORDS = 4_000_000


@dataclass
class StageTrace:
    events: np.ndarray  # EVENT records in program order (an IMAGE marker opens each image)
    runs: np.ndarray  # RUN records; event e owns runs[first_run : first_run + runs]


class TracedLibrary(EngineLibrary):
    """The traced engine of one configuration; its trace ABI besides the engine's."""

    def __init__(self, path: Path, config: EngineConfig):
        super().__init__(path, config)
        lib = self._lib
        try:
            lib.fa_tiled_trace_enable.argtypes = [ctypes.c_int]
            lib.fa_tiled_trace_limit.argtypes = [ctypes.c_ulonglong]
            lib.fa_tiled_trace_overflow.restype = ctypes.c_int
            for fn in ("fa_tiled_trace_event_count", "fa_tiled_trace_run_count"):
                getattr(lib, fn).restype = ctypes.c_ulonglong
            for fn in ("fa_tiled_trace_events", "fa_tiled_trace_runs"):
                getattr(lib, fn).restype = ctypes.c_void_p
        except AttributeError as e:
            raise SimulationError(f"{path}: not a traced tiled-engine simulation ({e})") from None

    def begin(self, limit: int = MAX_RECORDS) -> None:
        self.limit = int(limit)
        with self._lock:
            self._lib.fa_tiled_trace_clear()
            self._lib.fa_tiled_trace_limit(int(limit))
            self._lib.fa_tiled_trace_enable(1)

    def end(self) -> StageTrace:
        with self._lock:
            lib = self._lib
            lib.fa_tiled_trace_enable(0)
            if lib.fa_tiled_trace_overflow():
                lib.fa_tiled_trace_clear()
                raise SimulationError(f"the stage trace passed {self.limit:,} events or DDR runs; simulate fewer "
                                      f"images (the engine runs the same program for every image)")
            out = []
            for count, data, dt in ((lib.fa_tiled_trace_event_count, lib.fa_tiled_trace_events, EVENT),
                                    (lib.fa_tiled_trace_run_count, lib.fa_tiled_trace_runs, RUN)):
                n = int(count())
                if n:
                    buf = (ctypes.c_char * (n * dt.itemsize)).from_address(data())
                    out.append(np.frombuffer(buf, np.uint8).copy().view(dt))
                else:
                    out.append(np.zeros(0, dt))
            lib.fa_tiled_trace_clear()
        return StageTrace(*out)


_LIBRARIES: dict[EngineConfig, TracedLibrary] = {}
_BUILD_LOCK = threading.Lock()


def traced_engine(config: EngineConfig, timeout: float | None = None) -> TracedLibrary:
    """The engine compiled for ``config`` with its stage trace (cached on disk and in this process)."""
    with _BUILD_LOCK:
        if config in _LIBRARIES:
            return _LIBRARIES[config]
        defines = [*config.defines(), "FA_TILED_TRACE=1"]
        with tempfile.TemporaryDirectory(prefix="fa-tiled-trace-") as tmp:
            hls = Path(tmp)
            shutil.copytree(toolchain.HLS_ROOT / "include", hls / "include")
            (hls / "csim").mkdir()
            shutil.copy(TRACE_SOURCE, hls / "csim" / TRACE_SOURCE.name)
            (hls / "csim" / "build.json").write_text(json.dumps(
                {"sources": [f"csim/{TRACE_SOURCE.name}"], "include_dirs": ["include"], "defines": defines,
                 "cxxflags": CXXFLAGS}))
            path = build_csim(hls, progress=False, timeout=timeout)
        _LIBRARIES[config] = TracedLibrary(path, config)
        return _LIBRARIES[config]


class TracedCsim(TiledCsim):
    """The engine's C simulation of ``program`` on the traced library."""

    def __init__(self, program, **config):
        super().__init__(program, **config)
        self.library = traced_engine(self.library.config)

    def trace(self, inputs, limit: int = MAX_RECORDS) -> tuple[dict[str, np.ndarray], StageTrace]:
        """Outputs of one batch (one engine call per image) and the stage trace of the whole batch."""
        self.library.begin(limit)
        try:
            outs = self.run(inputs)
        finally:
            tr = self.library.end()
        return outs, tr
