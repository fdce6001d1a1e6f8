"""C simulation of a generated HLS project: compile it with g++ into a cached shared library, load it.

``hls/csim/build.json`` of a bundle lists what to compile (paths relative to ``hls/``)::

    {"sources": ["csim/fa_csim.cpp", ...], "include_dirs": ["include", "src"],
     "defines": ["FA_X=1"], "cxxflags": ["-Wall"]}

:func:`build_csim` adds the ap_int/hls_stream simulation headers and compiles with
``g++ -std=c++17 -O2 -fPIC -shared`` (``$CXX`` when set; several sources are compiled side by side
with ``-c`` and then linked, when there is more than one core) into
``$FPGA_ACCEL_CACHE/csim/<key>.so`` (default cache ``~/.cache/fpga-accel``). The key is a sha256
over the sources, every header the project or the simulation headers could include, the flags and
the compiler's version, so an unchanged project is compiled once and every later call reuses the
library. The library appears by an atomic rename: a crashed or concurrent build never leaves a
half-written file under the key. ``<key>.json`` records its sha256; a library that does not match
it is rebuilt, never loaded (see :mod:`fpga_accel.cache`). The compiler runs in its own process
group, killed whole on a timeout or Ctrl-C.

:class:`CsimLibrary` loads it with ctypes through the C ABI of the generated ``csim/fa_csim.cpp``::

    int fa_csim_run(const void* const* inputs, void* const* outputs, unsigned n_images);
    int fa_csim_stage_count(void);
    const char* fa_csim_stage_name(int i);
    unsigned long long fa_csim_stage_cycles(int i);
"""
from __future__ import annotations

import ctypes
import hashlib
import json
import math
import os
import re
import shlex
import shutil
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np

from .. import toolchain
from ..cache import CacheError, elf_problem, ensure_cache_dir, temp_prefix, verified_or_built
from ..cache import cache_dir as shared_cache_dir
from ..errors import FpgaAccelError
from ..procs import run_bounded
from ..safe_fs import UnsafePathError, inside

#: bump when the way libraries are built changes, so old cache entries are not reused
CACHE_FORMAT = 1
#: flags every C-simulation library is built with; build.json's cxxflags come after them
BASE_FLAGS = ("-std=c++17", "-O2", "-fPIC", "-shared")
#: seconds a compile may take (override: ``timeout=`` or ``$FPGA_ACCEL_CSIM_TIMEOUT``)
DEFAULT_TIMEOUT = 900.0
TIMEOUT_ENV = "FPGA_ACCEL_CSIM_TIMEOUT"
#: seconds ``$CXX --version`` may take
VERSION_TIMEOUT = 60.0
HEADER_SUFFIXES = (".h", ".hh", ".hpp", ".hxx", ".inc", ".ipp", ".tpp")
TAIL_LINES = 30


class CsimError(FpgaAccelError):
    """A C-simulation library cannot be loaded or reported a failure."""


class CsimBuildError(CsimError):
    """The C simulation could not be built: bad build.json, missing tool, or g++ failed."""


def cache_dir() -> Path:
    """``$FPGA_ACCEL_CACHE/csim`` (default ``~/.cache/fpga-accel/csim``)."""
    return shared_cache_dir("csim")


def hls_dir_of(bundle_or_hls_dir) -> Path:
    """The ``hls/`` directory of a Bundle, a bundle path, or an hls directory itself."""
    root = Path(getattr(bundle_or_hls_dir, "path", bundle_or_hls_dir))
    for d in (root, root / "hls"):
        if (d / "csim" / "build.json").is_file():
            return d
    raise CsimBuildError(f"{root}: no csim/build.json (looked in {root} and {root / 'hls'}); the bundle holds "
                         "no generated HLS project — compile the model with the HLS generator")


def compiler() -> list[str]:
    """The C++ compiler command (:func:`fpga_accel.toolchain.compiler`: ``$CXX`` or ``g++``)."""
    try:
        return toolchain.compiler()
    except toolchain.ToolchainError as e:
        raise CsimBuildError(f"{e}; the C simulation needs g++ with C++17") from None


def _sim_include_dirs() -> list[Path]:
    """The ap_int/hls_stream headers (hls4ml) and the simulation stand-ins (``ap_axi_sdata.h``)."""
    try:
        return [toolchain.ap_types_dir(), toolchain.HLS_ROOT / "sim"]
    except toolchain.ToolchainError as e:
        raise CsimBuildError(str(e)) from None


