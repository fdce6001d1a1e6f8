"""`fpga_accel.Session`: batching, raw integer mode, input validation, stats, asynchronous runs,
timeouts, lifetime, backends."""
import threading
import time
from typing import ClassVar

import numpy as np
import pytest

import fpga_accel
from fpga_accel.errors import InputError
from fpga_accel.quant import dequantize, quantize
from fpga_accel.runtime import Backend, RunFuture, SessionError, SessionTimeout, backend_names
from fpga_accel.runtime import session as session_mod
from fpga_accel.runtime.backends.base import ThreadedBackend
from fpga_accel.runtime.backends.emulator import EmulatorBackend
from models import data


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    p = tmp_path_factory.mktemp("s") / "mnist.fpga"
    return fpga_accel.compile(data.model_path("mnist_cnn"), p, calib=data.HERE / "mnist_cnn" / "calib.npz",
                              progress=False)


@pytest.fixture(scope="module")
def test_x():
    return data.load_test("mnist_cnn")[0]


@pytest.fixture(scope="module")
def singles(bundle, test_x):
    """The first 300 test images run one at a time."""
    with fpga_accel.Session(bundle) as s:
        return np.concatenate([s.run(test_x[i:i + 1])["logits"] for i in range(300)])


@pytest.mark.parametrize("n,batch_size", [(1, None), (7, None), (7, 3), (300, 64), (300, None)])
def test_batches_equal_single_runs(bundle, test_x, singles, n, batch_size):
    with fpga_accel.Session(bundle.path, batch_size=batch_size) as s:
        out = s.run({"input": test_x[:n]})
        assert s.stats.calls == 1 and s.stats.images == n
    assert out["logits"].shape == (n, 10) and out["logits"].dtype == np.float32
    np.testing.assert_array_equal(out["logits"], singles[:n])


def test_raw_mode_round_trip(bundle, test_x):
    x = test_x[:50]
    with fpga_accel.Session(bundle) as s:
        t_in, t_out = s.qmodel.inputs[0], s.qmodel.outputs[0]
        hw = bundle.manifest["hardware"]
        assert (t_in.name, t_out.name) == (hw["inputs"][0]["name"], hw["outputs"][0]["name"])
        q = quantize(x.reshape(50, 28, 28, 1), t_in.qparams)
        raw = s.run({t_in.name: q}, raw=True)
        r = raw[t_out.name]
        assert r.dtype == np.int8 and r.shape == (50, 10)
        # float mode = quantise → the same integers → dequantise (the model has no host part after)
        np.testing.assert_array_equal(s.run(x)["logits"], dequantize(r, t_out.qparams))
        # int16 storage of the same values is accepted; the answer does not change
        np.testing.assert_array_equal(s.run(q.astype(np.int16), raw=True)[t_out.name], r)
        with pytest.raises(InputError, match=r"raw input 'input_nhwc' has values in \[-1, 255\], outside uint8"):
            s.run(np.where(q == 0, -1, q.astype(np.int16)), raw=True)
        with pytest.raises(InputError, match="raw input 'input_nhwc' has dtype float32; expected uint8 integers"):
            s.run(q.astype(np.float32), raw=True)
        with pytest.raises(InputError, match=r"raw input 'input_nhwc' has shape \(50, 1, 28, 28\)"):
            s.run(x.astype(np.uint8), raw=True)
        with pytest.raises(InputError, match=r"raw inputs must be \['input_nhwc'\]; missing \['input_nhwc'\], "
                                             r"unexpected \['input'\]"):
            s.run({"input": q}, raw=True)


@pytest.mark.parametrize("make,words", [
    (lambda x: x.astype(np.float64) * 1e300, ["input 'input' holds values too large for float32", "scale the inputs"]),
    (lambda x: {"image": x}, ["inputs must be ['input']", "unexpected ['image']"]),
    (lambda x: x[:, 0], ["input 'input' has shape (4, 28, 28)", "(N = batch)"]),
    (lambda x: x[:0], ["input 'input' holds no samples"]),
    (lambda x: np.full((2, 1, 28, 28), "a"), ["input 'input' has dtype <U1", "expected numbers"]),
    (lambda x: np.where(np.arange(x.size).reshape(x.shape) == 800, np.nan, x),
     ["input 'input' contains 1 NaN/Inf", "sample 1"]),
    (lambda x: np.where(np.arange(x.size).reshape(x.shape) == 0, -np.inf, x),
     ["input 'input' contains 1 NaN/Inf", "sample 0"]),
])
def test_bad_inputs_are_named(bundle, test_x, make, words):
    with fpga_accel.Session(bundle) as s:
        with pytest.raises(InputError) as e:
            s.run(make(test_x[:4]))
        assert s.stats.calls == 0
    for w in words:
        assert w in str(e.value)


