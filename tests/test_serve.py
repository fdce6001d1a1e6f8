"""`fpga-accel serve`: answers over HTTP equal `Session.run` bit for bit, dynamic batching,
input validation (4xx), health, readiness, metrics and draining on shutdown. Loopback only."""
import http.client
import io
import json
import os
import signal
import socket
import subprocess
import sys
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
    return data.load_test("mlp")[0][:64]


@pytest.fixture(scope="module")
def direct(bundle, images):
    """Each image run alone through one Session."""
    with fpga_accel.Session(bundle) as s:
        return np.concatenate([s.run(images[i:i + 1])["logits"] for i in range(len(images))])


def request(port, method, path, body=b"", headers=None, timeout=20):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        c.close()


def npy(x):
    buf = io.BytesIO()
    np.save(buf, x)
    return buf.getvalue()


def infer_json(port, x):
    status, _, body = request(port, "POST", "/v1/infer", json.dumps(x.tolist()), {"Content-Type": "application/json"})
    assert status == 200, body
    return np.asarray(json.loads(body)["outputs"]["logits"], dtype=np.float32)


def infer_npy(port, x):
    status, headers, body = request(port, "POST", "/v1/infer", npy(x),
                                    {"Content-Type": "application/x-npy", "Accept": "application/x-npy"})
    assert status == 200, body
    assert headers["Content-Type"] == "application/x-npy"
    return np.load(io.BytesIO(body), allow_pickle=False)


def metric(port, name):
    """The value of one sample line of /metrics (``name`` with its labels)."""
    _, _, page = request(port, "GET", "/metrics")
    for line in page.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{name} not in /metrics:\n{page.decode()}")


def test_answers_equal_session_run_bit_for_bit_with_batching(bundle, images, direct):
    # requests of 1 and 3 images, JSON and .npy, from 8 clients at once
    jobs = [(i, 1 + 2 * (i % 2), "npy" if i % 3 == 0 else "json") for i in range(0, 60, 3)]
    with RunningServer(ServeConfig(bundle=bundle, port=0, max_batch=16, max_wait_ms=30)) as srv:
        def one(job):
            i, n, form = job
            return (infer_npy if form == "npy" else infer_json)(srv.port, images[i:i + n])

        with ThreadPoolExecutor(8) as ex:
            got = list(ex.map(one, jobs))
        batches = metric(srv.port, "fpga_accel_batch_images_count")
        batched = metric(srv.port, "fpga_accel_batch_images_sum")
        assert metric(srv.port, 'fpga_accel_requests_total{code="200"}') == len(jobs)
    for (i, n, _), y in zip(jobs, got):
        assert y.dtype == np.float32
        assert np.array_equal(y.view(np.uint32), direct[i:i + n].view(np.uint32)), f"request at image {i}"
    assert batched == sum(n for _, n, _ in jobs)
    assert batches < len(jobs), "concurrent requests were never gathered into one batch"


def test_one_image_without_batch_axis_is_answered_without_it(bundle, images, direct):
    with RunningServer(ServeConfig(bundle=bundle, port=0)) as srv:
        status, _, body = request(srv.port, "POST", "/v1/infer", json.dumps({"input": images[5].tolist()}),
                                  {"Content-Type": "application/json"})
        y = np.asarray(json.loads(body)["outputs"]["logits"], dtype=np.float32)
        assert status == 200 and y.shape == (10,)
        assert np.array_equal(y, direct[5])
        model = json.loads(request(srv.port, "GET", "/v1/model")[2])
        assert model["inputs"] == [{"name": "input", "shape": ["n", 784], "dtype": "float32"}]


