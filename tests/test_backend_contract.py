"""One contract for every backend: the emulator's integers bit for bit, float outputs, batching,
input validation, timeouts, close. A backend that cannot run here is skipped with its reason.

The backends are the modules of ``fpga_accel/runtime/backends/`` (:func:`backend_names`): a new
backend file is run here without editing this suite. Each gets mnist_cnn compiled with the
generators it runs (every generator for a backend :data:`GENERATORS` does not name) and, where
:data:`PREPARE` says so, its setting: pynq runs against a register- and DMA-level model of the
streaming IP, f2 (compiled for aws-f2, :data:`BOARDS`) against a register/memory model of the F2
card behind a stand-in libfpga_mgmt, opencl on a CPU OpenCL device (PoCL), native on the C++ host
of ``host/`` (built with CMake into build/host, as .ci/run does).
"""
from __future__ import annotations

import importlib
import time
from pathlib import Path

import numpy as np
import pytest

import fpga_accel
from fpga_accel.errors import InputError
from fpga_accel.runtime import Backend, SessionError, backend_names, get_backend
from fpga_accel.runtime import backends as backends_pkg
from models import data

#: every backend installed: one module of fpga_accel/runtime/backends/ each
BACKENDS = backend_names()
MODEL = "mnist_cnn"
HLS = "fpga_accel.codegen.hls_project:generate_hls"
OPENCL = "fpga_accel.codegen.opencl:generate_opencl"
#: the generators whose output a backend runs; a backend not named here gets every generator
GENERATORS = {"emulator": [], "csim": [HLS], "pynq": [HLS], "opencl": [OPENCL], "native": [OPENCL]}
#: the board a backend's bundle is compiled for, where it is not compile's default
BOARDS = {"f2": "aws-f2"}


def _generators(name: str) -> list | None:
    """The generator callables for backend ``name`` (None: compile's own list); an import error
    skips the backend."""
    specs = GENERATORS.get(name)
    if specs is None:
        return None
    try:
        return [getattr(importlib.import_module(m), f) for m, _, f in (s.partition(":") for s in specs)]
    except ImportError as e:
        pytest.skip(f"backend '{name}': its generator is not available ({e})")


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    """name -> bundle, compiled once per module."""
    cache = {}

    def get(name: str):
        if name not in cache:
            out = tmp_path_factory.mktemp(f"contract_{name}") / f"{MODEL}.fpga"
            gens = _generators(name)
            extra = {} if gens is None else {"generators": gens}
            if name in BOARDS:
                extra["board"] = BOARDS[name]
            cache[name] = fpga_accel.compile(data.model_path(MODEL), out, calib=data.load_calib(MODEL),
                                             progress=False, **extra)
        return cache[name]

    return get


@pytest.fixture(scope="module", autouse=True)
def csim_cache(request, tmp_path_factory):
    """C-simulation libraries in pytest's cache directory: built once, reused by later test runs."""
    mp = pytest.MonkeyPatch()
    cache = getattr(request.config, "cache", None)  # None under -p no:cacheprovider
    mp.setenv("FPGA_ACCEL_CACHE", str(cache.mkdir("fpga-accel") if cache else tmp_path_factory.mktemp("fa_cache")))
    yield
    mp.undo()


@pytest.fixture(scope="module")
def images():
    return data.load_test(MODEL)[0][:64]


@pytest.fixture(scope="module")
def board_model():
    """``import pynq`` gives tests/fakes' pynq, whose board is a register- and DMA-level model of the
    generated streaming IP (tests/test_pynq.py tests the driver against it in detail)."""
    from pynq_util import drop_pynq, use_fake_pynq

    mp = pytest.MonkeyPatch()
    yield use_fake_pynq(mp)
    drop_pynq()
    mp.undo()


def _on_the_board_model(request, bundle) -> None:
    """No board here: the IP's model, and a .bit/.hwh pair as a Vivado build leaves them."""
    from pynq_util import place_overlay

    request.getfixturevalue("board_model")
    place_overlay(bundle)


def _host_built(request, bundle) -> None:
    """host/ built with CMake (a no-op when up to date); skips when its OpenCL headers or loader
    are missing."""
    from test_native_host import built_host

    built_host()


