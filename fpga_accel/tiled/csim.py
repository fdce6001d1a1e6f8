"""C simulation of the tiled engine's HLS (``hls/include/fpga_accel/tiled_engine.h``): the engine
compiled with g++ for one configuration, run on a program's binary descriptors and arenas.

:func:`engine_library` compiles ``tiled/top.h`` for a configuration (the program's ``engine``
section, the accumulator width and the largest lookup table) into a shared library, cached like
every C simulation (:func:`fpga_accel.emulator.csim_library.build_csim`: one compile per
configuration, reused by later calls and processes). :class:`TiledCsim` is the reference executor
(:class:`~fpga_accel.tiled.engine.TiledEngine`) with its layer loop replaced by one call of the
compiled engine, so inputs are written and outputs read by the same host code::

    from fpga_accel.tiled.csim import run_csim
    outs = run_csim(program, raw_inputs)        # == TiledEngine(program).run(raw_inputs), bit for bit

A program the engine refuses, or a failure while it runs, raises :class:`EngineStatusError` with
the layer and the engine's status code.

A *split* engine (``EngineConfig.split``, ``FA_TILED_SPLIT``: a second weights and a second activations
master, on boards with two more HP ports) computes the same integers; its library's ``fa_tiled_top``
takes the two arenas' addresses again after ``act_bytes``. A bundle says which form its engine has in
``manifest["tiled"]["array"]["split"]`` (:func:`fpga_accel.tiled.interface.split_of`).
"""
from __future__ import annotations

import ctypes
import json
import shutil
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import toolchain
from ..cache import elf_problem
from ..emulator.csim_library import CsimError, build_csim
from ..quant.arith import MAX_ACC_BITS
from .descriptors import encode
from .engine import MAX_ACTIVATION_BYTES, TiledEngine
from .ports import AXI_BITS_MACRO, WIDE_BITS
from .program import Program, ProgramError

#: the engine's status codes (tiled/descriptor.h, Status) and what they mean
STATUS = {1: "bad header (magic, version, record size or layer count)",
          2: "built for another engine configuration (array, buffers, units), or arenas larger than the ones given",
          3: "unknown kind, input count or post stage", 4: "a view outside the activation arena",
          5: "a block outside the weights arena, or of the wrong count or type",
          6: "shapes, groups or window that do not fit together", 7: "a tile larger than Tm, Tn or a buffer",
          8: "a partial sum outside the layer's acc_bits", 9: "a lookup outside its table",
          10: "a result outside the output's type", 11: "a constant outside the contract (shift, M, acc_bits)"}
DEFAULT_LUT_ENTRIES = 4096  # tables of up to 12-bit inputs
CXXFLAGS = ["-Wall", "-Wno-unknown-pragmas", "-Wno-unused-label"]


class EngineStatusError(ProgramError):
    """The engine refused a program or stopped on a layer: ``code`` (STATUS) and ``layer`` index."""

    def __init__(self, message: str, code: int, layer: int):
        super().__init__(message)
        self.code, self.layer = code, layer


#: tiled/checks.h Unit: the units beside the conv array, and the layer kinds that run on them
U_MAXPOOL, U_AVGPOOL, U_GLOBAL, U_ELTWISE, U_MUL = 1, 2, 4, 8, 16
ALL_UNITS = 31
UNIT_OF_KIND = {"maxpool": U_MAXPOOL, "avgpool": U_AVGPOOL, "global_avgpool": U_GLOBAL, "global_maxpool": U_GLOBAL,
                "add": U_ELTWISE, "requant": U_ELTWISE, "lut": U_ELTWISE, "mul": U_MUL}


def units_of(program: Program) -> int:
    """The units ``program``'s layers use (an engine built for it has these and the conv array)."""
    out = 0
    for d in program.layers:
        out |= UNIT_OF_KIND.get(d["kind"], 0)
    return out


