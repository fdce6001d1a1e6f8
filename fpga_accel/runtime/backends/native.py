"""The native backend: the bundle's kernel run by ``libfa_host``, the C++ host in ``host/``.

The same library is behind the ``fa-host`` command, the deployment path with no Python; this
backend loads it with ctypes so the shared backend contract runs on it. It takes raw integers
(NHWC, the storage dtype of each hardware tensor) like every backend; the session quantises.

The library is built with CMake (``cmake -S host -B build/host && cmake --build build/host``, or
:func:`build_host`) and found at ``$FPGA_ACCEL_NATIVE_HOST`` (the build directory or the ``.so``),
else ``build/host/`` of the source checkout. Devices are chosen as in the opencl backend: the
Xilinx platform with ``bitstream/*.xclbin``, else a CPU device building ``opencl/fa_kernel.cl``;
``FPGA_ACCEL_OPENCL_PLATFORM`` / ``FPGA_ACCEL_OPENCL_DEVICE`` narrow the choice.

A design that keeps weights in URAM (``manifest["uram_load"]``) gets them when the library opens an
xclbin: ``weights/uram.bin`` (size and sha256 checked) in a buffer on the ``wmem`` argument, one run
with ``load`` = 1 and no images, as the opencl backend does; the kernel built from source keeps its
weights as constants and is given no load arguments.

A bundle in **dataflow segments** (fpga_accel/segments/) is opened once per segment through
``fa_host_open_segment(model bundle, k)``: the library reads segment k's kernel and arguments from
``segments/<k>/manifest.json`` (checked against the model's sealed file list) and takes the kernel
``fa_kernel_s<k>`` by name from the model's ``bitstream/*.xclbin`` (one compute unit per segment) when
a build placed one there, else builds the segment's own ``opencl/fa_kernel.cl`` for a CPU device.
:meth:`NativeBackend.open_segments` gives the chain of runtime/segments.py one backend per segment;
the host steps run between them in Python, as on every backend.

ICD: the library links the system's OpenCL ICD loader, which reads ``/etc/OpenCL/vendors``. When
no vendor is registered there and ``OCL_ICD_VENDORS`` is unset, the PoCL shipped inside the
pyopencl wheel is used (``OCL_ICD_VENDORS`` is set to it before the library first asks for
platforms), so a machine with only ``pip install fpga-accel[opencl]`` plus the loader runs it.
"""
from __future__ import annotations

import ctypes
import importlib.util
import os
import shutil
import threading
import weakref
from pathlib import Path

import numpy as np

from ...bundle_kernel import image_args
from ...cache import elf_problem
from ...procs import run_bounded
from ..errors import SessionError
from .base import ThreadedBackend

ENV_LIBRARY = "FPGA_ACCEL_NATIVE_HOST"
LIBRARY_NAME = "libfa_host.so"
ABI_VERSION = 3  # 2: fa_host_open_segment; 3: the open calls load URAM weights
#: the source checkout's host/ (absent from an installed wheel) and its default build directory
HOST_SOURCE = Path(__file__).resolve().parents[3] / "host"
DEFAULT_BUILD = HOST_SOURCE.parent / "build" / "host"
ERR_LEN = 16384
#: longest wait of close() for a batch still on the device (seconds)
CLOSE_WAIT_S = 60.0
#: longest a CMake step of build_host may take (seconds); past it CMake and its compilers are killed
BUILD_TIMEOUT_S = 1800.0

_lock = threading.Lock()
_loaded: dict[str, ctypes.CDLL] = {}


class NativeHostError(SessionError):
    """The native host failed: its message names the OpenCL call and error (``CL_...``)."""


class NativeBuildError(SessionError):
    """CMake could not configure or build ``host/``; the message shows the command and its output."""


class _Timing(ctypes.Structure):
    _fields_ = [("wall_ms", ctypes.c_double), ("write_ns", ctypes.c_uint64), ("kernel_ns", ctypes.c_uint64),
                ("read_ns", ctypes.c_uint64), ("total_ns", ctypes.c_uint64), ("profiled", ctypes.c_int)]


def library_path() -> Path:
    """Where the library is expected: ``$FPGA_ACCEL_NATIVE_HOST`` (a directory or the file), else build/host/."""
    given = os.environ.get(ENV_LIBRARY)
    p = Path(given) if given else DEFAULT_BUILD
    return p / LIBRARY_NAME if p.is_dir() or not p.suffix else p


