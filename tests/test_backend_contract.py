"""One contract for every backend: the emulator's integers bit for bit, float outputs, batching,
input validation, timeouts, close. A backend that cannot run here is skipped with its reason.

Each backend gets mnist_cnn compiled with the generator it runs (none for the emulator).
"""
from __future__ import annotations

import time

import numpy as np
import pytest

import fpga_accel
from fpga_accel.errors import InputError
from fpga_accel.runtime import SessionError, backend_names, get_backend
from models import data

BACKENDS = ["emulator", "csim", "opencl", "pynq"]
MODEL = "mnist_cnn"


def _generators(name: str) -> list:
    """The generators whose output backend ``name`` runs (import errors skip the backend)."""
    try:
        if name == "csim":
            from fpga_accel.codegen.hls_project import generate_hls
            return [generate_hls]
        if name == "opencl":
            from fpga_accel.codegen.opencl import generate_opencl
            return [generate_opencl]
        if name == "pynq":
            from fpga_accel.codegen.hls_project import generate_hls
            return [generate_hls]
    except ImportError as e:
        pytest.skip(f"backend '{name}': its generator is not available ({e})")
    return []


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    """name -> bundle, compiled once per module."""
    cache = {}

    def get(name: str):
        if name not in cache:
            out = tmp_path_factory.mktemp(f"contract_{name}") / f"{MODEL}.fpga"
            cache[name] = fpga_accel.compile(data.model_path(MODEL), out, calib=data.load_calib(MODEL),
                                             progress=False, generators=_generators(name))
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


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request, compiled):
    """(name, bundle) of a backend that can run here."""
    name = request.param
    if name not in backend_names():
        pytest.skip(f"backend '{name}' is not installed (no fpga_accel/runtime/backends/{name}.py)")
    bundle = compiled(name)
    if name == "pynq":  # no board here: the IP's model, and a .bit/.hwh pair as a Vivado build leaves them
        from pynq_util import place_overlay

        request.getfixturevalue("board_model")
        place_overlay(bundle)
    why = get_backend(name).unavailable(bundle)
    if why is not None:
        pytest.skip(f"backend '{name}' unavailable: {why}")
    if name == "opencl":  # a CPU device may be listed yet unable to compile for this processor
        from test_opencl_ops import open_session

        open_session(bundle).close()
    return name, bundle


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
