"""The emulator's native convolution: a group-1 or depthwise Conv layer, with the MaxPool that
reads it if any, in one pass over its input (``fastconv.c``), where int16 products summed in int32
are exact.

The C source is compiled once per machine and compiler (``$CC``, else ``cc``; ``-O3
-march=native``) into ``$FPGA_ACCEL_CACHE/native/`` and loaded with ctypes, whose calls release
the GIL, so the emulator's threads run it side by side. The cached library is loaded only when it
matches the sha256 recorded at its build, else rebuilt (see :mod:`fpga_accel.cache`); the compiler
runs at most :data:`COMPILE_TIMEOUT` seconds, killed with its children past that. Where it does not
apply (other layers, values beyond int16), without a C compiler, when the build fails (one
warning), or with ``FPGA_ACCEL_NATIVE=0``, the numpy definitions run: the integers are the same
(tests compare every path with ``quant.arith``).
"""
from __future__ import annotations

import ctypes
import hashlib
import math
import os
import platform
import shlex
import tempfile
import threading
import warnings
from pathlib import Path

import numpy as np

from ..cache import ensure_cache_dir, temp_prefix, verified_or_built
from ..errors import FpgaAccelError
from ..procs import run_bounded
from ..quant import arith
from ..toolchain import ToolchainError, c_compiler, tool_version
from .fastint import float_constants, requant_exact_in_float64, storage_dtype

ENV = "FPGA_ACCEL_NATIVE"
#: values of ``$FPGA_ACCEL_NATIVE``; anything else warns and keeps the kernel on
ON, OFF = ("", "1", "yes", "true", "on"), ("0", "no", "false", "off")
#: seconds a compile, and ``$CC --version``, may take
COMPILE_TIMEOUT, VERSION_TIMEOUT = 120.0, 30.0
SOURCE = Path(__file__).with_name("fastconv.c")
FLAGS = [["-O3", "-march=native"], ["-O3"]]  # the second where the compiler has no -march=native
_FIELDS = ("h", "w", "c", "kh", "kw", "sh", "sw", "dh", "dw", "ph", "pw", "psh", "psw", "pdh", "pdw",
           "oh", "ow", "m", "kpairs", "mpad", "zp", "lo", "hi", "by_double", "depthwise")
_I16 = np.iinfo(np.int16)
TILE = 4  # output positions per tile in fastconv.c


class _Geometry(ctypes.Structure):
    _fields_ = [(name, ctypes.c_int64) for name in _FIELDS]


_lock = threading.Lock()
_loaded: dict[str, ctypes.CDLL | None] = {}


class KernelBuildError(FpgaAccelError):
    """The native convolution could not be built or loaded; the emulator runs numpy alone."""


_warned_values: set[str] = set()


def enabled() -> bool:
    """``$FPGA_ACCEL_NATIVE`` is unset or on (1/yes/true/on); 0/no/false/off turn the kernel off."""
    value = os.environ.get(ENV, "").strip().lower()
    if value in OFF:
        return False
    if value not in ON and value not in _warned_values:
        _warned_values.add(value)
        warnings.warn(f"${ENV}={value!r} is neither 1 nor 0; the native convolution stays on (set it to 0 for "
                      "numpy alone)", RuntimeWarning, stacklevel=3)
    return True


def library() -> ctypes.CDLL | None:
    """The compiled kernel, built on first use; None when disabled or no C compiler builds it."""
    if not enabled():
        return None
    with _lock:
        if "lib" not in _loaded:
            _loaded["lib"] = _load()
        return _loaded["lib"]


def _cpu_flags() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next((line for line in f if line.startswith(("flags", "Features"))), "")
    except OSError:
        return platform.processor()


