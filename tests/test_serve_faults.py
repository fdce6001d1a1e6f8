"""`fpga-accel serve` under faults: a device that fails or hangs leaves the pool and its requests
are retried on another or answered with an error (never lost); overload gives 503; a slow answer
gives 504. The faulty devices are real emulator sessions whose backend raises or blocks."""
import http.client
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from serve_util import compile_mlp

import fpga_accel
from fpga_accel.serve import RunningServer, ServeConfig
from models import data


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return compile_mlp(tmp_path_factory)


@pytest.fixture(scope="module")
def images():
    return data.load_test("mlp")[0][:32]


@pytest.fixture(scope="module")
def direct(bundle, images):
    with fpga_accel.Session(bundle) as s:
        return s.run(images)["logits"]


@pytest.fixture
def release():
    """Set at the end of a test: hung backends return and their threads end."""
    ev = threading.Event()
    yield ev
    ev.set()


def post(port, x, timeout=30):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("POST", "/v1/infer", json.dumps(x.tolist()), {"Content-Type": "application/json"})
        r = c.getresponse()
        return r.status, dict(r.getheaders()), json.loads(r.read())
    finally:
        c.close()


def get(port, path):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read().decode()
    finally:
        c.close()


def metric(port, name):
    for line in get(port, "/metrics")[1].splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{name} not in /metrics")


def session(bundle, fault=None, delay=0.0, timeout=None):
    """An emulator session whose backend raises (``fault="fail"``), blocks until ``fault`` (an
    Event) is set, or takes ``delay`` seconds longer per call."""
    s = fpga_accel.Session(bundle, timeout=timeout)
    real = s.backend.run_raw

    def run_raw(q):
        if fault == "fail":
            raise RuntimeError("DMA error: device lost")
        if isinstance(fault, threading.Event):
            fault.wait(60)
        time.sleep(delay)
        return real(q)

    s.backend.run_raw = run_raw
    return s


def send_all(port, images, n, workers=8):
    with ThreadPoolExecutor(workers) as ex:
        return list(ex.map(lambda i: post(port, images[i:i + 1]), range(n)))


@pytest.mark.parametrize("fault", ["fail", "hang"])
def test_a_failing_or_hung_device_leaves_the_pool_and_its_requests_are_retried(bundle, images, direct, release,
                                                                              fault):
    # device 0 is faulty; device 1 is slower, so device 0 surely takes the first batch
    bad = "fail" if fault == "fail" else release
    factory = lambda i: session(bundle, bad, timeout=0.5) if i == 0 else session(bundle, delay=0.05)
    with RunningServer(ServeConfig(bundle=bundle, port=0, devices=2, max_batch=4, max_wait_ms=5,
                                   session_factory=factory)) as srv:
        answers = send_all(srv.port, images, 16)
        for i, (status, _, body) in enumerate(answers):
            assert status == 200, body
            assert np.array_equal(np.asarray(body["outputs"]["logits"], np.float32), direct[i:i + 1])
        assert metric(srv.port, 'fpga_accel_device_up{device="0",backend="emulator"}') == 0
        assert metric(srv.port, 'fpga_accel_device_up{device="1",backend="emulator"}') == 1
        assert metric(srv.port, "fpga_accel_retries_total") >= 1
        assert get(srv.port, "/readyz") == (200, "ready: 1 of 2 device(s)\n")


def test_when_every_device_fails_requests_are_answered_with_errors(bundle, images):
    factory = lambda i: session(bundle, "fail")
    with RunningServer(ServeConfig(bundle=bundle, port=0, devices=2, session_factory=factory)) as srv:
        answers = send_all(srv.port, images, 6)
        assert all(status in (502, 503) for status, _, _ in answers), answers
        assert any("device lost" in body["error"] for _, _, body in answers)
        assert get(srv.port, "/readyz")[0] == 503
        status, _, body = post(srv.port, images[:1])
        assert status == 503 and "no device" in body["error"]


def test_overload_answers_503_and_loses_nothing(bundle, images, direct):
    # one slow device, no batching, room for 2 waiting requests: 12 at once cannot all wait
    factory = lambda i: session(bundle, delay=0.2)
    with RunningServer(ServeConfig(bundle=bundle, port=0, max_batch=1, max_wait_ms=0, queue_size=2,
                                   session_factory=factory)) as srv:
        answers = send_all(srv.port, images, 12, workers=12)
        codes = [status for status, _, _ in answers]
        assert set(codes) == {200, 503}, codes
        for i, (status, headers, body) in enumerate(answers):
            if status == 503:
                assert headers["Retry-After"] == "1" and "queue is full" in body["error"]
            else:
                assert np.array_equal(np.asarray(body["outputs"]["logits"], np.float32), direct[i:i + 1])
        assert metric(srv.port, 'fpga_accel_requests_total{code="503"}') == codes.count(503)
        assert metric(srv.port, "fpga_accel_queue_depth") == 0


def test_a_slow_answer_gets_504_and_the_service_goes_on(bundle, images, direct):
    slow = threading.Event()
    slow.set()

    def factory(i):
        s = session(bundle)
        real = s.run
        s.run = lambda feeds: (time.sleep(1.0) if slow.is_set() else None, real(feeds))[1]
        return s

    with RunningServer(ServeConfig(bundle=bundle, port=0, request_timeout=0.3, session_factory=factory)) as srv:
        status, _, body = post(srv.port, images[:1])
        assert status == 504 and "0.3 s" in body["error"]
        slow.clear()
        time.sleep(1.0)  # the abandoned run ends
        status, _, body = post(srv.port, images[1:2])
        assert status == 200
        assert np.array_equal(np.asarray(body["outputs"]["logits"], np.float32), direct[1:2])


def test_an_input_the_session_refuses_fails_only_its_own_request(bundle, images, direct):
    from fpga_accel.errors import InputError

    sizes = []  # images per session call

    def factory(i):
        s = session(bundle)
        real = s.run

        def run(feeds):
            sizes.append(len(feeds["input"]))
            if (feeds["input"][:, 0] == 123.0).any():
                raise InputError("input 'input' holds a poisoned image")
            return real(feeds)

        s.run = run
        return s

    poisoned = images[:6].copy()
    poisoned[3, 0] = 123.0
    with RunningServer(ServeConfig(bundle=bundle, port=0, max_batch=8, max_wait_ms=200,
                                   session_factory=factory)) as srv:
        answers = send_all(srv.port, poisoned, 6)
        assert metric(srv.port, 'fpga_accel_device_up{device="0",backend="emulator"}') == 1
    assert max(sizes) > 1 and sizes.count(1) >= 1, sizes  # a batch was spoilt, then run request by request
    for i, (status, _, body) in enumerate(answers):
        if i == 3:
            assert status == 422 and "poisoned" in body["error"]
        else:
            assert status == 200, body
            assert np.array_equal(np.asarray(body["outputs"]["logits"], np.float32), direct[i:i + 1])