def read_build_spec(hls: Path) -> dict:
    """build.json, checked: ``sources`` (non-empty) and optional ``include_dirs``, ``defines``, ``cxxflags``."""
    path = hls / "csim" / "build.json"
    try:
        spec = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise CsimBuildError(f"{path}: cannot read the build description ({e})") from None
    if not isinstance(spec, dict):
        raise CsimBuildError(f"{path}: expected a JSON object with 'sources', got {type(spec).__name__}")
    out = {}
    for key in ("sources", "include_dirs", "defines", "cxxflags"):
        val = spec.get(key, [])
        if not isinstance(val, list) or not all(isinstance(v, str) for v in val):
            raise CsimBuildError(f"{path}: '{key}' must be a list of strings, got {val!r}")
        out[key] = val
    if not out["sources"]:
        raise CsimBuildError(f"{path}: 'sources' is empty; nothing to compile")
    # build.json travels in the bundle: it may name only files inside hls/, plain macros and a
    # few harmless flags, so a bundle from elsewhere cannot make g++ read, write or load anything
    for key in ("sources", "include_dirs"):
        for rel in out[key]:
            try:
                inside(hls, rel, f"{path}: '{key}' entry")
            except UnsafePathError as e:
                raise CsimBuildError(str(e)) from None
    for d in out["defines"]:
        if not _DEFINE.fullmatch(d):
            raise CsimBuildError(f"{path}: define {d!r} is not NAME or NAME=VALUE with a plain value")
    for f in out["cxxflags"]:
        if not (_SAFE_FLAG.fullmatch(f) or (f.startswith("-D") and _DEFINE.fullmatch(f[2:]))):
            raise CsimBuildError(f"{path}: compiler flag {f!r} is not one fpga-accel passes to g++ "
                                 "(optimisation, warnings, debug info); recompile the bundle")
    for rel in out["sources"]:
        if not (hls / rel).is_file():
            raise CsimBuildError(f"{path}: source '{rel}' not found under {hls}")
    return out


_DEFINE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}(=[A-Za-z0-9_.+-]{0,64})?")
_SAFE_FLAG = re.compile(r"-O[0-3s]|-w|-W(all|extra|error|pedantic|no-[a-z-]+)|-g[0-3]?")


def _headers(dirs: list[Path]) -> list[Path]:
    seen, out = set(), []
    for d in dirs:
        for p in sorted(d.rglob("*")) if d.is_dir() else []:
            if p.suffix in HEADER_SUFFIXES and p.is_file() and p.resolve() not in seen:
                seen.add(p.resolve())
                out.append(p)
    return out


def compiler_version(cxx: list[str]) -> str:
    """What ``cxx --version`` prints (bounded by :data:`VERSION_TIMEOUT`, killed with its children)."""
    return toolchain.tool_version(cxx, VERSION_TIMEOUT, CsimBuildError, "CXX")


def cache_key(hls: Path, spec: dict, cxx: list[str], sim_dirs: list[Path], version: str | None = None) -> str:
    """sha256 over what decides the library: compiler and version, flags, sources, reachable headers.

    Project paths enter relative to ``hls/``, so the same project elsewhere has the same key.
    """
    if version is None:
        version = compiler_version(cxx)
    h = hashlib.sha256()

    def put(*items) -> None:
        for it in items:
            b = it if isinstance(it, bytes) else str(it).encode()
            h.update(len(b).to_bytes(8, "little") + b)

    put(f"fpga-accel csim {CACHE_FORMAT}", shlex.join(cxx), version, *BASE_FLAGS,
        json.dumps({k: spec[k] for k in ("include_dirs", "defines", "cxxflags")}, sort_keys=True))
    for rel in spec["sources"]:
        put(rel, (hls / rel).read_bytes())
    # every header under the project and the simulation headers: cheap (a few hundred kB) and safe
    for p in _headers([hls, *(hls / d for d in spec["include_dirs"])]):
        put(os.path.relpath(p, hls), p.read_bytes())
    for p in _headers(sim_dirs):
        put(p.name, p.read_bytes())
    return h.hexdigest()


