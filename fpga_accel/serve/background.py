"""A service on its own event loop in a daemon thread, for tests, benchmarks and notebooks."""
from __future__ import annotations

import asyncio
import threading

from .app import Server
from .config import ServeConfig


class RunningServer:
    """A :class:`Server` on its own event loop in a daemon thread (tests, benchmarks, notebooks)."""

    def __init__(self, config: ServeConfig, ready_s: float = 120.0):
        self.server = Server(config)
        self.loop = asyncio.new_event_loop()
        started = threading.Event()
        self._error: BaseException | None = None

        async def serve():
            try:
                await self.server.start()
            except BaseException as e:  # noqa: BLE001 - re-raised in the caller's thread
                self._error = e
                return
            finally:
                started.set()
            await self.server.wait_stopped()
            # idle keep-alive connections: end their handlers while the loop still runs
            rest = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in rest:
                t.cancel()
            await asyncio.gather(*rest, return_exceptions=True)

        def main():
            asyncio.set_event_loop(self.loop)
            try:
                self.loop.run_until_complete(serve())
            finally:
                self.loop.close()

        self._thread = threading.Thread(target=main, name="fpga-accel-serve", daemon=True)
        self._thread.start()
        if not started.wait(ready_s):
            raise TimeoutError(f"the service did not start within {ready_s} s")
        if self._error is not None:
            raise self._error
        self.port = self.server.port

    def stop(self, timeout: float = 60.0) -> None:
        """Drain and stop (returns when the sessions are closed)."""
        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(self.server.shutdown(), self.loop).result(timeout)
            self._thread.join(timeout)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