def test_integer_inputs_for_a_float_input_are_refused(bundle, test_x):
    pixels = np.rint(test_x[:5] * 255).astype(np.uint8)
    with fpga_accel.Session(bundle) as s:
        with pytest.raises(InputError) as e:
            s.run(pixels)
        assert s.stats.calls == 0
        for words in ("input 'input' has dtype uint8", "the model takes float32", "--raw", "raw=True", "astype"):
            assert words in str(e.value)
        with pytest.raises(InputError, match="has dtype int64"):
            s.hardware_inputs(pixels.astype(np.int64))
        np.testing.assert_array_equal(s.run(pixels.astype(np.float32) / 255)["logits"],
                                      s.run(test_x[:5])["logits"])


def test_stats_count_calls_images_and_time(bundle, test_x):
    with fpga_accel.Session(bundle, batch_size=16) as s:
        started = []
        start = s.backend.start
        s.backend.start = lambda q: started.append(len(next(iter(q.values())))) or start(q)
        s.run(test_x[:10])
        s.run(test_x[:40])
        s.submit(test_x[:5]).result(timeout=60)
        st = s.stats
    assert (st.calls, st.images, st.last_images) == (3, 55, 5)
    assert (st.backend_calls, st.largest_call) == (len(started), max(started)) and sum(started) == 55
    assert f"in {len(started)} backend call(s) of ≤{max(started)} image(s)" in str(st)
    assert 0 < st.last_s <= st.total_s and st.images_per_s == pytest.approx(55 / st.total_s)
    assert st.latency_s == pytest.approx(st.total_s / 55)
    c, i = st.call, st.image
    assert c.count == i.count == 3 and c.min <= c.mean <= c.max and c.total == pytest.approx(st.total_s)
    assert c.last == st.last_s and i.last == pytest.approx(c.last / 5)
    assert i.min <= i.mean <= i.max and i.max <= c.max
    assert str(st).startswith("3 run(s), 55 image(s) in ") and "per run (last/mean/min/max)" in str(st)
    d = st.as_dict()
    assert d["calls"] == 3 and d["images"] == 55 and d["call_s"]["max"] == c.max
    assert (d["backend_calls"], d["largest_call"]) == (len(started), 16)


def test_closed_session_and_context_manager(bundle, test_x):
    s = fpga_accel.Session(bundle)
    with s:
        assert not s.closed
    assert s.closed
    s.close()  # twice is harmless
    with pytest.raises(SessionError, match="session of .* is closed; open a new Session"):
        s.run(test_x[:1])
    assert "closed" in repr(s)


def test_options_and_backend_choice(bundle):
    assert "emulator" in backend_names()
    with fpga_accel.Session(bundle, backend="auto") as s:
        assert s.backend.name == "emulator"
    with pytest.raises(InputError, match=r"unknown backend 'fpga'; use one of \[.*'emulator'.*\] or 'auto'"):
        fpga_accel.Session(bundle, backend="fpga")
    for bad in (0, -3, 2.5, True):
        with pytest.raises(InputError, match="batch_size must be a positive integer"):
            fpga_accel.Session(bundle, batch_size=bad)
    with pytest.raises(InputError, match="timeout must be a positive number"):
        fpga_accel.Session(bundle, timeout=0)


class _Broken(Backend):
    name = "broken"
    closed = 0

    def run_raw(self, q_inputs):
        n = next(iter(q_inputs.values())).shape[0]
        return {"logits": np.zeros((n, 11), np.int8)}

    def close(self):
        type(self).closed += 1