def _load() -> ctypes.CDLL | None:
    try:
        cc = c_compiler()
    except ToolchainError:
        return None  # no compiler: numpy alone, as documented
    errors = []
    try:
        version = _version(cc)
        cache = ensure_cache_dir("native")
    except FpgaAccelError as e:
        errors.append(str(e))
    else:
        src = SOURCE.read_bytes()
        for flags in FLAGS:
            key = hashlib.sha256(b"\0".join([src, " ".join(cc + flags).encode(), version.encode(),
                                             _cpu_flags().encode(), platform.machine().encode()])).hexdigest()[:20]
            inputs = {"compiler": shlex.join(cc), "compiler_version": (version.strip().splitlines() or [""])[0],
                      "flags": flags, "source": SOURCE.name, "machine": platform.machine()}
            lib = cache / f"fastconv-{key}.so"
            try:
                verified_or_built(lib, key, inputs, lambda out, flags=flags: _build(cc, flags, out),
                                  2 * COMPILE_TIMEOUT, KernelBuildError)
                return _bind(ctypes.CDLL(str(lib)))
            except (FpgaAccelError, OSError, AttributeError) as e:
                errors.append(f"{lib}: {e}" if isinstance(e, (OSError, AttributeError)) else str(e))
    warnings.warn(f"the emulator's native convolution could not be built, numpy runs alone (slower, same "
                  f"integers): {errors[-1] if errors else 'unknown error'}", RuntimeWarning, stacklevel=3)
    return None


def _version(cc: list[str]) -> str:
    return tool_version(cc, VERSION_TIMEOUT, KernelBuildError, "CC")