def _npy_object():
    buf = io.BytesIO()
    np.save(buf, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    return buf.getvalue()


def _npy_lying():
    body = npy(np.zeros((1, 784), np.float32))
    return body.replace(b"(1, 784)", b"(9, 784)")


BAD = [  # (body, content type, status, words of the message)
    (json.dumps([[0.0] * 783]), "application/json", 422, "shape [1, 783]"),
    (json.dumps([[0.0] * 784, [0.0] * 3]), "application/json", 422, "rectangular"),
    ("[[NaN" + ", 0.0" * 783 + "]]", "application/json", 422, "NaN"),
    (json.dumps([[1e39] * 784]), "application/json", 422, "too large"),
    (json.dumps([["a"] * 784]), "application/json", 422, "rectangular"),
    (json.dumps({"image": [0.0] * 784}), "application/json", 422, "keys ['input']"),
    ("{not json", "application/json", 400, "not valid JSON"),
    ("[" * 100000 + "]" * 100000, "application/json", 400, "nested too deeply"),
    (json.dumps([[0.0] * 784] * 9), "application/json", 413, "9 images"),
    (_npy_object(), "application/x-npy", 422, "dtype object"),
    (_npy_lying(), "application/x-npy", 400, "announces"),
    (b"\x93NUMPY garbage", "application/x-npy", 400, "not a valid .npy"),
    (npy(np.zeros(1, np.float32)).replace(b"(1,)", b"(-1, -1)"), "application/x-npy", 400, "negative dimension"),
    (b"[]", "text/csv", 415, "text/csv"),
]


@pytest.mark.parametrize("body,ctype,status,words", BAD, ids=[f"{b[2]}-{b[3][:12]}" for b in BAD])
def test_bad_requests_get_a_clear_4xx(bundle, body, ctype, status, words, server_small):
    got, _, answer = request(server_small.port, "POST", "/v1/infer", body, {"Content-Type": ctype})
    assert got == status, answer
    assert words in json.loads(answer)["error"]


@pytest.fixture(scope="module")
def server_small(bundle):
    with RunningServer(ServeConfig(bundle=bundle, port=0, max_batch=8)) as srv:
        yield srv


def raw_exchange(port, data_, timeout=10):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data_)
        return s.recv(65536).decode("latin-1")


def test_oversized_and_unframed_bodies_are_refused_before_reading(server_small):
    port = server_small.port
    # a huge announced body is refused from its header alone (nothing of it is sent)
    answer = raw_exchange(port, b"POST /v1/infer HTTP/1.1\r\nContent-Length: 999999999999\r\n\r\n")
    assert answer.startswith("HTTP/1.1 413") and "at most" in answer
    answer = raw_exchange(port, b"POST /v1/infer HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")
    assert answer.startswith("HTTP/1.1 411")
    answer = raw_exchange(port, b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\n\r\n")
    assert answer.startswith("HTTP/1.1 431")
    assert request(port, "GET", "/nowhere")[0] == 404
    assert request(port, "GET", "/v1/infer")[0] == 405


def test_health_readiness_and_metrics(server_small, images):
    port = server_small.port
    assert request(port, "GET", "/healthz")[0] == 200
    status, _, body = request(port, "GET", "/readyz")
    assert status == 200 and b"1 of 1" in body
    before = metric(port, "fpga_accel_images_total")
    infer_json(port, images[:3])
    assert metric(port, "fpga_accel_images_total") == before + 3
    assert metric(port, 'fpga_accel_device_up{device="0",backend="emulator"}') == 1
    assert metric(port, 'fpga_accel_device_busy_seconds_total{device="0",backend="emulator"}') > 0
    assert metric(port, 'fpga_accel_request_latency_seconds{quantile="0.99"}') > 0
    assert metric(port, "fpga_accel_queue_depth") == 0


class SlowSession:
    """A real session that takes ``delay`` seconds longer per run (a slow device)."""

    def __init__(self, bundle, delay, timeout=None):
        self.inner, self.delay = fpga_accel.Session(bundle, timeout=timeout), delay
        self.qmodel, self.backend, self.stats = self.inner.qmodel, self.inner.backend, self.inner.stats

    def run(self, feeds):
        time.sleep(self.delay)
        return self.inner.run(feeds)

    def close(self):
        self.inner.close()


def test_shutdown_drains_admitted_requests(bundle, images, direct):
    gate = threading.Event()  # holds the device until every request is queued and shutdown began

    class GatedSession(SlowSession):
        def run(self, feeds):
            gate.wait(30)
            return super().run(feeds)

    cfg = ServeConfig(bundle=bundle, port=0, max_batch=1, max_wait_ms=0,
                      session_factory=lambda i: GatedSession(bundle, 0.05))
    srv = RunningServer(cfg)
    try:
        with ThreadPoolExecutor(6) as ex:
            futures = [ex.submit(infer_json, srv.port, images[i:i + 1]) for i in range(6)]
            deadline = time.monotonic() + 20
            while metric(srv.port, "fpga_accel_queue_depth") < 5 and time.monotonic() < deadline:
                time.sleep(0.01)  # one request on the device, five waiting
            stopper = threading.Thread(target=srv.stop)
            stopper.start()
            time.sleep(0.2)
            assert stopper.is_alive(), "shutdown did not wait for the admitted requests"
            gate.set()
            got = [f.result() for f in futures]  # every admitted request answered, none refused
        stopper.join(30)
    finally:
        gate.set()
        srv.stop()
    for i, y in enumerate(got):
        assert np.array_equal(y, direct[i:i + 1])
    with pytest.raises(OSError):
        request(srv.port, "GET", "/healthz", timeout=2)


def test_the_command_serves_and_drains_on_sigterm(bundle, images, direct):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(data.HERE.parent), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-m", "fpga_accel.cli", "serve", bundle, "--port", "0",
                             "--max-batch", "4"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline()
        assert "http://127.0.0.1:" in line, (line, proc.stderr.read() if proc.poll() is not None else "")
        port = int(line.split("http://127.0.0.1:")[1].split("/")[0])
        assert np.array_equal(infer_npy(port, images[:2]), direct[:2])
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "answering 2 image(s)" in out


def test_slow_clients_and_too_many_connections_are_bounded(bundle):
    cfg = ServeConfig(bundle=bundle, port=0, request_timeout=0.5, max_connections=2)
    with RunningServer(cfg) as srv:
        # a body announced and never sent: 408 once the request timeout passes
        t = time.monotonic()
        answer = raw_exchange(srv.port, b"POST /v1/infer HTTP/1.1\r\nContent-Length: 100\r\n\r\n[")
        assert answer.startswith("HTTP/1.1 408") and time.monotonic() - t < 5
        held = [socket.create_connection(("127.0.0.1", srv.port)) for _ in range(2)]
        try:
            time.sleep(0.1)
            answer = raw_exchange(srv.port, b"GET /healthz HTTP/1.1\r\n\r\n")
            assert answer.startswith("HTTP/1.1 503") and "too many connections" in answer
        finally:
            for s in held:
                s.close()
        time.sleep(0.1)
        assert request(srv.port, "GET", "/healthz")[0] == 200


def test_the_service_loads_only_the_runtime(bundle, images, direct):
    """What a board needs: serving a bundle loads numpy, the runtime and the standard library,
    never the compiler, code generation, the frontend, onnx or an HTTP framework."""
    from import_util import NOT_NEEDED

    child = (
        "import io, json, sys, http.client, numpy as np\n"
        "from fpga_accel.serve import RunningServer, ServeConfig\n"
        "with RunningServer(ServeConfig(bundle=sys.argv[1], port=0)) as srv:\n"
        "    c = http.client.HTTPConnection('127.0.0.1', srv.port, timeout=30)\n"
        "    c.request('POST', '/v1/infer', sys.stdin.buffer.read(), {'Content-Type': 'application/x-npy',\n"
        "              'Accept': 'application/x-npy'})\n"
        "    y = np.load(io.BytesIO(c.getresponse().read()))\n"
        "print(json.dumps([y.tolist(), sorted(sys.modules)]))\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(data.HERE.parent), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", child, bundle], input=npy(images[:2]), capture_output=True,
                          env=env, timeout=120, check=False)
    assert done.returncode == 0, done.stderr.decode()
    y, loaded = json.loads(done.stdout.decode().strip().splitlines()[-1])
    assert np.array_equal(np.asarray(y, np.float32), direct[:2])
    banned = NOT_NEEDED + ("starlette", "uvicorn", "aiohttp", "fastapi")
    assert [m for m in loaded if any(m == n or m.startswith(n + ".") for n in banned)] == []
    assert "fpga_accel.serve.pool" in loaded


