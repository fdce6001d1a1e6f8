"""`fpga_accel.Session`: batching, raw integer mode, input validation, stats, lifetime, backends."""
import numpy as np
import pytest

import fpga_accel
from fpga_accel.errors import InputError
from fpga_accel.quant import dequantize, quantize
from fpga_accel.runtime import Backend, SessionError, SessionTimeout, backend_names
from fpga_accel.runtime import session as session_mod
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


def test_integer_inputs_are_numbers_too(bundle, test_x):
    pixels = np.rint(test_x[:5] * 255).astype(np.uint8)
    with fpga_accel.Session(bundle) as s:
        a = s.run(pixels)["logits"]
        b = s.run(pixels.astype(np.float32))["logits"]
    np.testing.assert_array_equal(a, b)


def test_stats_count_calls_images_and_time(bundle, test_x):
    with fpga_accel.Session(bundle, batch_size=16) as s:
        s.run(test_x[:10])
        s.run(test_x[:40])
        st = s.stats
    assert (st.calls, st.images, st.last_images) == (2, 50, 40)
    assert 0 < st.last_s <= st.total_s and st.images_per_s == pytest.approx(50 / st.total_s)
    assert st.latency_s == pytest.approx(st.total_s / 50)
    assert "2 run(s), 50 image(s)" in str(st)


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


def test_timeout_stops_between_chunks(bundle, test_x):
    with fpga_accel.Session(bundle, batch_size=1, timeout=1e-9) as s:
        with pytest.raises(SessionTimeout, match=r"run of 5 images stopped .* \(1 done\), over the timeout"):
            s.run(test_x[:5])
        assert s.run(test_x[:1])["logits"].shape == (1, 10)  # a single chunk always completes


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
