"""The traced build of a bundle's C simulation: the same generated sources as ``csim``, compiled with
``hls/sim/timed/`` first on the include path (its ``hls_stream.h`` records every stream access with
the FA_CYCLE count) and ``fa_timed.cpp`` (the trace's C ABI and the bounded-FIFO replay).

The library lands in the C-simulation cache under its own key (sources, every reachable header,
flags, compiler version), built once per project like the untimed one.
"""
from __future__ import annotations

import os
import shlex
import shutil
import tempfile
from pathlib import Path

from .. import toolchain
from ..cache import CacheError, ensure_cache_dir, temp_prefix, verified_or_built
from ..emulator import csim_library as _csim
from ..procs import run_bounded
from .errors import SimulationError

TIMED_DIR = toolchain.HLS_ROOT / "sim" / "timed"
DEFINE = "FA_TIMED"


def timed_spec(hls: Path) -> dict:
    """build.json of the bundle, plus the timed stream directory (searched first) and fa_timed.cpp."""
    spec = _csim.read_build_spec(hls)
    return {"sources": [*spec["sources"], str(TIMED_DIR / "fa_timed.cpp")],
            "include_dirs": [str(TIMED_DIR), *spec["include_dirs"]],
            "defines": [*spec["defines"], DEFINE], "cxxflags": spec["cxxflags"]}


def build_timed(bundle_or_hls_dir, timeout: float | None = None) -> Path:
    """Compile (or find in the cache) the traced C simulation of a bundle; the library's path."""
    timeout = _csim.compile_timeout(timeout)
    hls = _csim.hls_dir_of(bundle_or_hls_dir)
    spec = timed_spec(hls)
    cxx = _csim.compiler()
    try:
        sim_dirs = [toolchain.ap_types_dir(), toolchain.HLS_ROOT / "sim"]
    except toolchain.ToolchainError as e:
        raise SimulationError(str(e)) from None
    version = _csim.compiler_version(cxx)
    key = "timed-" + _csim.cache_key(hls, spec, cxx, sim_dirs, version)
    try:
        cache = ensure_cache_dir("csim")
    except CacheError as e:
        raise SimulationError(str(e)) from None
    lib, log = cache / f"{key}.so", cache / f"{key}.log"
    inputs = {"compiler": shlex.join(cxx), "flavour": "timed", "sources": spec["sources"],
              "project": str(hls.resolve())}
    return verified_or_built(lib, key, inputs, lambda out: _compile(hls, spec, cxx, sim_dirs, out, log, timeout),
                             2 * timeout, _csim.CsimBuildError)


def _compile(hls: Path, spec: dict, cxx: list[str], sim_dirs: list[Path], lib: Path, log: Path,
             timeout: float) -> None:
    fd, tmp_name = tempfile.mkstemp(prefix=temp_prefix(lib), suffix=".so.tmp", dir=lib.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    obj_dir = Path(tempfile.mkdtemp(prefix=temp_prefix(lib), suffix=".obj", dir=lib.parent))
    if shutil.which("sh") is not None and (os.cpu_count() or 1) > 1:
        cmd = _csim.parallel_command(hls, spec, cxx, sim_dirs, tmp, obj_dir)
    else:
        cmd = _csim.compile_command(hls, spec, cxx, sim_dirs, tmp)
    try:
        done = run_bounded(cmd, timeout, cwd=hls)
        log.write_text(f"$ {shlex.join(cmd)}\n# exit {done.code}\n{done.output}")
        if done.code != 0 or not tmp.is_file() or tmp.stat().st_size == 0:
            tail = "\n".join(f"  {ln}" for ln in done.output.rstrip().splitlines()[-20:])
            what = "timed out" if done.code is None else f"failed (exit code {done.code})"
            raise _csim.CsimBuildError(f"compiling the timed simulation {what}\ncommand: {shlex.join(cmd)}\n"
                                       f"log: {log}\n{tail}")
        os.replace(tmp, lib)
    finally:
        tmp.unlink(missing_ok=True)
        shutil.rmtree(obj_dir, ignore_errors=True)