@pytest.fixture(scope="module")
def f2_card():
    """libfpga_mgmt is tests/fakes' stand-in, its card a register/memory model of fa_kernel in the F2
    custom logic (tests/test_runtime_f2.py tests the backend against it in detail)."""
    from fpga_accel.runtime.f2_driver import libs

    mp = pytest.MonkeyPatch()
    mp.setenv("FA_FPGA_MGMT_LIB", "/stand-in/libfpga_mgmt.so")
    made = {}
    mp.setattr(libs, "load", lambda path=None: libs.bind(made["lib"]))
    yield made
    mp.undo()


def _on_the_f2_card_model(request, bundle) -> None:
    """No F2 instance here: the card's model, and the AFI record an F2 build leaves."""
    import json

    from fakes.f2_card import F2Card, FakeFpgaMgmt

    from fpga_accel.bundle_model import load_qmodel

    made = request.getfixturevalue("f2_card")
    made["lib"] = FakeFpgaMgmt(F2Card(bundle.manifest, load_qmodel(bundle)))
    (bundle.path / "bitstream").mkdir(exist_ok=True)
    (bundle.path / "bitstream/afi.json").write_text(json.dumps({"agfi_id": "agfi-0fa4f2000000000f"}))


#: what a backend needs before its availability is asked, beyond its bundle
PREPARE = {"pynq": _on_the_board_model, "native": _host_built, "f2": _on_the_f2_card_model}


def _can_compile_here(name: str, bundle) -> None:
    """A CPU OpenCL device may be listed yet unable to compile for this processor: open once."""
    if name == "opencl":
        from test_opencl_ops import open_session

        open_session(bundle).close()


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request, compiled):
    """(name, bundle) of a backend that can run here."""
    name = request.param
    bundle = compiled(name)
    if name in PREPARE:
        PREPARE[name](request, bundle)
    why = get_backend(name).unavailable(bundle)
    if why is not None:
        pytest.skip(f"backend '{name}' unavailable: {why}")
    _can_compile_here(name, bundle)
    return name, bundle


def test_every_backend_module_is_in_the_contract():
    """Each module of runtime/backends/ (but base and private helpers) is a backend named like its
    file, and the contract runs on every one of them."""
    folder = Path(backends_pkg.__file__).parent
    files = sorted(p.stem for p in folder.glob("*.py") if p.stem != "base" and not p.stem.startswith("_"))
    assert files == backend_names()
    for name in files:
        module = importlib.import_module(f"{backends_pkg.__name__}.{name}")
        assert hasattr(module, "BACKEND"), f"{name}.py declares no BACKEND (name a helper module _{name}.py)"
        cls = get_backend(name)
        assert isinstance(cls, type) and issubclass(cls, Backend) and cls.name == name, name
    assert BACKENDS == files, "the contract's backends are not the folder's modules"
    assert set(GENERATORS) | set(PREPARE) | set(BOARDS) <= set(files), "entries for backends that no longer exist"


@pytest.fixture(scope="module")
def reference(backend, images):
    """The emulator on the backend's bundle: raw inputs (test images and random integers over the
    whole input range) and its raw and float answers."""
    _, bundle = backend
    with fpga_accel.Session(bundle, backend="emulator") as em:
        t = em.qmodel.inputs[0]
        q = em.hardware_inputs(images)
        rng = np.random.default_rng(7)
        qt = t.qparams.qtype
        noise = {t.name: rng.integers(qt.min, qt.max + 1, (32, *t.shape[1:])).astype(qt.dtype)}
        return {"q": q, "noise": noise, "raw": em.run(q, raw=True), "raw_noise": em.run(noise, raw=True),
                "float": em.run(images)}


@pytest.fixture(scope="module")
def session(backend):
    name, bundle = backend
    s = fpga_accel.Session(bundle, backend=name, timeout=600)
    yield s
    s.close()


def _equal(a: dict, b: dict) -> None:
    assert sorted(a) == sorted(b)
    for k, x in a.items():
        assert x.dtype == b[k].dtype and x.shape == b[k].shape, k
        np.testing.assert_array_equal(x, b[k], err_msg=k)