def compile_command(hls: Path, spec: dict, cxx: list[str], sim_dirs: list[Path], out: Path) -> list[str]:
    """One g++ call compiling every source into ``out``."""
    return [*_flags(hls, spec, cxx, sim_dirs), *(str((hls / s).resolve()) for s in spec["sources"]), "-o", str(out)]


def _flags(hls: Path, spec: dict, cxx: list[str], sim_dirs: list[Path]) -> list[str]:
    # the simulation headers as system headers: their own warnings would bury the project's messages
    return [*cxx, *BASE_FLAGS, *spec["cxxflags"], *(f"-D{d}" for d in spec["defines"]),
            *(f"-I{(hls / d).resolve()}" for d in spec["include_dirs"]), *(f"-isystem{d}" for d in sim_dirs)]


def parallel_command(hls: Path, spec: dict, cxx: list[str], sim_dirs: list[Path], out: Path,
                     obj_dir: Path) -> list[str]:
    """A POSIX sh script compiling the sources side by side (one g++ -c each) and linking ``out``:
    the network's source takes most of the time, the ABI wrapper's compile hides behind it."""
    flags = shlex.join(_flags(hls, spec, cxx, sim_dirs))
    objs = [obj_dir / f"{i}.o" for i in range(len(spec["sources"]))]
    lines = [f"{flags} -c {shlex.quote(str((hls / s).resolve()))} -o {shlex.quote(str(o))} & p{i}=$!"
             for i, (s, o) in enumerate(zip(spec["sources"], objs))]
    lines.append("s=0")
    lines += [f"wait $p{i} || s=1" for i in range(len(objs))]
    lines.append(f'[ "$s" = 0 ] && {flags} {" ".join(shlex.quote(str(o)) for o in objs)} -o {shlex.quote(str(out))}')
    return ["sh", "-c", "\n".join(lines)]


def build_csim(bundle_or_hls_dir, progress: bool = True, timeout: float | None = None) -> Path:
    """Compile the C simulation of a bundle (or of an ``hls/`` directory); the cached library's path.

    An existing library with the same key is returned without compiling. ``progress`` shows a
    spinner with the elapsed time while g++ runs (on a terminal). Raises :class:`CsimBuildError`
    with the command, the log path and the end of g++'s message when the compile fails or takes
    longer than ``timeout`` seconds.
    """
    timeout = compile_timeout(timeout)
    hls = hls_dir_of(bundle_or_hls_dir)
    spec = read_build_spec(hls)
    cxx = compiler()
    sim_dirs = _sim_include_dirs()
    version = compiler_version(cxx)
    key = cache_key(hls, spec, cxx, sim_dirs, version)
    try:
        cache = ensure_cache_dir("csim")
    except CacheError as e:
        raise CsimBuildError(str(e)) from None
    lib, log = cache / f"{key}.so", cache / f"{key}.log"
    inputs = {"compiler": shlex.join(cxx), "compiler_version": (version.strip().splitlines() or [""])[0],
              "flags": [*BASE_FLAGS, *spec["cxxflags"]], "defines": spec["defines"], "sources": spec["sources"],
              "project": str(hls.resolve())}
    # a build of the same key under way elsewhere ends within its own timeout: wait that long, twice over
    return verified_or_built(lib, key, inputs, lambda out: _compile(hls, spec, cxx, sim_dirs, out, log, timeout,
                                                                    progress), 2 * timeout, CsimBuildError)


def compile_timeout(timeout: float | None) -> float:
    """``timeout`` or ``$FPGA_ACCEL_CSIM_TIMEOUT`` or the default, checked: a positive, finite number
    of seconds (a compile that never ends is what the limit is there to stop)."""
    given, what = timeout, "timeout"
    if given is None:
        given, what = os.environ.get(TIMEOUT_ENV, "").strip() or DEFAULT_TIMEOUT, f"${TIMEOUT_ENV}"
    try:
        seconds = float(given)
    except (TypeError, ValueError):
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        raise CsimBuildError(f"{what}={given!r}: expected a positive, finite number of seconds for a C-simulation "
                             f"compile (default {DEFAULT_TIMEOUT:g})")
    return seconds


