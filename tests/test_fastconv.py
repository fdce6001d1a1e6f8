"""The emulator's native convolution (``emulator/fastconv.c``) gives exactly the contract's integers.

- Random Conv layers (group 1 and depthwise, 1D/2D, 1–40 channels in and out, kernels, strides,
  dilations, pads, 2–16 bit types, values at the extremes), alone and with a fused MaxPool, and
  the int64 requantisation where float64 is not exact, against a plain int64 reference written
  here (windows, sums, max, ``arith.requantize``), on the vectorised (AVX2) build and on the
  portable C build.
- Where it must not run (input values beyond int16, weights of -2^15, sums beyond int32, grouped
  convolutions other than depthwise, pools with padding, ``FPGA_ACCEL_NATIVE=0``) it declines
  and numpy runs.
- A compiler that fails gives one warning and the numpy path; no compiler, the numpy path.
- Whole example models: native and numpy runs give the same integers.
"""
import itertools
import platform
import shutil
import subprocess

import numpy as np
import pytest

import fpga_accel
from fpga_accel.compiler import load_qmodel
from fpga_accel.emulator import run_layers
from fpga_accel.emulator import fastconv
from fpga_accel.emulator.fastint import storage_dtype, weight_dot_bits
from fpga_accel.quant import arith
from fpga_accel.quant.qmodel import QLayer
from models import data


def fresh_library(monkeypatch, tmp_path, flags=None, cc=None):
    """Forget the loaded kernel; build into ``tmp_path`` with ``flags`` / ``$CC`` if given."""
    monkeypatch.setattr(fastconv, "_loaded", {})
    monkeypatch.setattr(fastconv, "_PLANS", {})
    monkeypatch.setenv("FPGA_ACCEL_CACHE", str(tmp_path))
    monkeypatch.delenv(fastconv.ENV, raising=False)
    if flags is not None:
        monkeypatch.setattr(fastconv, "FLAGS", flags)
    if cc is not None:
        monkeypatch.setenv("CC", cc)


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    """The kernel as built for this CPU (AVX2 where it has it), and the plain C build (-O2)."""
    out = {}
    for flavour, flags in (("native-flags", None), ("portable", [["-O2"]])):
        with pytest.MonkeyPatch.context() as mp:
            fresh_library(mp, tmp_path_factory.mktemp(flavour), flags=flags)
            out[flavour] = fastconv.library()
    return out


@pytest.fixture(params=["native-flags", "portable"])
def kernel(request, builds, monkeypatch):
    if builds[request.param] is None:
        pytest.skip("no C compiler builds the native convolution here")
    monkeypatch.setattr(fastconv, "_loaded", {"lib": builds[request.param]})
    monkeypatch.setattr(fastconv, "_PLANS", {})
    monkeypatch.delenv(fastconv.ENV, raising=False)
    return request.param


def test_builds_use_both_code_paths(builds):
    """On x86-64 with AVX2 the default build multiplies with vpmaddwd and the -O2 build does not, so
    the parametrised tests below run both the vector and the plain C code."""
    if platform.machine() not in ("x86_64", "AMD64") or shutil.which("objdump") is None:
        pytest.skip("needs an x86-64 machine and objdump")
    if None in builds.values():
        pytest.skip("no C compiler builds the native convolution here")
    if "avx2" not in fastconv._cpu_flags().split():
        pytest.skip("this CPU has no AVX2")
    code = {k: subprocess.run(["objdump", "-d", lib._name], capture_output=True, text=True, check=True).stdout
            for k, lib in builds.items()}
    assert "vpmaddwd" in code["native-flags"] or "vpdpwssd" in code["native-flags"]
    if "vpmaddwd" in code["portable"]:
        pytest.skip("this compiler targets AVX2 by default: the plain C loops are not exercised here")


# --- the plain int64 reference --------------------------------------------------------------------

