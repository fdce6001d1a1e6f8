"""The HTTP service: routes, admission, per-request timeouts, start-up and graceful shutdown.

Routes: ``POST /v1/infer`` (body: see :mod:`.codec`), ``GET /v1/model`` (input and output names,
shapes and dtypes), ``GET /healthz`` (the process answers), ``GET /readyz`` (200 while at least one
device is in the pool and the service is not draining, else 503), ``GET /metrics`` (Prometheus).

Shutdown (:meth:`Server.shutdown`, SIGTERM or Ctrl-C under the CLI) stops accepting connections,
answers new inference requests 503, waits up to ``drain_s`` for the queued and running requests to
be answered, then closes the sessions.
"""
from __future__ import annotations

import asyncio
import json
import os
import time

from ..errors import InputError
from . import codec
from .config import ServeConfig
from .http import HttpError, Request, read_request, response
from .metrics import Metrics
from .pool import BadBatchInput, Device, DeviceFailed, Pool
from .queue import Pending, QueueFull, RequestQueue

#: the local index of the device a session opens (read by the backends that drive several cards)
DEVICE_ENV = "FPGA_ACCEL_DEVICE_INDEX"
LINE_LIMIT = 16 * 1024  # longest request line or header


class Server:
    """The service of one bundle. ``await start()`` opens the sessions and listens;
    ``await shutdown()`` drains and closes. :class:`~.background.RunningServer` runs it beside other code."""

    def __init__(self, config: ServeConfig):
        config.check()
        self.config = config
        self.metrics = Metrics(config.max_batch)
        self.draining = False
        self.port: int | None = None
        self._server: asyncio.AbstractServer | None = None
        self._connections = 0
        self._answering = 0  # requests read and not yet fully answered
        self._stopped: asyncio.Event | None = None

    # --- life ---------------------------------------------------------------------------------
    async def start(self) -> None:
        cfg = self.config
        sessions = []
        try:
            for i in range(cfg.devices):
                sessions.append(await asyncio.get_running_loop().run_in_executor(None, self._open, i))
        except BaseException:
            for s in sessions:
                s.close()
            raise
        first = sessions[0]
        self.specs = [codec.InputSpec(t.name, t.shape, t.dtype) for t in first.qmodel.model_inputs]
        self.outputs = [{"name": t.name, "shape": ["n", *t.shape[1:]], "dtype": str(t.dtype)}
                        for t in first.qmodel.model_outputs]
        self.max_body = cfg.body_limit(self.specs)
        self.queue = RequestQueue(cfg.queue_size)
        devices = [Device(i, s) for i, s in enumerate(sessions)]
        # the guard catches a device that hangs inside the session's own timeout handling
        self.pool = Pool(devices, self.queue, self.metrics, cfg.max_batch, cfg.max_wait_ms / 1000,
                         guard=cfg.device_timeout * 2 + 1)
        self.pool.start()
        self._stopped = asyncio.Event()
        try:
            self._server = await asyncio.start_server(self._client, cfg.host, cfg.port, limit=LINE_LIMIT)
        except OSError as e:
            await self.pool.stop()
            raise InputError(f"cannot listen on {cfg.host}:{cfg.port} ({e.strerror or e}); choose another "
                             "--port or --host") from None
        self.port = self._server.sockets[0].getsockname()[1]

    def _open(self, index: int):
        cfg = self.config
        if cfg.session_factory is not None:
            return cfg.session_factory(index)
        from ..runtime import Session

        before = os.environ.get(DEVICE_ENV)
        os.environ[DEVICE_ENV] = str(index)  # read by the backend while it opens its device
        try:
            return Session(cfg.bundle, backend=cfg.backend, timeout=cfg.device_timeout)
        finally:
            if before is None:
                os.environ.pop(DEVICE_ENV, None)
            else:
                os.environ[DEVICE_ENV] = before

    async def shutdown(self) -> None:
        """Stop accepting, answer what was admitted (up to ``drain_s``), close the sessions."""
        if self.draining:
            return
        self.draining = True
        if self._server is not None:
            self._server.close()
        deadline = time.monotonic() + self.config.drain_s
        while (len(self.queue) or self.pool.busy or self._answering) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        await self.pool.stop()  # what is left past the deadline is answered 503
        while self._answering and time.monotonic() < deadline + 1:
            await asyncio.sleep(0.01)
        self._stopped.set()

    async def wait_stopped(self) -> None:
        await self._stopped.wait()

    # --- connections --------------------------------------------------------------------------
    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._connections += 1
        try:
            if self._connections > self.config.max_connections:
                self.metrics.request(503)
                writer.write(response(503, b"too many connections\n", "text/plain", False, {"Retry-After": "1"}))
                await writer.drain()
                return
            while True:
                try:
                    req = await read_request(reader, self.max_body, self.config.request_timeout)
                except HttpError as e:
                    self.metrics.request(e.status)
                    writer.write(_error(e.status, e.message, False))
                    await writer.drain()
                    return
                if req is None:
                    return
                self._answering += 1
                try:
                    keep = req.keep_alive and not self.draining
                    writer.write(await self._route(req, keep))
                    await writer.drain()
                finally:
                    self._answering -= 1
                if not keep:
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:  # an idle connection at shutdown: just end (its task is top-level)
            pass
        finally:
            self._connections -= 1
            writer.close()

    async def _route(self, req: Request, keep: bool) -> bytes:
        get = {"/healthz": self._healthz, "/readyz": self._readyz, "/metrics": self._metrics,
               "/v1/model": self._model}
        if req.path in get:
            if req.method not in ("GET", "HEAD"):
                return _error(405, f"{req.path} takes GET", keep)
            status, body, ctype = get[req.path]()
            return response(status, b"" if req.method == "HEAD" else body, ctype, keep)
        if req.path != "/v1/infer":
            return _error(404, f"no route {req.path[:100]!r}; use POST /v1/infer", keep)
        if req.method != "POST":
            return _error(405, "/v1/infer takes POST", keep)
        t = time.monotonic()
        try:
            body, ctype = await self._infer(req)
        except HttpError as e:
            self.metrics.request(e.status)
            return _error(e.status, e.message, keep, e.headers)
        except Exception as e:  # noqa: BLE001 - a bug here still gets its request an answer
            self.metrics.request(500)
            return _error(500, f"internal error: {type(e).__name__}: {e}", False)
        self.metrics.request(200, time.monotonic() - t)
        return response(200, body, ctype, keep)

    async def _infer(self, req: Request) -> tuple[bytes, str]:
        if self.draining:
            raise HttpError(503, "the service is shutting down", {"Retry-After": "1"})
        if not self.pool.healthy:
            raise HttpError(503, "no device left in the pool")
        feeds, images, single = codec.decode(req.body, req.content_type, self.specs, self.config.max_batch)
        fut = asyncio.get_running_loop().create_future()
        try:
            self.queue.put(Pending(feeds, images, fut))
        except QueueFull:
            raise HttpError(503, f"the queue is full ({self.config.queue_size} requests); retry later",
                            {"Retry-After": "1"}) from None
        try:
            outputs = await asyncio.wait_for(asyncio.shield(fut), self.config.request_timeout)
        except asyncio.TimeoutError:
            fut.cancel()  # abandoned: the pool skips it, or drops its rows if it is running
            raise HttpError(504, f"no answer within {self.config.request_timeout:g} s") from None
        except BadBatchInput as e:
            raise HttpError(422, str(e)) from None
        except DeviceFailed as e:
            raise HttpError(e.status, str(e)) from None
        self.metrics.images += images
        return codec.encode(outputs, single, req.headers.get("accept", ""))

    # --- read-only routes -----------------------------------------------------------------------
    def _healthz(self):
        return 200, b"ok\n", "text/plain"

    def _readyz(self):
        if self.draining:
            return 503, b"draining\n", "text/plain"
        up = len(self.pool.healthy)
        if not up:
            return 503, b"no device in the pool\n", "text/plain"
        return 200, f"ready: {up} of {len(self.pool.devices)} device(s)\n".encode(), "text/plain"

    def _metrics(self):
        page = self.metrics.render(len(self.queue), self.config.queue_size, self.pool.devices)
        return 200, page.encode(), "text/plain; version=0.0.4"

    def _model(self):
        doc = {"inputs": [{"name": s.name, "shape": ["n", *s.image_shape], "dtype": str(s.dtype)} for s in self.specs],
               "outputs": self.outputs, "max_batch": self.config.max_batch, "max_body": self.max_body}
        return 200, json.dumps(doc).encode(), codec.JSON


def _error(status: int, message: str, keep: bool, headers: dict | None = None) -> bytes:
    return response(status, json.dumps({"error": message}).encode(), codec.JSON, keep, headers)