def executable_path() -> Path:
    """The ``fa-host`` command beside the library."""
    return library_path().parent / "fa-host"


def build_host(build_dir: Path | str | None = None, build_type: str | None = None,
               timeout: float = BUILD_TIMEOUT_S) -> Path:
    """Configure and build ``host/`` with CMake into ``build_dir`` (default build/host/); returns
    the library's path. ``build_type`` (Release, Debug, ...) defaults to the build directory's own
    (RelWithDebInfo when new). Raises :class:`NativeBuildError` with the failing command's output,
    also when a step takes longer than ``timeout`` seconds (CMake and its compilers are killed)."""
    if not (HOST_SOURCE / "CMakeLists.txt").is_file():
        raise NativeBuildError(f"no host sources at {HOST_SOURCE}: the native host builds from a source checkout")
    cmake = shutil.which("cmake")
    if cmake is None:
        raise NativeBuildError("cmake not found; install it (Debian/Ubuntu: apt-get install cmake)")
    out = Path(build_dir) if build_dir is not None else DEFAULT_BUILD
    configure = [cmake, "-S", str(HOST_SOURCE), "-B", str(out)]
    configure += [f"-DCMAKE_BUILD_TYPE={build_type}"] if build_type else []
    for cmd in (configure,
                [cmake, "--build", str(out), "-j", "2"]):
        try:
            r = run_bounded(cmd, timeout)
        except OSError as e:
            raise NativeBuildError(f"cannot run `{' '.join(cmd)}` ({e.strerror or e})") from None
        if r.code != 0:
            tail = "\n".join(r.output.strip().splitlines()[-30:])
            how = f"did not finish within {timeout:g} s" if r.timed_out else f"failed (exit {r.code})"
            raise NativeBuildError(f"`{' '.join(cmd)}` {how}:\n{tail}")
    return out / LIBRARY_NAME


def bundled_pocl() -> Path | None:
    """The PoCL library inside the installed pyopencl wheel (found without importing pyopencl)."""
    spec = importlib.util.find_spec("pyopencl")
    if spec is None or not spec.origin:
        return None
    found = sorted((Path(spec.origin).parent / ".libs").glob("libpocl*.so*"))
    return found[0] if found else None


def _ensure_icd() -> None:
    """Point the ICD loader at pyopencl's PoCL when the system registers no OpenCL vendor."""
    if os.environ.get("OCL_ICD_VENDORS"):
        return
    vendors = Path("/etc/OpenCL/vendors")
    if vendors.is_dir() and any(vendors.glob("*.icd")):
        return
    pocl = bundled_pocl()
    if pocl is not None:
        os.environ["OCL_ICD_VENDORS"] = str(pocl)


def load_library(path: Path | None = None) -> ctypes.CDLL:
    """``libfa_host`` with its C signatures declared (loaded once per path)."""
    path = Path(path) if path is not None else library_path()
    with _lock:
        if str(path) in _loaded:
            return _loaded[str(path)]
        _ensure_icd()
        problem = elf_problem(path)
        try:
            if problem:
                raise OSError(problem)
            lib = ctypes.CDLL(str(path))
            lib.fa_host_abi_version.restype = ctypes.c_int
        except (OSError, AttributeError) as e:
            raise NativeHostError(f"{path}: not a loadable native host library ({e}); rebuild it (cmake --build "
                                  f"{path.parent}) or point {ENV_LIBRARY} at a good build") from None
        if lib.fa_host_abi_version() != ABI_VERSION:
            raise NativeHostError(f"{path} has interface version {lib.fa_host_abi_version()}, this package expects "
                                  f"{ABI_VERSION}; rebuild it (cmake --build {path.parent})")
        err = (ctypes.c_char_p, ctypes.c_size_t)
        lib.fa_host_open.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_double, *err]
        lib.fa_host_open.restype = ctypes.c_void_p
        lib.fa_host_open_segment.argtypes = [ctypes.c_char_p, ctypes.c_uint32, ctypes.c_char_p, ctypes.c_char_p,
                                             ctypes.c_double, *err]
        lib.fa_host_open_segment.restype = ctypes.c_void_p
        lib.fa_host_run.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(ctypes.c_void_p),
                                    ctypes.c_uint32, ctypes.POINTER(_Timing), *err]
        lib.fa_host_run.restype = ctypes.c_int
        lib.fa_host_target.argtypes = [ctypes.c_void_p]
        lib.fa_host_target.restype = ctypes.c_char_p
        lib.fa_host_build_seconds.argtypes = [ctypes.c_void_p]
        lib.fa_host_build_seconds.restype = ctypes.c_double
        lib.fa_host_list_devices.argtypes = [ctypes.c_char_p, ctypes.c_size_t, *err]
        lib.fa_host_list_devices.restype = ctypes.c_size_t
        lib.fa_host_close.argtypes = [ctypes.c_void_p]
        lib.fa_host_close.restype = None
        _loaded[str(path)] = lib
        return lib