def _compile(hls: Path, spec: dict, cxx: list[str], sim_dirs: list[Path], lib: Path, log: Path, timeout: float,
             progress: bool) -> None:
    fd, tmp_name = tempfile.mkstemp(prefix=temp_prefix(lib), suffix=".so.tmp", dir=lib.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    obj_dir = Path(tempfile.mkdtemp(prefix=temp_prefix(lib), suffix=".obj", dir=lib.parent))
    if len(spec["sources"]) > 1 and shutil.which("sh") is not None and (os.cpu_count() or 1) > 1:
        cmd = parallel_command(hls, spec, cxx, sim_dirs, tmp, obj_dir)
    else:
        cmd = compile_command(hls, spec, cxx, sim_dirs, tmp)
    try:
        code, message, took = _run_compiler(cmd, hls, timeout, progress and sys.stderr.isatty(), hls.parent.name)
        _write_log(log, f"$ {shlex.join(cmd)}\n# cwd {hls}\n# exit {code}, {took:.1f} s\n{message}")
        if code is None:
            raise CsimBuildError(_failure(f"g++ did not finish within {timeout:g} s (raise it with "
                                          "$FPGA_ACCEL_CSIM_TIMEOUT)", cmd, log, message))
        if code != 0 or not tmp.is_file() or tmp.stat().st_size == 0:
            raise CsimBuildError(_failure(f"g++ failed (exit code {code})", cmd, log, message))
        try:
            os.replace(tmp, lib)  # atomic: readers see no library or a whole one
        except OSError as e:
            raise CsimBuildError(f"cannot put the library in the cache as {lib} ({e.strerror or e}); free some "
                                 "space there or set $FPGA_ACCEL_CACHE to another directory") from None
    finally:
        tmp.unlink(missing_ok=True)
        shutil.rmtree(obj_dir, ignore_errors=True)


def _write_log(log: Path, text: str) -> None:
    """The compiler's log beside the library (a planted symlink at its name is replaced, not followed)."""
    from ..safe_fs import atomic_write_text

    try:
        atomic_write_text(log, text, mode=0o600)
    except OSError as e:
        raise CsimBuildError(f"cannot write the compiler's log {log} ({e.strerror or e})") from None


def _failure(what: str, cmd: list[str], log: Path, message: str) -> str:
    lines = message.rstrip().splitlines()
    tail = lines[-TAIL_LINES:]
    # g++ errors cascade: the first one is the cause, keep it in view when the tail misses it
    first = next((ln for ln in lines if " error: " in ln or ln.startswith("error: ")), None)
    out = [f"compiling the C simulation: {what}", f"command: {shlex.join(cmd)}", f"log: {log}"]
    if first is not None and first not in tail:
        out.append(f"first error: {first}")
    if tail:
        out += ["last lines of the compiler's message:"] + [f"  {ln}" for ln in tail]
    return "\n".join(out)


def _run_compiler(cmd: list[str], cwd: Path, timeout: float, show: bool, label: str):
    """Run g++ in its own process group; (exit code or None on timeout, stdout+stderr, seconds). A
    spinner while it runs. A timeout, Ctrl-C or SIGTERM kills the compiler with its children."""
    with _spinner(f"compiling the C simulation of {label}", show):
        try:
            done = run_bounded(cmd, timeout, cwd=cwd)
        except OSError as e:
            raise CsimBuildError(f"cannot start the compiler: {shlex.join(cmd[:1])} ({e.strerror or e})") from None
    return done.code, done.output, done.seconds


class _spinner:
    """A transient rich spinner with the elapsed time (nothing when ``show`` is false or rich is absent)."""

    def __init__(self, text: str, show: bool):
        self.text, self.show, self.progress = text, show, None

    def __enter__(self):
        if self.show:
            try:
                from rich.console import Console
                from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
            except ImportError:
                return self
            self.progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                                     console=Console(stderr=True), transient=True)
            self.progress.start()
            self.progress.add_task(self.text, total=None)
        return self

    def __exit__(self, *exc):
        if self.progress is not None:
            self.progress.stop()


# --- loading ------------------------------------------------------------------------------------
_STORAGE_KINDS = {np.dtype(t) for t in (np.int8, np.uint8, np.int16, np.uint16)}
_LOCKS: dict[str, threading.Lock] = {}  # one per loaded library: its cycle counters are global state