@dataclass(frozen=True)
class EngineConfig:
    """One engine build: the program's ``engine`` section plus accumulator and table sizes."""

    tm: int
    tn: int
    input_buffer: int
    weight_buffer: int
    output_buffer: int
    acc_bits: int = MAX_ACC_BITS
    lut_entries: int = DEFAULT_LUT_ENTRIES
    #: simulate the form synthesis sees (all Tm × Tn lanes, ap_int types): slower, same integers
    synthesis_form: bool = False
    #: 2: lanes m and m+1 share one multiply (tiled/pack.h); such an engine runs 8-bit programs only
    pack: int = 1
    #: 1: a dense convolution's loads spread over two weights and two activations masters (tiled/top.h)
    split: int = 0
    #: the arena ports' width (tiled/top.h FA_TILED_AXI_BITS, tiled/ports.py axi_bits): the data movers
    #: carry axi_bits / 8 bytes an iteration (the output path: that many bytes of lanes)
    axi_bits: int = WIDE_BITS
    #: the output path's lanes (tiled/top.h FA_TILED_OUT_LANES; the program's ``engine.out_lanes``), at
    #: most axi_bits / 8; 0: as many as the bus word has bytes
    out_lanes: int = 0
    #: the units beside the conv array (tiled/checks.h Unit, :func:`units_of`): a program's own, or all
    units: int = ALL_UNITS

    @staticmethod
    def of(program: Program, acc_bits: int = MAX_ACC_BITS, lut_entries: int = DEFAULT_LUT_ENTRIES,
           synthesis_form: bool = False, pack: int = 1, split: int = 0, axi_bits: int = WIDE_BITS,
           units: int = ALL_UNITS) -> EngineConfig:
        e = program.engine
        return EngineConfig(e["tm"], e["tn"], e["input_buffer"], e["weight_buffer"], e["output_buffer"], acc_bits,
                            lut_entries, bool(synthesis_form), pack, split, axi_bits, e.get("out_lanes", 0), units)

    def defines(self) -> list[str]:
        names = {"tm": "TM", "tn": "TN", "input_buffer": "INPUT_BUFFER", "weight_buffer": "WEIGHT_BUFFER",
                 "output_buffer": "OUTPUT_BUFFER", "acc_bits": "ACC_BITS", "lut_entries": "LUT_ENTRIES", "pack": "PACK"}
        for k in names:  # integers only reach the compiler (a program is untrusted)
            v = getattr(self, k)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ProgramError(f"tiled engine: configuration field '{k}' = {v!r} must be a positive integer")
        if type(self.split) not in (int, bool) or self.split not in (0, 1):
            raise ProgramError(f"tiled engine: configuration field 'split' = {self.split!r} must be 0 or 1")
        if type(self.axi_bits) is not int or self.axi_bits not in AXI_WIDTHS:
            raise ProgramError(f"tiled engine: configuration field 'axi_bits' = {self.axi_bits!r} must be one of "
                               f"{AXI_WIDTHS}")
        lanes = self.out_lanes
        if type(lanes) is not int or lanes < 0 or lanes & (lanes - 1) or lanes > self.axi_bits // 8:
            raise ProgramError(f"tiled engine: configuration field 'out_lanes' = {lanes!r} must be 0 or a power of "
                               f"two up to the bus word's {self.axi_bits // 8} bytes")
        if type(self.units) is not int or not 0 <= self.units <= ALL_UNITS:
            raise ProgramError(f"tiled engine: configuration field 'units' = {self.units!r} must be a mask of "
                               f"0..{ALL_UNITS} (tiled/checks.h Unit)")
        out = [f"FA_TILED_{name}={getattr(self, k)}" for k, name in names.items()]
        out += ["FA_TILED_SPLIT=1"] if self.split else []  # an unsplit build's defines (and cache entry) as before
        out += [f"{AXI_BITS_MACRO}={self.axi_bits}"] if self.axi_bits != WIDE_BITS else []  # likewise top.h's default
        out += [f"FA_TILED_OUT_LANES={lanes}"] if lanes else []
        out += [f"FA_TILED_UNITS={self.units}"] if self.units != ALL_UNITS else []
        return out + (["FA_TILED_AS_SYNTHESIS=1"] if self.synthesis_form is True else [])


#: the arena widths the engine is built for (tiled/config.h: a bus word of 8 to 128 bytes)
AXI_WIDTHS = (64, 128, 256, 512, 1024)

_RUN_LOCK = threading.Lock()


class EngineLibrary:
    """The compiled engine of one configuration, loaded with ctypes. Calls into any engine library
    are serialised: the simulation's cycle counters are process-wide."""

    def __init__(self, path: Path, config: EngineConfig):
        self.path, self.config = path, config
        problem = elf_problem(path)  # dlopen of a truncated file would crash with SIGBUS
        try:
            if problem:
                raise OSError(problem)
            lib = ctypes.CDLL(str(path))
            u32, ptr = ctypes.c_uint32, ctypes.c_void_p
            lib.fa_tiled_top.argtypes = [ptr, u32, ptr, u32, ptr, u32] + [ptr, ptr] * bool(config.split)
            lib.fa_tiled_top.restype = ctypes.c_uint
            lib.fa_tiled_kernel.argtypes = [ptr, u32, ptr, u32, ptr, u32, ptr]
            lib.fa_tiled_kernel.restype = None
            lib.fa_tiled_layer_cycles.argtypes = [ctypes.c_uint]
            lib.fa_tiled_layer_cycles.restype = ctypes.c_ulonglong
        except (OSError, AttributeError) as e:
            raise CsimError(f"{path}: not a loadable tiled-engine C simulation ({e}); remove it from the cache") from None
        self._lib, self._lock = lib, _RUN_LOCK

    def run(self, descriptors: np.ndarray, weights: np.ndarray, acts: np.ndarray, kernel_form: bool = False) -> int:
        """The engine's status after one run over the arrays (``acts`` is updated in place): the return
        value of ``fa_tiled_top``, or with ``kernel_form`` the word ``fa_tiled_kernel`` (the Vitis kernel,
        ``tiled/kernel.h``) writes to its status buffer. A split engine's top is given the weights and the
        activations again, for its second masters (the kernel form is never split)."""
        for what, a, dt in (("descriptors", descriptors, np.uint32), ("weights", weights, np.uint8),
                            ("activations", acts, np.uint8)):
            if not isinstance(a, np.ndarray) or a.dtype != dt or a.ndim != 1 or not a.flags.c_contiguous:
                raise ProgramError(f"tiled engine: the {what} must be a contiguous 1-D {np.dtype(dt)} array")
            if a.size >= 1 << 32:
                raise ProgramError(f"tiled engine: the {what} array has {a.size} elements, more than 32-bit sizes hold")
        if not acts.flags.writeable:
            raise ProgramError("tiled engine: the activation arena must be writeable")
        args = (descriptors.ctypes.data, descriptors.size, weights.ctypes.data, weights.size, acts.ctypes.data,
                acts.size)
        with self._lock:
            if not kernel_form:
                second = (weights.ctypes.data, acts.ctypes.data) if self.config.split else ()
                return int(self._lib.fa_tiled_top(*args, *second))
            status = np.full(1, 0xFFFFFFFF, np.uint32)  # not a status the engine returns: proves the write
            self._lib.fa_tiled_kernel(*args, status.ctypes.data)
            return int(status[0])

    def layer_cycles(self, n: int) -> list[int]:
        """Compute cycles (pipelined iterations) of the first ``n`` layers of the last run."""
        with self._lock:
            return [int(self._lib.fa_tiled_layer_cycles(i)) for i in range(n)]


