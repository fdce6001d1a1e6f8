"""The settings of a service (``fpga-accel serve``'s options), checked before anything opens."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..errors import InputError
from . import codec


@dataclass
class ServeConfig:
    """How to serve a bundle. Times in seconds; ``max_body`` in bytes (None: enough for
    ``max_batch`` images as JSON, see :meth:`body_limit`). ``session_factory(index)`` replaces
    ``Session(bundle, backend, timeout=device_timeout)`` for device ``index``."""

    bundle: str = ""
    backend: str = "emulator"
    devices: int = 1
    max_batch: int = 32
    max_wait_ms: float = 2.0
    host: str = "127.0.0.1"
    port: int = 8000
    queue_size: int = 256
    request_timeout: float = 10.0
    device_timeout: float = 30.0
    max_body: int | None = None
    max_connections: int = 256
    drain_s: float = 30.0
    session_factory: Callable | None = None

    def check(self) -> None:
        for name in ("devices", "max_batch", "queue_size", "max_connections"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise InputError(f"{name} must be a positive integer, got {v!r}")
        for name in ("request_timeout", "device_timeout", "drain_s"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not 0 < v < float("inf"):
                raise InputError(f"{name} must be a positive number of seconds, got {v!r}")
        if not isinstance(self.max_wait_ms, (int, float)) or not 0 <= self.max_wait_ms <= 60_000:
            raise InputError(f"max_wait_ms must be between 0 and 60000, got {self.max_wait_ms!r}")
        if not 0 <= self.port <= 65535:
            raise InputError(f"port must be 0..65535, got {self.port}")

    def body_limit(self, specs: list[codec.InputSpec]) -> int:
        """Bytes a request body may have: given, or ``max_batch`` images at 32 bytes per number
        (a float written out in JSON) plus 64 KiB."""
        if self.max_body is not None:
            return self.max_body
        numbers = sum(int(_prod(s.image_shape)) for s in specs)
        return self.max_batch * numbers * 32 + 65536


def _prod(shape) -> int:
    n = 1
    for d in shape:
        n *= d
    return n