def reference(layer, x, pool=None):
    """requantize(max over the pool window of (Σ window · weights + bias)) in int64, by loops over
    the kernel taps."""
    c, k = layer.config, layer.consts
    w = k["weights"].astype(np.int64)
    n_sp = len(c["kernel"])
    pads = c["pads"]
    xp = np.pad(x.astype(np.int64), [(0, 0)] + [(pads[d], pads[d + n_sp]) for d in range(n_sp)] + [(0, 0)],
                constant_values=c["zp_in"])
    out = c["out_shape"][1:-1]
    acc = np.zeros((x.shape[0], *out, w.shape[0]), np.int64)
    for tap in itertools.product(*map(range, c["kernel"])):
        idx = tuple(slice(t * d, t * d + (o - 1) * s + 1, s)
                    for t, d, o, s in zip(tap, c["dilations"], out, c["strides"]))
        win = xp[(slice(None), *idx, slice(None))]  # (N, *out, C)
        if c["group"] == 1:
            acc += win @ w[(slice(None), slice(None), *tap)].T
        else:  # depthwise: channel m by filter m
            acc += win * w[(slice(None), 0, *tap)]
    acc += k["bias"]
    if pool is not None:
        pout = pool["out_shape"][1:-1]
        best = None
        for tap in itertools.product(*map(range, pool["kernel"])):
            idx = tuple(slice(t * d, t * d + (o - 1) * s + 1, s)
                        for t, d, o, s in zip(tap, pool["dilations"], pout, pool["strides"]))
            v = acc[(slice(None), *idx, slice(None))]
            best = v if best is None else np.maximum(best, v)
        acc = best
    return arith.requantize(acc, k["M"], k["shift"], c["zp_out"], c["lo"], c["hi"])


# --- random layers ---------------------------------------------------------------------------------

def qrange(bits, signed):
    return (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)


def random_layer(r, n_sp, C, M, in_bits, in_signed, w_bits, out_signed, depthwise=False):
    kernel = [int(v) for v in r.integers(1, 5, n_sp)]
    strides = [int(v) for v in r.integers(1, 4, n_sp)]
    dil = [int(v) for v in r.integers(1, 3, n_sp)]
    pads = [int(v) for v in r.integers(0, 3, 2 * n_sp)]
    size = [int((k - 1) * d + 1 + r.integers(0, 9)) for k, d in zip(kernel, dil)]
    out = [(s + pads[i] + pads[i + n_sp] - (k - 1) * d - 1) // st + 1
           for i, (s, k, d, st) in enumerate(zip(size, kernel, dil, strides))]
    in_lo, in_hi = qrange(in_bits, in_signed)
    wmax = (1 << (w_bits - 1)) - 1
    if depthwise:
        C = M
    w = r.integers(-wmax, wmax + 1, (M, 1 if depthwise else C, *kernel))
    w.flat[:2] = -wmax, wmax
    lo_w, hi_w = np.minimum(w * in_lo, w * in_hi), np.maximum(w * in_lo, w * in_hi)
    reach = int(max(np.abs(lo_w.reshape(M, -1).sum(1)).max(), np.abs(hi_w.reshape(M, -1).sum(1)).max()))
    bias = r.integers(-reach - 1, reach + 2, M)
    zp_in = int(r.integers(in_lo, in_hi + 1))
    out_lo, out_hi = qrange(int(r.integers(2, 17)), out_signed)
    lo = int(r.integers(out_lo, out_hi + 1)) if r.random() < 0.3 else out_lo
    zp_out = int(r.integers(out_lo, out_hi + 1))
    # multipliers that map the reach onto a few times the output range, so clamping and rounding both occur
    shift = r.integers(1, 40, M) if r.random() < 0.5 else np.array([int(r.integers(1, 40))])
    target = (out_hi - out_lo + 1) * r.uniform(0.5, 4, M) / max(1, reach)
    M_ = np.clip(np.round(target * 2.0 ** shift), 0, (1 << arith.MULT_BITS) - 1).astype(np.int64)
    dot_bits = weight_dot_bits(w, in_lo, in_hi)
    acc_bits = arith.signed_bits(-reach - abs(int(bias.min())), reach + abs(int(bias.max())))
    config = {"kernel": kernel, "strides": strides, "dilations": dil, "pads": pads, "group": M if depthwise else 1,
              "in_shape": [1, *size, C], "out_shape": [1, *out, M], "zp_in": zp_in, "zp_out": zp_out, "lo": lo,
              "hi": out_hi, "dot_bits": dot_bits, "acc_bits": acc_bits, "emu_dot_bits": dot_bits}
    consts = {"weights": w.astype(np.int16 if w_bits > 8 else np.int8), "bias": bias.astype(np.int64), "M": M_,
              "shift": shift.astype(np.int64)}
    x_dtype = storage_dtype(in_lo, in_hi)
    return QLayer("conv", "Conv", ["x"], ["y"], config, consts), (in_lo, in_hi, x_dtype)


