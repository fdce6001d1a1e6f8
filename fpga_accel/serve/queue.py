"""The bounded queue of admitted requests, shared by the devices of the pool.

Admission is bounded (``put`` raises :class:`QueueFull` at ``capacity`` requests: the service
answers 503), so memory is bounded by ``capacity`` times the largest body. A request that must be
retried after a device failed goes back to the front without the bound: it was admitted already.
"""
from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np


class QueueFull(Exception):
    pass


@dataclass
class Pending:
    """One admitted request: its inputs, image count and the future its handler awaits."""

    feeds: dict[str, np.ndarray]
    images: int
    future: asyncio.Future
    arrived: float = field(default_factory=time.monotonic)
    tried: set = field(default_factory=set)  # devices that failed on it

    @property
    def abandoned(self) -> bool:
        """Its client is no longer waiting (timed out or gone)."""
        return self.future.done()


class RequestQueue:
    def __init__(self, capacity: int):
        self.capacity = capacity
        self._items: deque[Pending] = deque()
        self._ready = asyncio.Event()

    def __len__(self) -> int:
        return len(self._items)

    def put(self, item: Pending) -> None:
        if len(self._items) >= self.capacity:
            raise QueueFull
        self._items.append(item)
        self._ready.set()

    def put_front(self, item: Pending) -> None:
        self._items.appendleft(item)
        self._ready.set()

    def take(self) -> Pending | None:
        """The oldest request still awaited, or None (abandoned ones are dropped)."""
        while self._items:
            item = self._items.popleft()
            if not item.abandoned:
                return item
        self._ready.clear()
        return None

    def peek(self) -> Pending | None:
        while self._items and self._items[0].abandoned:
            self._items.popleft()
        return self._items[0] if self._items else None

    async def wait(self, timeout: float | None = None) -> bool:
        """Wait until a request may be there (True) or ``timeout`` passed (False)."""
        if self._items:
            return True
        self._ready.clear()
        try:
            await asyncio.wait_for(self._ready.wait(), timeout)
            return True
        except asyncio.TimeoutError:
            return False

    def fail_all(self, exc: Exception) -> None:
        while self._items:
            item = self._items.popleft()
            if not item.future.done():
                item.future.set_exception(exc)