def _build(cc: list[str], flags: list[str], lib: Path) -> None:
    """Compile into ``lib`` (beside it, then renamed: a reader sees a whole library or none);
    KernelBuildError with the compiler's complaint."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=temp_prefix(lib), suffix=".so.tmp", dir=lib.parent)
        os.close(fd)
    except OSError as e:
        raise KernelBuildError(f"cannot write to {lib.parent}: {e.strerror or e}") from None
    cmd = [*cc, *flags, "-std=c11", "-fPIC", "-shared", "-o", tmp, str(SOURCE)]
    try:
        done = run_bounded(cmd, COMPILE_TIMEOUT)
        if done.timed_out:
            raise KernelBuildError(f"`{shlex.join(cmd)}` did not finish within {COMPILE_TIMEOUT:g} s; killed it")
        if done.code != 0 or os.path.getsize(tmp) == 0:
            raise KernelBuildError(f"`{shlex.join(cmd)}` failed (exit {done.code}): {done.output.strip()[-500:]}")
        os.replace(tmp, lib)
    except OSError as e:
        raise KernelBuildError(f"`{shlex.join(cmd)}`: {e.strerror or e}") from None
    finally:
        Path(tmp).unlink(missing_ok=True)


def _bind(dll: ctypes.CDLL) -> ctypes.CDLL:
    p = ctypes.c_void_p
    dll.fa_conv_pool_requant.argtypes = [p, ctypes.c_int64, p, p, p, p, p, p, ctypes.POINTER(_Geometry), p, p, p, p]
    dll.fa_conv_pool_requant.restype = None
    return dll


class _Plan:
    """What the kernel needs of one layer, prepared once: packed weights, int64 constants."""

    def __init__(self, layer):
        c, k = layer.config, layer.consts
        w = np.asarray(k["weights"])
        m = w.shape[0]
        self.mpad, self.m = -(-m // 8) * 8, m
        self.depthwise = c["group"] != 1
        if self.depthwise:  # wd[tap][m], int32: one filter per channel
            taps = w[:, 0].reshape(m, -1)
            self.kpairs = taps.shape[1]
            self.weights = np.zeros((self.kpairs, self.mpad), np.int32)
            self.weights[:, :m] = taps.T
        else:
            w = np.moveaxis(w, 1, -1)  # (M, *kernel, C): the window's order in NHWC
            if w.ndim == 3:
                w = w[:, None]  # 1D as 2D
            # the runs of fastconv.c: window rows (x dilation 1) or pixels, each padded to pairs
            runs = w.reshape(m, w.shape[1], -1) if c["dilations"][-1] == 1 else w
            runs = np.concatenate([runs, np.zeros((*runs.shape[:-1], runs.shape[-1] % 2), runs.dtype)], axis=-1)
            wk = runs.reshape(m, -1)
            self.kpairs = wk.shape[1] // 2
            packed = np.zeros((self.mpad, self.kpairs * 2), np.int16)
            packed[:m] = wk
            # [p][m][j] = pair p's element j for channel m: the operand order of a pairwise multiply-add
            self.weights = np.ascontiguousarray(packed.reshape(self.mpad, self.kpairs, 2).transpose(1, 0, 2))
        self.bias, self.mult, self.shift = (np.ascontiguousarray(np.broadcast_to(np.asarray(k[key], np.int64), (m,)))
                                            for key in ("bias", "M", "shift"))
        self.by_double = requant_exact_in_float64(c["acc_bits"], self.mult, self.shift, c["zp_out"], c["lo"])
        scale, offset, _ = float_constants(self.bias, self.mult, self.shift, c["zp_out"], c["lo"], m)
        self.scale, self.offset = np.tile(scale, TILE), np.tile(offset, TILE)  # a tile's outputs in one loop


#: by the ids of a layer's weights and config, which each entry keeps alive (so no id is reused)
_PLANS: dict[tuple[int, int], tuple[object, object, _Plan | None]] = {}


def _plan(layer) -> _Plan | None:
    w, c = layer.consts.get("weights"), layer.config
    hit = _PLANS.get((id(w), id(c)))
    if hit is not None and hit[0] is w and hit[1] is c:
        return hit[2]
    plan = _Plan(layer) if applies(layer) else None
    if len(_PLANS) > 512:
        _PLANS.clear()
    _PLANS[id(w), id(c)] = (w, c, plan)
    return plan


def applies(layer) -> bool:
    """Whether the kernel computes this Conv layer exactly: group 1 or depthwise (one filter per
    channel, group = channels in = channels out), 1D/2D, |weights| < 2^15, every partial sum inside
    int32 (``emu_dot_bits``), the accumulator narrow enough for int64 requantisation, and constants
    that ``arith.requantize`` accepts (else numpy runs, and raises)."""
    c, k = layer.config, layer.consts
    if len(c.get("kernel", ())) not in (1, 2) or not all(key in k for key in ("weights", "bias", "M", "shift")):
        return False
    w, M, shift, bias = (np.asarray(k[key]) for key in ("weights", "M", "shift", "bias"))
    m = w.shape[0]
    if c.get("group") != 1 and not (c.get("group") == m == c["in_shape"][-1] and w.ndim > 2 and w.shape[1] == 1):
        return False
    if (w.dtype.kind not in "iu" or w.size == 0 or int(w.min()) < -_I16.max or int(w.max()) > _I16.max
            or c.get("emu_dot_bits", c.get("dot_bits", 99)) > 32 or c.get("acc_bits", 99) > arith.MAX_ACC_BITS
            or not _I16.min <= c["zp_in"] <= _I16.max or c["lo"] > c["hi"] or max(abs(c["lo"]), abs(c["hi"])) >= 2**31):
        return False
    for v in (M, shift, bias):
        if v.dtype.kind not in "iu" or v.ndim > 1 or v.size not in (1, m):
            return False
    return (int(M.min()) >= 0 and int(M.max()) < 1 << arith.MULT_BITS and int(shift.min()) >= arith.MIN_SHIFT
            and int(shift.max()) <= arith.MAX_SHIFT)


def _pool_geometry(pool, conv_out: list[int]):
    """(kernel, strides, dilations) of a fused MaxPool whose windows lie inside the conv's output,
    or None."""
    if pool is None:
        return [1] * len(conv_out), [1] * len(conv_out), [1] * len(conv_out)
    kernel, strides, dil, out = pool["kernel"], pool["strides"], pool["dilations"], pool["out_shape"][1:-1]
    if any(pool["pads"]) or len(kernel) != len(conv_out):
        return None
    if any((o - 1) * s + (k - 1) * d >= size for o, s, k, d, size in zip(out, strides, kernel, dil, conv_out)):
        return None
    return kernel, strides, dil


def conv_int(layer, x: np.ndarray, pool=None) -> np.ndarray | None:
    """The Conv layer's requantised outputs from its input integers ``x`` (N, *spatial, C), max-
    pooled first by ``pool`` (a MaxPool layer's config, or None) — or None when the kernel does not
    apply (see :func:`applies`; a pool with padding or windows beyond the conv output; input
    values beyond int16). A pool must only be given where max and requantisation commute (the
    emulator's fusion rule)."""
    if x.dtype.kind not in "iu" or x.size == 0:
        return None
    if (x.dtype.itemsize > 2 or x.dtype == np.uint16) and not (_I16.min <= int(x.min()) and int(x.max()) <= _I16.max):
        return None  # held in a wider dtype: fine while the values fit int16
    lib = library()
    plan = _plan(layer) if lib is not None else None
    if plan is None:
        return None
    c = layer.config
    conv_out = list(c["out_shape"][1:-1])
    pg = _pool_geometry(pool, conv_out)
    if pg is None:
        return None
    pk, ps, pd = pg
    out = list(pool["out_shape"][1:-1]) if pool is not None else conv_out
    kernel, strides, dil, pads = c["kernel"], c["strides"], c["dilations"], c["pads"]
    if len(kernel) == 1:  # 1D as 2D with a unit height
        x = x[:, None]
        kernel, strides, dil, conv_out, out = [1, *kernel], [1, *strides], [1, *dil], [1, *conv_out], [1, *out]
        pads, pk, ps, pd = [0, pads[0], 0, pads[1]], [1, *pk], [1, *ps], [1, *pd]
    n, h, w, ch = x.shape
    shape = (n, h + pads[0] + pads[2], w + pads[1] + pads[3], ch)
    # one element of slack: the last pair of an odd run may read past the last image (zero weight)
    buf = np.full(math.prod(shape) + 1, c["zp_in"], np.int16)
    xp = buf[:-1].reshape(shape)
    xp[:, pads[0]:pads[0] + h, pads[1]:pads[1] + w] = x
    g = _Geometry(h=shape[1], w=shape[2], c=ch, kh=kernel[0], kw=kernel[1], sh=strides[0], sw=strides[1],
                  dh=dil[0], dw=dil[1], ph=pk[0], pw=pk[1], psh=ps[0], psw=ps[1], pdh=pd[0], pdw=pd[1],
                  oh=out[0], ow=out[1], m=plan.m, kpairs=plan.kpairs, mpad=plan.mpad, zp=c["zp_out"], lo=c["lo"],
                  hi=c["hi"], by_double=int(plan.by_double), depthwise=int(plan.depthwise))
    y = np.empty((n, out[0], out[1], plan.m), np.int32)
    off = np.empty(plan.kpairs, np.int64)
    best, acc = np.empty(TILE * plan.mpad, np.int32), np.empty(plan.mpad, np.int32)
    lib.fa_conv_pool_requant(xp.ctypes.data, n, plan.weights.ctypes.data, plan.bias.ctypes.data,
                             plan.mult.ctypes.data, plan.shift.ctypes.data, plan.scale.ctypes.data,
                             plan.offset.ctypes.data, ctypes.byref(g), off.ctypes.data, best.ctypes.data,
                             acc.ctypes.data, y.ctypes.data)
    y = y.astype(storage_dtype(c["lo"], c["hi"]), copy=False)
    return y.reshape(n, out[1], plan.m) if len(c["kernel"]) == 1 else y