class CsimLibrary:
    """A compiled C simulation, loaded with ctypes. Calls are serialised (the library keeps state)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        problem = elf_problem(self.path)  # dlopen of a truncated file would crash with SIGBUS
        try:
            if problem:
                raise OSError(problem)
            lib = ctypes.CDLL(str(self.path))
            lib.fa_csim_run.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(ctypes.c_void_p),
                                        ctypes.c_uint]
            lib.fa_csim_run.restype = ctypes.c_int
            lib.fa_csim_stage_count.argtypes, lib.fa_csim_stage_count.restype = [], ctypes.c_int
            lib.fa_csim_stage_name.argtypes, lib.fa_csim_stage_name.restype = [ctypes.c_int], ctypes.c_char_p
            lib.fa_csim_stage_cycles.argtypes = [ctypes.c_int]
            lib.fa_csim_stage_cycles.restype = ctypes.c_ulonglong
        except (OSError, AttributeError) as e:
            raise CsimError(f"{self.path}: not a loadable C-simulation library ({e}); rebuild it with "
                                 "build_csim") from None
        self._lib = lib
        self._lock = _LOCKS.setdefault(str(self.path.resolve()), threading.Lock())

    def set_fast_paths(self, on: bool) -> None:
        """Choose how PEs are simulated: ``True`` (the default) with native-integer fast paths, ``False``
        with the loops synthesis sees (much slower). Outputs and stage cycles are the same either way."""
        fn = getattr(self._lib, "fa_csim_set_fast_paths", None)
        if fn is None:
            if not on:
                raise CsimError(f"{self.path.name}: this C simulation predates the synthesis-loop switch; "
                                "recompile the model to get fa_csim_set_fast_paths")
            return
        fn.argtypes, fn.restype = [ctypes.c_int], None
        with self._lock:
            fn(1 if on else 0)

    def run(self, inputs: list[np.ndarray], outputs: list[np.ndarray], n: int) -> None:
        """Run ``n`` images: ``inputs`` and ``outputs`` in manifest order, C-contiguous integer
        arrays of ``n`` images each (outputs are written in place)."""
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 0 < n < 2 ** 32:
            raise CsimError(f"csim: the number of images must be a positive integer, got {n!r}")
        for what, arrays in (("input", inputs), ("output", outputs)):
            for i, a in enumerate(arrays):
                if not isinstance(a, np.ndarray) or a.dtype not in _STORAGE_KINDS:
                    raise CsimError(f"csim {what} {i}: expected an int8/uint8/int16/uint16 array, got "
                                         f"{getattr(a, 'dtype', type(a).__name__)}")
                if not a.flags.c_contiguous or (what == "output" and not a.flags.writeable):
                    raise CsimError(f"csim {what} {i}: the array must be C-contiguous"
                                         + (" and writeable" if what == "output" else ""))
                if a.ndim == 0 or a.shape[0] != n:
                    raise CsimError(f"csim {what} {i}: shape {a.shape} does not hold {n} image(s) on axis 0")
        ins = (ctypes.c_void_p * max(1, len(inputs)))(*(a.ctypes.data for a in inputs))
        outs = (ctypes.c_void_p * max(1, len(outputs)))(*(a.ctypes.data for a in outputs))
        with self._lock:
            code = self._lib.fa_csim_run(ins, outs, int(n))
        if code != 0:
            raise CsimError(f"{self.path.name}: fa_csim_run returned {code} for {n} image(s); the C "
                                 "simulation reported an error (see its messages on stderr)")

    def load(self, blob: bytes, axis: bool = False) -> None:
        """Fill the design's URAM weight memories from ``blob`` (weights/uram.bin) through the load call
        of fa_kernel, or of fa_axis with ``axis``, as a host does once after configuration."""
        fn = getattr(self._lib, "fa_csim_load", None)
        if fn is None:
            raise CsimError(f"{self.path.name}: this design keeps no weights in URAM (no fa_csim_load)")
        fn.argtypes, fn.restype = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int], ctypes.c_int
        with self._lock:
            code = fn(bytes(blob), len(blob), 1 if axis else 0)
        if code != 0:
            raise CsimError(f"{self.path.name}: fa_csim_load refused {len(blob)} bytes of URAM weights (status {code}); "
                            "they are not the blob of this design")

    def stage_cycles(self) -> dict[str, int]:
        """Per stage (``"layer/pe kind"``): the pipelined loop iterations of the last :meth:`run`."""
        with self._lock:
            lib = self._lib
            return {lib.fa_csim_stage_name(i).decode(): int(lib.fa_csim_stage_cycles(i))
                    for i in range(lib.fa_csim_stage_count())}