class _Absent(Backend):
    name = "absent"

    @classmethod
    def unavailable(cls, bundle):
        return "the vendor package is not installed"


def test_backend_answers_are_checked_and_close_is_called(bundle, test_x, monkeypatch):
    monkeypatch.setattr(session_mod, "get_backend", lambda name: _Broken)
    s = fpga_accel.Session(bundle, backend="broken")
    with pytest.raises(SessionError, match=r"backend 'broken' returned int8 \(3, 11\) for hardware output "
                                           r"'logits'; expected int8 integers of shape \(3, 10\)"):
        s.run(test_x[:3])
    s.close()
    s.close()
    assert _Broken.closed == 1
    monkeypatch.setattr(session_mod, "get_backend", lambda name: _Absent)
    with pytest.raises(SessionError, match="backend 'absent' cannot run .*: the vendor package is not installed"):
        fpga_accel.Session(bundle, backend="absent")

    class Faulty(Backend):
        name = "faulty"

        @classmethod
        def unavailable(cls, bundle):
            raise RuntimeError("probe crashed")

    monkeypatch.setattr(session_mod, "get_backend", lambda name: Faulty)
    with pytest.raises(SessionError, match=r"backend 'faulty' cannot run .*: its availability check failed "
                                           r"\(RuntimeError: probe crashed\)"):
        fpga_accel.Session(bundle, backend="faulty")


def test_model_boundary_helpers(bundle, test_x):
    with fpga_accel.Session(bundle) as s:
        q = s.hardware_inputs(test_x[:6])
        t = s.qmodel.inputs[0]
        np.testing.assert_array_equal(q[t.name], quantize(test_x[:6].reshape(6, 28, 28, 1), t.qparams))
        raw = s.run(q, raw=True)
        np.testing.assert_array_equal(s.model_outputs(raw)["logits"], s.run(test_x[:6])["logits"])


# --- asynchronous runs, batching by the backend, double buffering ------------------------------------
def test_submit_returns_futures_that_finish_in_order(bundle, test_x, singles):
    with fpga_accel.Session(bundle, batch_size=8) as s:
        futures = [s.submit(test_x[i:i + 30]) for i in range(0, 120, 30)]
        assert all(isinstance(f, RunFuture) and f.images == 30 for f in futures)
        outs = [f.result(timeout=60)["logits"] for f in futures]
        assert all(f.done() for f in futures) and s.stats.calls == 4
    np.testing.assert_array_equal(np.concatenate(outs), singles[:120])


def test_submit_checks_inputs_at_once(bundle, test_x):
    with fpga_accel.Session(bundle) as s:
        with pytest.raises(InputError, match="input 'input' has shape"):
            s.submit(test_x[:2, 0])
        assert s.stats.calls == 0


class _Recording(EmulatorBackend):
    """The emulator, with a small device buffer, recording chunk sizes and calls in flight."""
    name = "recording"
    max_batch = 5
    sizes: ClassVar[list] = []
    peak = 0

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.busy = 0

    def start(self, q_inputs):
        self.sizes.append(next(iter(q_inputs.values())).shape[0])
        self.busy += 1
        type(self).peak = max(type(self).peak, self.busy)
        return super().start(q_inputs)

    def wait(self, handle, timeout):
        out = super().wait(handle, timeout)
        self.busy -= 1
        return out


class _RecordingSync(_Recording):
    in_flight = 1


@pytest.mark.parametrize("cls,peak", [(_Recording, 2), (_RecordingSync, 1)])
def test_backend_max_batch_and_double_buffering(bundle, test_x, singles, monkeypatch, cls, peak):
    monkeypatch.setattr(session_mod, "get_backend", lambda name: cls)
    cls.sizes, cls.peak = [], 0
    with fpga_accel.Session(bundle, backend=cls.name, batch_size=64) as s:
        out = s.run(test_x[:23])["logits"]
        raw = s.run(s.hardware_inputs(test_x[:3]), raw=True)
    np.testing.assert_array_equal(out, singles[:23])
    assert cls.sizes == [5, 5, 5, 5, 3, 3] and cls.peak == peak
    assert raw["logits"].shape == (3, 10)


# --- timeouts --------------------------------------------------------------------------------------
_release = threading.Event()  # set at the end of each test: lets hung fakes end their threads