def list_devices(lib: ctypes.CDLL | None = None) -> str:
    """The platforms and devices the library sees, one per line; NativeHostError when there are none."""
    lib = lib or load_library()
    err = ctypes.create_string_buffer(ERR_LEN)
    need = lib.fa_host_list_devices(None, 0, err, ERR_LEN)
    if need == 0:
        raise NativeHostError(err.value.decode(errors="replace"))
    out = ctypes.create_string_buffer(need)
    lib.fa_host_list_devices(out, need, err, ERR_LEN)
    return out.value.decode(errors="replace")


class NativeBackend(ThreadedBackend):
    name = "native"
    priority = -6  # on PoCL a check of the deployment host, not a faster path than the emulator
    # device buffers grow to the largest batch; bound them
    max_batch = 256

    @classmethod
    def unavailable(cls, bundle) -> str | None:
        path = library_path()
        if not path.is_file():
            return (f"the native host is not built ({path} missing); build it with `cmake -S host -B build/host && "
                    f"cmake --build build/host` (needs opencl-headers and ocl-icd-opencl-dev) or set {ENV_LIBRARY}")
        root = Path(bundle.path)
        binaries = [*root.glob("bitstream/*.xclbin"), *root.glob("bitstream/*.awsxclbin")]
        if binaries:
            from .base import bitstream_mismatch

            mismatch = bitstream_mismatch(bundle)
            if mismatch:
                return mismatch
        else:
            for where, manifest in _programs(bundle):
                why = _program_problem(where, manifest)
                if why:
                    return why
        try:
            devices = list_devices(load_library(path))
        except (OSError, SessionError) as e:
            return str(e).replace("\n", " ")
        if not devices.strip():
            return "the OpenCL ICD loader lists no device"
        filtered = os.environ.get("FPGA_ACCEL_OPENCL_PLATFORM") or os.environ.get("FPGA_ACCEL_OPENCL_DEVICE")
        if not binaries and not filtered and "[cpu]" not in devices:
            return ("no CPU OpenCL device to build opencl/fa_kernel.cl (install pocl-opencl-icd, or pick a device "
                    "with FPGA_ACCEL_OPENCL_DEVICE); devices here: " + "; ".join(devices.strip().splitlines()))
        return None

    @classmethod
    def segments_from_bitstream(cls, bundle) -> bool:
        """Every bundle in dataflow segments runs from the model's bundle: the library opens each
        segment's kernel from it (the model's xclbin, or the segment's own OpenCL program)."""
        return "segments" in bundle.manifest

    def __init__(self, bundle, qmodel, timeout: float | None = None, segment: tuple[Path, int] | None = None):
        """``segment``: (the model's bundle path, k) when this backend runs segment k of it (``bundle``
        and ``qmodel`` are then the segment's); see :meth:`open_segments`."""
        super().__init__(bundle, qmodel, timeout)
        self.lib = load_library()
        self._handle = None
        self._closing = threading.Lock()
        self.last_timing: dict[str, float] | None = None
        if "segments" in bundle.manifest:  # the model's bundle: open_segments opens its kernels
            self.target, self.build_s = "", 0.0
            return
        args = image_args(bundle.manifest["kernel"]["args"])  # wmem and load: set by the library at open
        self._ins = [(a["tensor"], np.dtype(a["dtype"])) for a in args if a["kind"] == "m_axi" and a["direction"] == "in"]
        self._outs = [(a["tensor"], np.dtype(a["dtype"])) for a in args if a["kind"] == "m_axi" and a["direction"] == "out"]
        self._shapes = {t.name: tuple(t.shape[1:]) for t in (*qmodel.inputs, *qmodel.outputs)}
        err = ctypes.create_string_buffer(ERR_LEN)
        # no timeout here: the session bounds every wait on the worker thread
        if segment is None:
            handle = self.lib.fa_host_open(str(bundle.path).encode(), None, None, 0.0, err, ERR_LEN)
        else:
            handle = self.lib.fa_host_open_segment(str(segment[0]).encode(), segment[1], None, None, 0.0, err, ERR_LEN)
        if not handle:
            raise NativeHostError(err.value.decode(errors="replace"))
        self._handle = handle
        # an unclosed backend still releases its device when collected (not at exit: the process ends anyway)
        self._release = weakref.finalize(self, self.lib.fa_host_close, ctypes.c_void_p(handle))
        self._release.atexit = False
        self.target = self.lib.fa_host_target(handle).decode(errors="replace")
        self.build_s = self.lib.fa_host_build_seconds(handle)
        # reused by every call (calls run one at a time, on the session's worker thread)
        self._err, self._timing = ctypes.create_string_buffer(ERR_LEN), _Timing()

    def open_segments(self, opened: list) -> list:
        """One backend per segment (``opened``: [(segment bundle, its QModel)]), each on its kernel
        ``fa_kernel_s<k>`` opened from this model's bundle."""
        out = []
        try:
            for k, (sub, sq) in enumerate(opened):
                out.append(NativeBackend(sub, sq, self.timeout, segment=(self.bundle.path, k)))
        except BaseException:
            for b in out:
                b.close()
            raise
        return out

    def run_raw(self, q_inputs):
        with self._closing:
            if self._handle is None:
                raise SessionError("backend 'native' is closed")
            n = next(iter(q_inputs.values())).shape[0]
            ins = [np.ascontiguousarray(q_inputs[name], dtype) for name, dtype in self._ins]
            outs = {name: np.empty((n, *self._shapes[name]), dtype) for name, dtype in self._outs}
            in_ptrs = (ctypes.c_void_p * max(len(ins), 1))(*[x.ctypes.data for x in ins])
            out_ptrs = (ctypes.c_void_p * max(len(outs), 1))(*[outs[name].ctypes.data for name, _ in self._outs])
            timing, err = self._timing, self._err
            if n and self.lib.fa_host_run(self._handle, in_ptrs, out_ptrs, n, ctypes.byref(timing), err, ERR_LEN) != 0:
                raise NativeHostError(err.value.decode(errors="replace"))
            self.last_timing = {"wall_ms": timing.wall_ms, "write_ns": timing.write_ns, "kernel_ns": timing.kernel_ns,
                                "read_ns": timing.read_ns, "total_ns": timing.total_ns} if timing.profiled else None
            return outs

    def close(self) -> None:
        super().close()
        # a batch still running holds the lock: wait for it, but not forever (a hung device keeps its handle)
        if not self._closing.acquire(timeout=CLOSE_WAIT_S):
            return
        try:
            if self._handle is not None:
                self._release()  # fa_host_close, once
                self._handle = None
        finally:
            self._closing.release()


