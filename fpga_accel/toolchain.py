"""Where the C/C++ toolchain pieces live: the compilers, the ap_int / hls_stream simulation headers
and the HLS C++ library ``hls/``.

Both sides use it: code generation copies headers from :data:`HLS_ROOT`; the runtime's C
simulation and the emulator's native convolution find their compiler here (``$CXX`` / ``$CC``).
It imports nothing of the compiler.

The arbitrary-precision and stream simulation headers are not vendored; they come from the
installed hls4ml package (the ``compile`` extra). ``ap_axi_sdata.h`` is not shipped there, so a
small simulation-only stand-in lives in ``hls/sim/``; Vitis HLS uses its own copy at synthesis.
"""
from __future__ import annotations

import importlib.util
import os
import shlex
import shutil
from pathlib import Path

from .errors import FpgaAccelError
from .procs import run_bounded

#: Root of the HLS C++ library (headers in ``include/``, testbenches in ``tests/`` in a checkout):
#: ``fpga_accel/hls_library``, a link to the repository's ``hls/`` that a wheel carries as files.
HLS_ROOT = Path(__file__).resolve().parent / "hls_library"


class ToolchainError(FpgaAccelError):
    """A compiler, header set or vendor tool needed for a step is missing."""


def compiler(env: str = "CXX", default: str = "g++") -> list[str]:
    """The compiler command: ``$env`` split like a shell would, else ``default``; its program must
    be on PATH. ToolchainError otherwise (naming the variable and how to fix it)."""
    given = os.environ.get(env, "").strip()
    try:
        cmd = shlex.split(given or default)
    except ValueError as e:  # unbalanced quotes
        raise ToolchainError(f"${env}={os.environ[env]!r} is not a command line ({e}); fix or unset it") from None
    if not cmd or shutil.which(cmd[0]) is None:
        what, package = ("C++ compiler", "g++") if env == "CXX" else ("C compiler", "gcc")
        where = f"${env}" if given else "PATH"
        raise ToolchainError(f"{what} '{cmd[0] if cmd else ''}' not found (from {where}); install {package} "
                             f"(Debian/Ubuntu: `apt-get install {package}`) or set ${env}")
    return cmd


def c_compiler() -> list[str]:
    """``$CC`` or ``cc`` (see :func:`compiler`)."""
    return compiler("CC", "cc")


def ap_types_dir() -> Path:
    """Directory holding ``ap_int.h`` and ``hls_stream.h`` (from the installed hls4ml package).

    Raises ToolchainError when hls4ml is not installed or its layout lacks the headers.
    """
    spec = importlib.util.find_spec("hls4ml")
    if spec is None or not spec.submodule_search_locations:
        raise ToolchainError(
            "the ap_int/hls_stream simulation headers come from the hls4ml package, which is not "
            "installed; install it with `pip install fpga-accel[compile]`")
    tried = []
    for root in spec.submodule_search_locations:
        for sub in ("templates/vivado/ap_types", "templates/vitis/ap_types"):
            d = Path(root) / sub
            if (d / "ap_int.h").is_file() and (d / "hls_stream.h").is_file():
                return d
            tried.append(str(d))
    raise ToolchainError(
        f"hls4ml is installed but ap_int.h/hls_stream.h were not found (looked in {', '.join(tried)}); "
        "reinstall it with `pip install --force-reinstall fpga-accel[compile]`")


def csim_include_dirs() -> list[Path]:
    """Include path for compiling ``hls/`` code with g++: library headers, ap types, sim stand-ins.

    The order matters: ``hls/sim`` comes last so a real ``ap_axi_sdata.h`` earlier on the path
    (a Vitis installation) wins over the stand-in.
    """
    return [HLS_ROOT / "include", ap_types_dir(), HLS_ROOT / "sim"]


def tool_version(cmd: list[str], timeout: float, error: type[Exception], variable: str) -> str:
    """What ``cmd --version`` prints: bounded by ``timeout`` seconds and killed with its children
    when it does not answer; ``error`` naming the command (and ``$variable``, which chose it) when
    it cannot run or hangs."""
    argv = [*cmd, "--version"]
    try:
        done = run_bounded(argv, timeout)
    except OSError as e:
        raise error(f"cannot run `{shlex.join(argv)}` ({e.strerror or e})") from None
    if done.timed_out:
        raise error(f"`{shlex.join(argv)}` did not answer within {timeout:g} s; killed it; check the compiler "
                    f"(${variable})")
    return done.output