_LIBRARIES: dict[EngineConfig, EngineLibrary] = {}
_BUILD_LOCK = threading.Lock()


def engine_library(config: EngineConfig, timeout: float | None = None) -> EngineLibrary:
    """The engine compiled for ``config`` (cached on disk and in this process)."""
    with _BUILD_LOCK:
        if config in _LIBRARIES:
            return _LIBRARIES[config]
        defines = config.defines()
        with tempfile.TemporaryDirectory(prefix="fa-tiled-") as tmp:
            hls = Path(tmp)
            shutil.copytree(toolchain.HLS_ROOT / "include", hls / "include")
            (hls / "csim").mkdir()
            # kernel.h holds fa_tiled_kernel (the Vitis form) and includes top.h (fa_tiled_top)
            (hls / "csim" / "tiled_engine.cpp").write_text('#include "fpga_accel/tiled/kernel.h"\n')
            (hls / "csim" / "build.json").write_text(json.dumps(
                {"sources": ["csim/tiled_engine.cpp"], "include_dirs": ["include"], "defines": defines,
                 "cxxflags": CXXFLAGS}))
            path = build_csim(hls, progress=False, timeout=timeout)
        _LIBRARIES[config] = EngineLibrary(path, config)
        return _LIBRARIES[config]


class TiledCsim(TiledEngine):
    """:class:`TiledEngine` whose layers run in the C simulation of the HLS engine. ``descriptors``
    (the binary program, :func:`~fpga_accel.tiled.descriptors.encode`) may be replaced before a run."""

    def __init__(self, program: Program, acc_bits: int = MAX_ACC_BITS, lut_entries: int = DEFAULT_LUT_ENTRIES,
                 synthesis_form: bool = False, max_activation_bytes: int = MAX_ACTIVATION_BYTES, pack: int = 1,
                 split: int = 0, axi_bits: int = WIDE_BITS, units: int = ALL_UNITS):
        super().__init__(program, max_activation_bytes)
        self.descriptors = encode(program)
        self.library = engine_library(EngineConfig.of(program, acc_bits, lut_entries, synthesis_form, pack, split,
                                                      axi_bits, units))
        self._cycles = [0] * len(program.layers)

    def _run_layers(self) -> None:
        first, end = self.active  # one segment of the program (all of it unless it has host steps)
        status = self.library.run(self.descriptors, self.weights.buf, self.acts.buf)
        if status:
            raise status_error(status, self.program, first)
        self._cycles[first:end] = self.library.layer_cycles(end - first)

    def layer_cycles(self) -> list[int]:
        """Compute cycles of each layer in the last image's run (the cost model's compute figures)."""
        return list(self._cycles)


def status_error(status: int, program: Program, first: int = 0) -> EngineStatusError:
    """The error of an engine ``status``; its layer index counts from ``first`` (the segment's start)."""
    code, layer = status & 0xFF, (status >> 8) + first
    layers = program.layers
    where = f"layer {layer} '{layers[layer]['name']}'" if code > 2 and layer < len(layers) else "the program"
    return EngineStatusError(f"tiled engine (C simulation): {where}: status {code}, "
                             f"{STATUS.get(code, 'unknown status')}", code, layer)


def run_csim(program: Program, inputs: Mapping[str, np.ndarray], **config) -> dict[str, np.ndarray]:
    """Integers in, integers out, through the C simulation of the HLS engine (== :func:`run_program`)."""
    return TiledCsim(program, **config).run(inputs)