def random_pool(r, out):
    n_sp = len(out)
    for _ in range(20):
        k = [int(v) for v in r.integers(1, 4, n_sp)]
        s = [int(v) for v in r.integers(1, 4, n_sp)]
        d = [int(v) for v in r.integers(1, 3, n_sp)]
        if all((kk - 1) * dd < o for kk, dd, o in zip(k, d, out)):
            po = [(o - (kk - 1) * dd - 1) // ss + 1 for o, kk, dd, ss in zip(out, k, d, s)]
            return {"kernel": k, "strides": s, "dilations": d, "pads": [0] * 2 * n_sp, "out_shape": [1, *po, 0]}
    return None


def random_input(r, layer, rng, n):
    lo, hi, dt = rng
    x = r.integers(lo, hi + 1, (n, *layer.config["in_shape"][1:]))
    x.flat[:2] = lo, hi
    if r.random() < 0.2:  # every value at one extreme: the largest sums
        x[:] = hi if r.random() < 0.5 else lo
    return x.astype(dt)


CASES = 120


@pytest.mark.parametrize("seed", range(CASES))
def test_random_layers_equal_reference(kernel, seed):
    r = np.random.default_rng(9100 + seed)
    n_sp = 1 if seed % 5 == 0 else 2
    C = int(r.choice([1, 2, 3, 5, 8, 16, 17]))
    M = int(r.choice([1, 3, 8, 9, 16, 24, 33, 40]))
    in_bits = int(r.integers(2, 17))
    in_signed = in_bits == 16 or bool(r.random() < 0.5)  # unsigned 16-bit is wider than int16
    w_bits = int(r.integers(2, 17))
    layer, rng = random_layer(r, n_sp, C, M, in_bits, in_signed, w_bits, bool(r.random() < 0.5), seed % 4 == 3)
    x = random_input(r, layer, rng, int(r.integers(1, 6)))
    pool = random_pool(r, layer.config["out_shape"][1:-1]) if r.random() < 0.6 else None
    if pool is not None:
        pool["out_shape"][-1] = M
    expect = reference(layer, x, pool)
    if layer.config["emu_dot_bits"] > 32:
        assert fastconv.conv_int(layer, x, pool) is None
        return
    got = fastconv.conv_int(layer, x, pool)
    assert got is not None, "the kernel declined a layer it computes exactly"
    assert got.dtype == storage_dtype(layer.config["lo"], layer.config["hi"])
    np.testing.assert_array_equal(got, expect)


def test_random_layers_reach_every_branch():
    """The random cases run both requantisation forms, multi-block channel counts, 1D, pools."""
    seen = set()
    for seed in range(CASES):
        r = np.random.default_rng(9100 + seed)
        n_sp = 1 if seed % 5 == 0 else 2
        C = int(r.choice([1, 2, 3, 5, 8, 16, 17]))
        M = int(r.choice([1, 3, 8, 9, 16, 24, 33, 40]))
        in_bits = int(r.integers(2, 17))
        in_signed = in_bits == 16 or bool(r.random() < 0.5)
        w_bits = int(r.integers(2, 17))
        layer, _ = random_layer(r, n_sp, C, M, in_bits, in_signed, w_bits, bool(r.random() < 0.5), seed % 4 == 3)
        if fastconv.applies(layer):
            plan = fastconv._Plan(layer)
            seen.add(("double", plan.by_double))
            seen.add(("blocks", min(plan.mpad // 8, 5)))
            seen.add(("1d", n_sp == 1))
            seen.add(("depthwise", plan.depthwise))
    assert {("double", True), ("1d", True), ("1d", False)} <= seen
    assert {("depthwise", True), ("depthwise", False)} <= seen
    assert {("blocks", b) for b in (1, 2, 3, 5)} <= seen


# --- where the kernel declines ---------------------------------------------------------------------

def simple_layer(**changes):
    r = np.random.default_rng(0)
    layer, rng = random_layer(r, 2, 3, 8, 8, False, 8, False)
    layer.config.update(changes.pop("config", {}))
    layer.consts.update(changes)
    return layer, random_input(r, layer, rng, 2)


def test_declines_what_it_cannot_compute_exactly(kernel):
    layer, x = simple_layer()
    assert fastconv.conv_int(layer, x) is not None
    assert fastconv.conv_int(layer, x.astype(np.int64)) is not None  # a wider dtype holding int16 values
    wide = x.astype(np.uint16)
    wide.flat[0] = 40000
    assert fastconv.conv_int(layer, wide) is None  # values beyond int16
    assert fastconv.conv_int(layer, x.astype(np.float32)) is None
    w = layer.consts["weights"].astype(np.int16)
    w.flat[0] = -(1 << 15)  # a pair of (-2^15)·(-2^15) products would overflow int32
    assert fastconv.conv_int(simple_layer(weights=w)[0], x) is None
    assert fastconv.conv_int(simple_layer(config={"emu_dot_bits": 33})[0], x) is None
    assert fastconv.conv_int(simple_layer(config={"group": 3})[0], x) is None
    assert fastconv.conv_int(simple_layer(config={"acc_bits": arith.MAX_ACC_BITS + 1})[0], x) is None
    assert fastconv.conv_int(simple_layer(M=np.array([-1] * 8))[0], x) is None  # numpy raises for it
    padded_pool = {"kernel": [2, 2], "strides": [2, 2], "dilations": [1, 1], "pads": [0, 0, 1, 1],
                   "out_shape": [1, 1, 1, 8]}
    assert fastconv.conv_int(layer, x, padded_pool) is None


@pytest.mark.parametrize("depthwise", [False, True])
def test_int64_requantisation_where_float64_is_not_exact(kernel, depthwise):
    """A large shift with a wide output range leaves float64's exact range: the int64 form runs."""
    r = np.random.default_rng(5)
    layer, rng = random_layer(r, 2, 6, 6, 12, True, 12, True, depthwise)
    layer.consts["M"] = np.full(6, (1 << arith.MULT_BITS) - 1)
    layer.consts["shift"] = np.arange(32, 50, 3)  # (|zp_out − lo| + 1)·2^shift passes 2^53 from 38 on
    layer.config.update(zp_out=0, lo=-(1 << 15), hi=(1 << 15) - 1)
    plan = fastconv._Plan(layer)
    assert not plan.by_double and plan.depthwise == depthwise
    x = random_input(r, layer, rng, 3)
    np.testing.assert_array_equal(fastconv.conv_int(layer, x), reference(layer, x))


def test_disabled_by_environment(monkeypatch):
    layer, x = simple_layer()
    monkeypatch.setenv(fastconv.ENV, "0")
    assert fastconv.library() is None
    assert fastconv.conv_int(layer, x) is None


def test_failing_compiler_warns_once_and_numpy_runs(monkeypatch, tmp_path):
    fresh_library(monkeypatch, tmp_path, cc="false")
    layer, x = simple_layer()
    with pytest.warns(RuntimeWarning, match="native convolution could not be built"):
        assert fastconv.conv_int(layer, x) is None
    assert fastconv.conv_int(layer, x) is None  # tried once per process: no second build, no warning
    assert not list(tmp_path.rglob("*.so"))  # nothing half-written left behind
    assert not list(tmp_path.rglob("*.tmp"))


def test_no_compiler_means_numpy(monkeypatch, tmp_path, recwarn):
    fresh_library(monkeypatch, tmp_path, cc=str(tmp_path / "no-such-cc"))
    layer, x = simple_layer()
    assert fastconv.conv_int(layer, x) is None
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


def test_library_is_cached_per_source(monkeypatch, tmp_path):
    fresh_library(monkeypatch, tmp_path)
    if fastconv.library() is None:
        pytest.skip("no C compiler builds the native convolution here")
    libs = list((tmp_path / "native").glob("fastconv-*.so"))
    assert len(libs) == 1
    monkeypatch.setattr(fastconv, "_loaded", {})
    before = libs[0].stat().st_mtime_ns
    assert fastconv.library() is not None
    assert libs[0].stat().st_mtime_ns == before  # loaded again, not rebuilt


# --- whole models ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["mnist_cnn", "digits_cnn", "resnet_ds", "mnist_cnn_qdq"])
def test_models_native_equals_numpy(monkeypatch, tmp_path, name):
    bundle = fpga_accel.compile(data.model_path(name), tmp_path / f"{name}.fpga", calib=data.load_calib(name),
                                progress=False, generators=())
    x, _ = data.load_test(name)
    with fpga_accel.Session(bundle, backend="emulator") as s:
        q_in = s.hardware_inputs(x[:300])
    qm = load_qmodel(bundle)
    monkeypatch.delenv(fastconv.ENV, raising=False)
    if fastconv.library() is None:
        pytest.skip("no C compiler builds the native convolution here")
    native = run_layers(qm, q_in, threads=2)
    assert any(fastconv.applies(layer) for layer in qm.layers if layer.op_type == "Conv")
    monkeypatch.setenv(fastconv.ENV, "0")
    plain = run_layers(qm, q_in, threads=2)
    for k in plain:
        assert native[k].dtype == plain[k].dtype
        np.testing.assert_array_equal(native[k], plain[k])
