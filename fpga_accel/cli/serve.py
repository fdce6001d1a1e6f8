"""Serve a compiled bundle over HTTP: dynamic batching over a pool of devices.

POST images to /v1/infer as JSON (nested lists, or {input name: nested list}) or as .npy bytes
(Content-Type: application/x-npy); GET /healthz, /readyz, /metrics (Prometheus), /v1/model.
SIGTERM or Ctrl-C drains the requests already admitted before the process exits. See
docs/serving.md.
"""
from __future__ import annotations

import argparse

from ._output import echo

ORDER = 35


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ..runtime.backends import backend_names
    from ..serve import ServeConfig

    d = ServeConfig()
    p.add_argument("bundle", metavar="NAME.fpga", help="the bundle written by `fpga-accel compile`")
    p.add_argument("--backend", default=d.backend, choices=backend_names() + ["auto"],
                   help=f"where to run (default: {d.backend})")
    p.add_argument("--devices", type=int, default=d.devices, metavar="N",
                   help="sessions in the pool, one per device (default: 1)")
    p.add_argument("--max-batch", type=int, default=d.max_batch, metavar="B",
                   help=f"most images gathered into one device call (default: {d.max_batch}; 1: no batching)")
    p.add_argument("--max-wait-ms", type=float, default=d.max_wait_ms, metavar="T",
                   help=f"longest wait for a batch to fill after its first request (default: {d.max_wait_ms})")
    p.add_argument("--host", default=d.host, help=f"address to listen on (default: {d.host}, this machine only)")
    p.add_argument("--port", type=int, default=d.port, metavar="P", help=f"port (default: {d.port}; 0: any free)")
    p.add_argument("--queue-size", type=int, default=d.queue_size, metavar="N",
                   help=f"requests waiting before new ones get 503 (default: {d.queue_size})")
    p.add_argument("--request-timeout", type=float, default=d.request_timeout, metavar="SECONDS",
                   help=f"a request not answered by then gets 504 (default: {d.request_timeout:g})")
    p.add_argument("--device-timeout", type=float, default=d.device_timeout, metavar="SECONDS",
                   help=f"a device silent this long leaves the pool (default: {d.device_timeout:g})")
    p.add_argument("--max-body", type=int, metavar="BYTES",
                   help="largest request body (default: room for --max-batch images as JSON)")
    p.add_argument("--drain", type=float, default=d.drain_s, metavar="SECONDS",
                   help=f"on shutdown, longest wait for admitted requests (default: {d.drain_s:g})")


def run(args) -> int:
    import asyncio
    import signal

    from ..serve import ServeConfig, Server

    config = ServeConfig(bundle=args.bundle, backend=args.backend, devices=args.devices, max_batch=args.max_batch,
                         max_wait_ms=args.max_wait_ms, host=args.host, port=args.port, queue_size=args.queue_size,
                         request_timeout=args.request_timeout, device_timeout=args.device_timeout,
                         max_body=args.max_body, drain_s=args.drain)

    async def main() -> None:
        server = Server(config)
        await server.start()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):  # drain, then return normally
            loop.add_signal_handler(sig, lambda: asyncio.ensure_future(server.shutdown()))
        names = ", ".join(f"{d.index}:{d.backend}" for d in server.pool.devices)
        echo(f"serving {args.bundle} on http://{config.host}:{server.port}/v1/infer  (devices {names}; "
             f"batches of up to {config.max_batch} images or {config.max_wait_ms:g} ms)")
        await server.wait_stopped()
        echo(f"stopped after answering {server.metrics.images} image(s)")

    asyncio.run(main())
    return 0