def _programs(bundle) -> list:
    """(folder, manifest) of every OpenCL program the bundle runs: its own, or each segment's."""
    manifest = getattr(bundle, "manifest", None) or {}  # (callers may pass a path holder)
    if "segments" not in manifest:
        return [(Path(bundle.path), manifest)]
    from ...bundle import load_bundle
    from ...segments.check import segment_path

    subs = [load_bundle(Path(bundle.path) / segment_path(k), verify=False)
            for k in range(len(bundle.manifest["segments"]["list"]))]
    return [(Path(sub.path), sub.manifest) for sub in subs]


def _program_problem(root: Path, manifest) -> str | None:
    """Why the OpenCL program at ``root`` (no xclbin beside it) cannot run on the native host, or None."""
    opencl = manifest.get("opencl", {})
    if opencl.get("skipped"):
        return f"this bundle has no OpenCL model ({opencl['skipped']}) and no bitstream/*.xclbin"
    if opencl.get("scratch"):
        return ("this bundle's OpenCL model keeps intermediates in a global scratch buffer, which the native "
                "host does not allocate; use the opencl backend, or build the bitstream")
    if not (root / "opencl" / "fa_kernel.cl").is_file():
        return ("the bundle has neither bitstream/*.xclbin nor opencl/fa_kernel.cl; compile with the OpenCL "
                "generator (fpga_accel.codegen.opencl.generate_opencl) or build the bitstream")
    return None


BACKEND = NativeBackend