@pytest.fixture
def release():
    _release.clear()
    yield _release
    _release.set()


class _HangsInWait(Backend):
    """A device that takes the batch and never signals completion; its wait honours the timeout."""
    name = "hangs-in-wait"

    def start(self, q_inputs):
        return threading.Event()

    def wait(self, handle, timeout):
        if not handle.wait(timeout):
            raise TimeoutError("no interrupt from the device")


class _HangsInRun(Backend):
    """A synchronous driver stuck inside run_raw (no timeout of its own)."""
    name = "hangs-in-run"
    closed = 0

    def run_raw(self, q_inputs):
        _release.wait(60)
        raise RuntimeError("released")

    def close(self):
        type(self).closed += 1


class _HangsInThread(ThreadedBackend):
    name = "hangs-in-thread"

    def run_raw(self, q_inputs):
        _release.wait(60)
        raise RuntimeError("released")


@pytest.mark.parametrize("cls", [_HangsInWait, _HangsInRun, _HangsInThread])
def test_a_hung_backend_raises_session_timeout(bundle, test_x, monkeypatch, release, cls):
    monkeypatch.setattr(session_mod, "get_backend", lambda name: cls)
    s = fpga_accel.Session(bundle, backend=cls.name, timeout=0.3)
    queued = None
    t0 = time.monotonic()
    with pytest.raises(SessionTimeout, match=rf"backend '{cls.name}' .* within the timeout of 0.3 s; the device may "
                                             r"be hung. Close this session and open a new one"):
        if cls is _HangsInRun:
            hung = s.submit(test_x[:2])
            queued = s.submit(test_x[:1])  # behind the hung run
            hung.result()  # no timeout of its own: the session sees the stall
        else:
            s.run(test_x[:2])
    assert time.monotonic() - t0 < 5
    with pytest.raises(SessionError, match="this session cannot run any more: backend .* may be hung"):
        s.run(test_x[:1])
    t0 = time.monotonic()
    s.close()
    assert time.monotonic() - t0 < 1 and s.closed
    if queued is not None:
        with pytest.raises(SessionError, match="was closed before this run started"):
            queued.result(timeout=5)


def test_result_timeout_lets_the_run_go_on(bundle, test_x, monkeypatch, release):
    class Slow(EmulatorBackend):
        name = "slow"

        def run_raw(self, q_inputs):
            _release.wait(30)
            return super().run_raw(q_inputs)

    monkeypatch.setattr(session_mod, "get_backend", lambda name: Slow)
    with fpga_accel.Session(bundle, backend="slow") as s:
        f = s.submit(test_x[:4])
        with pytest.raises(SessionTimeout, match=r"run of 4 image\(s\) is not finished after 0.2 s; it goes on"):
            f.result(timeout=0.2)
        assert not f.done()
        release.set()
        out = f.result(timeout=30)
        assert out["logits"].shape == (4, 10) and s.stats.calls == 1


def test_close_fails_runs_not_started_and_releases_the_backend(bundle, test_x, monkeypatch, release):
    class Gated(EmulatorBackend):
        name = "gated"
        closed = 0

        def run_raw(self, q_inputs):
            _release.wait(30)
            return super().run_raw(q_inputs)

        def close(self):
            type(self).closed += 1
            super().close()

    monkeypatch.setattr(session_mod, "get_backend", lambda name: Gated)
    s = fpga_accel.Session(bundle, backend="gated")
    first, second = s.submit(test_x[:2]), s.submit(test_x[:3])
    time.sleep(0.05)
    release.set()
    s.close()
    assert Gated.closed == 1
    assert first.result(timeout=10)["logits"].shape == (2, 10)  # it was running: it completes
    with pytest.raises(SessionError, match="closed before this run started"):
        second.result(timeout=10)
    with pytest.raises(SessionError, match="is closed"):
        s.submit(test_x[:1])


def test_unclosed_sessions_do_not_keep_threads(bundle, test_x):
    import gc

    before = threading.active_count()
    for _ in range(5):
        fpga_accel.Session(bundle).run(test_x[:2])
    gc.collect()
    deadline = time.monotonic() + 5
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert threading.active_count() <= before