def test_two_devices_share_the_work_and_a_taken_port_is_a_clear_error(bundle, images, direct):
    factory = lambda i: SlowSession(bundle, 0.02)  # both busy long enough to share
    with RunningServer(ServeConfig(bundle=bundle, port=0, devices=2, max_batch=2, max_wait_ms=1,
                                   session_factory=factory)) as srv:
        with ThreadPoolExecutor(8) as ex:
            got = list(ex.map(lambda i: infer_json(srv.port, images[i:i + 1]), range(24)))
        per_device = [metric(srv.port, f'fpga_accel_device_images_total{{device="{d}",backend="emulator"}}')
                      for d in (0, 1)]
        with pytest.raises(fpga_accel.errors.InputError, match="cannot listen on 127.0.0.1"):
            RunningServer(ServeConfig(bundle=bundle, port=srv.port))
    assert np.array_equal(np.concatenate(got), direct[:24])
    assert sum(per_device) == 24 and min(per_device) > 0, per_device


def test_a_lone_client_is_not_kept_waiting_for_a_batch(bundle, images, direct):
    # a long wait: the first request finds out nobody else comes; the next ones go at once
    with RunningServer(ServeConfig(bundle=bundle, port=0, max_batch=8, max_wait_ms=400)) as srv:
        times = []
        for i in range(4):
            t = time.monotonic()
            y = infer_json(srv.port, images[i:i + 1])
            times.append(time.monotonic() - t)
            assert np.array_equal(y, direct[i:i + 1])
    assert times[0] >= 0.35, times  # the wait is honoured while it may pay
    assert max(times[1:]) < 0.3, times