def test_raw_integers_equal_the_emulator(session, reference):
    _equal(session.run(reference["q"], raw=True), reference["raw"])
    _equal(session.run(reference["noise"], raw=True), reference["raw_noise"])


def test_float_outputs_equal_the_emulator(session, reference, images):
    got = session.run(images)
    _equal(got, reference["float"])
    assert all(v.dtype == np.float32 for v in got.values())


@pytest.mark.parametrize("n,chunks", [(1, [1]), (7, [3, 1, 3]), (64, [5, 11, 1, 47]), (64, [64])])
def test_any_batch_split_gives_the_same_answer(backend, reference, images, n, chunks):
    name, bundle = backend
    want = {k: v[:n] for k, v in reference["float"].items()}
    for size in sorted(set(chunks)):
        with fpga_accel.Session(bundle, backend=name, batch_size=size, timeout=600) as s:
            _equal(s.run(images[:n]), want)
    # odd submissions, each its own run, joined in order
    with fpga_accel.Session(bundle, backend=name, timeout=600) as s:
        starts = np.cumsum([0] + chunks[:-1])
        futures = [s.submit(images[a:a + c]) for a, c in zip(starts, chunks)]
        parts = [f.result(timeout=600) for f in futures]
        assert s.stats.calls == len(chunks) and s.stats.images == n
    _equal({k: np.concatenate([p[k] for p in parts]) for k in want}, want)


@pytest.mark.parametrize("make,words", [
    (lambda x: x[:, 0], ["input 'input' has shape (4, 28, 28)"]),
    (lambda x: np.where(np.arange(x.size).reshape(x.shape) == 5, np.nan, x), ["contains 1 NaN/Inf"]),
    (lambda x: {"image": x}, ["unexpected ['image']"]),
    (lambda x: x[:0], ["holds no samples"]),
])
def test_bad_inputs_fail_before_the_backend(session, images, make, words):
    calls = session.stats.calls
    with pytest.raises(InputError) as e:
        session.run(make(images[:4]))
    assert all(w in str(e.value) for w in words) and session.stats.calls == calls


def test_bad_raw_inputs_fail_before_the_backend(session, reference):
    t = session.qmodel.inputs[0]
    q = reference["q"][t.name][:3]
    with pytest.raises(InputError, match=rf"raw input '{t.name}' has dtype float32"):
        session.run(q.astype(np.float32), raw=True)
    if t.qparams.qtype.min > -(1 << 15):
        with pytest.raises(InputError, match=rf"raw input '{t.name}' has values in \[.*\], outside"):
            session.run(np.full(q.shape, t.qparams.qtype.min - 1, np.int32), raw=True)


def test_wait_honours_its_timeout(session, reference):
    """``wait(handle, timeout)`` returns the right answer or raises TimeoutError in time, never later."""
    b, q = session.backend, reference["q"]
    handle = b.start(q)
    t0 = time.monotonic()
    try:
        got = b.wait(handle, 1e-4)
    except TimeoutError:
        assert time.monotonic() - t0 < 2
        got = b.wait(handle, 600)  # the same batch can still be collected
    for k, v in reference["raw"].items():
        np.testing.assert_array_equal(np.asarray(got[k]), v)


def test_close_releases_and_refuses_later_runs(backend, images, reference):
    name, bundle = backend
    s = fpga_accel.Session(bundle, backend=name, timeout=600)
    _equal(s.run(images[:2]), {k: v[:2] for k, v in reference["float"].items()})
    pending = s.submit(images[:3])
    s.close()
    s.close()
    try:  # a run already submitted either completed or reports the close
        _equal(pending.result(timeout=600), {k: v[:3] for k, v in reference["float"].items()})
    except SessionError as e:
        assert "closed" in str(e)
    with pytest.raises(SessionError, match="is closed"):
        s.run(images[:1])
    with fpga_accel.Session(bundle, backend=name, timeout=600) as again:  # the device is free again
        _equal(again.run(images[:1]), {k: v[:1] for k, v in reference["float"].items()})
