"""The devices of the service and the loop that feeds each one batches.

Each :class:`Device` holds one :class:`~fpga_accel.runtime.Session`. Its loop takes the oldest
waiting request, then gathers more until the batch holds ``max_batch`` images or ``max_wait``
seconds have passed since that first request arrived, runs the batch on its session in the
device's own daemon thread and hands each request its rows.
Devices pull work when they are free, so a slow device simply takes fewer batches. The wait is
skipped while it does not pay: after a wait that brought no other request, a device sends lone
requests at once until it again finds several waiting (a single client, or a trickle, is never
kept waiting for company that does not come).

A session that raises (anything but an input error) or hangs (its ``timeout``, and a guard above
it) takes its device out of the pool; the batch's requests go back to the front of the queue for
another device, or, when every device left has failed on them, are answered with an error.
Nothing is dropped without an answer.
"""
from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time

import numpy as np

from ..errors import InputError
from .metrics import Metrics
from .queue import Pending, RequestQueue

TIMER_SLACK = 0.001  # seconds


class DeviceFailed(Exception):
    """No device left that could run a request (``status``: the HTTP answer)."""

    def __init__(self, message: str, status: int = 502):
        super().__init__(message)
        self.status = status


class BadBatchInput(Exception):
    """The session refused one request's inputs (answered 422)."""


class CallThread:
    """A daemon thread that runs one device's calls in order, each answered on an asyncio future
    (daemon: a call stuck in a hung device must not keep the process from exiting)."""

    def __init__(self, name: str):
        self._calls: queue.SimpleQueue = queue.SimpleQueue()
        threading.Thread(target=self._loop, name=name, daemon=True).start()

    def call(self, fn, *args) -> asyncio.Future:
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        self._calls.put((loop, fut, fn, args))
        return fut

    def stop(self) -> None:
        self._calls.put(None)

    def _loop(self) -> None:
        while (item := self._calls.get()) is not None:
            loop, fut, fn, args = item
            try:
                value, error = fn(*args), None
            except BaseException as e:  # noqa: BLE001 - handed to the awaiting coroutine
                value, error = None, e
            try:
                loop.call_soon_threadsafe(_settle, fut, value, error)
            except RuntimeError:  # the loop closed meanwhile (shutdown): nobody waits any more
                pass


def _settle(fut: asyncio.Future, value, error) -> None:
    if not fut.done():
        fut.set_exception(error) if error is not None else fut.set_result(value)


class Device:
    """One session of the pool and what it has done."""

    def __init__(self, index: int, session):
        self.index, self.session = index, session
        self.backend = getattr(getattr(session, "backend", None), "name", "?")
        self.healthy, self.running, self.failure = True, False, ""
        self.busy_s, self.batches, self.images = 0.0, 0, 0
        self.patient = True  # waits for a batch to fill (see Pool._gather)
        self.thread = CallThread(f"fpga-accel-serve-device-{index}")

    def stats(self) -> dict:
        stats = getattr(self.session, "stats", None)
        return stats.as_dict() if hasattr(stats, "as_dict") else {}

    def retire(self, why: str) -> None:
        """Out of the pool; its session is closed in the background (closing a hung device may block)."""
        self.healthy, self.failure = False, why
        self.thread.stop()
        threading.Thread(target=_close_quietly, args=(self.session,), daemon=True).start()


def _close_quietly(session) -> None:
    with contextlib.suppress(Exception):  # the device is already out of the pool
        session.close()


def _refuse(p: Pending, error: Exception) -> None:
    if not p.future.done():
        p.future.set_exception(error)


class Pool:
    """Feeds ``devices`` from ``queue`` in batches of up to ``max_batch`` images, waiting at most
    ``max_wait`` seconds for a batch to fill. ``guard``: seconds after which a batch that has not
    come back marks its device hung (None: rely on the session's own timeout)."""

    def __init__(self, devices: list[Device], queue: RequestQueue, metrics: Metrics, max_batch: int,
                 max_wait: float, guard: float | None):
        self.devices, self.queue, self.metrics = devices, queue, metrics
        self.max_batch, self.max_wait, self.guard = max_batch, max_wait, guard
        self._tasks: list[asyncio.Task] = []

    @property
    def healthy(self) -> list[Device]:
        return [d for d in self.devices if d.healthy]

    @property
    def busy(self) -> bool:
        return any(d.running for d in self.devices)

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._serve(d)) for d in self.devices]

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.queue.fail_all(DeviceFailed("the service is shutting down", 503))
        for d in self.devices:
            if d.healthy:
                d.healthy = False
                d.thread.stop()
                await asyncio.get_running_loop().run_in_executor(None, _close_quietly, d.session)

    async def _serve(self, device: Device) -> None:
        while device.healthy:
            await self.queue.wait()
            first = self.queue.take()
            if first is None:
                continue
            device.running, batch = True, [first]
            try:
                batch = await self._gather(device, first)
                await self._run(device, batch)
            except asyncio.CancelledError:  # shutdown past its drain time: answer, then stop
                for p in batch:
                    if not p.future.done():
                        p.future.set_exception(DeviceFailed("the service shut down before the answer", 503))
                raise
            finally:
                device.running = False
        if not self.healthy:  # the last device failed: nobody will take what waits
            self.queue.fail_all(DeviceFailed(f"no device left in the pool (last failure: {device.failure})", 503))

    async def _gather(self, device: Device, first: Pending) -> list[Pending]:
        batch, images = [first], first.images
        deadline = first.arrived + self.max_wait
        if self.queue.peek() is not None:
            device.patient = True  # requests come faster than they are run: waiting fills batches
        while images < self.max_batch:
            nxt = self.queue.peek()
            if nxt is None:
                if not device.patient:
                    break
                # epoll sleeps in whole milliseconds, rounded up: end early rather than late
                left = deadline - time.monotonic() - TIMER_SLACK
                if left <= 0 or not await self.queue.wait(left):
                    if len(batch) == 1:
                        device.patient = False  # the wait brought nothing: a lone client is not kept waiting
                    break
                continue
            if images + nxt.images > self.max_batch:
                break
            batch.append(self.queue.take())
            images += nxt.images
        return batch

    async def _run(self, device: Device, batch: list[Pending]) -> None:
        batch = [p for p in batch if not p.abandoned]
        if not batch:
            return
        try:
            outputs = await self._call(device, batch)
        except BadBatchInput as e:
            if len(batch) == 1:
                _refuse(batch[0], e)
                return
            # one request's inputs spoilt the batch: run each alone so only that one is refused
            for i, p in enumerate(batch):
                try:
                    self._answer([p], await self._call(device, [p]))
                except BadBatchInput as bad:
                    _refuse(p, bad)
                except DeviceFailed as failed:
                    self._fail(device, batch[i:], str(failed))
                    return
            return
        except DeviceFailed as e:
            self._fail(device, batch, str(e))
            return
        self._answer(batch, outputs)

    async def _call(self, device: Device, batch: list[Pending]) -> dict[str, np.ndarray]:
        feeds = batch[0].feeds if len(batch) == 1 else \
            {k: np.concatenate([p.feeds[k] for p in batch]) for k in batch[0].feeds}
        images = sum(p.images for p in batch)
        t = time.perf_counter()
        try:
            outputs = await asyncio.wait_for(device.thread.call(device.session.run, feeds), self.guard)
        except InputError as e:
            raise BadBatchInput(str(e)) from None
        except asyncio.TimeoutError:
            raise DeviceFailed(f"device {device.index} gave no answer within {self.guard:g} s") from None
        except Exception as e:  # noqa: BLE001 - any other failure is the device's
            raise DeviceFailed(f"device {device.index} failed: {type(e).__name__}: {e}") from None
        finally:
            device.busy_s += time.perf_counter() - t
        device.batches += 1
        device.images += images
        self.metrics.batch(images)
        return outputs

    def _answer(self, batch: list[Pending], outputs: dict[str, np.ndarray]) -> None:
        start = 0
        for p in batch:
            if not p.future.done():
                p.future.set_result({k: v[start:start + p.images] for k, v in outputs.items()})
            start += p.images

    def _fail(self, device: Device, batch: list[Pending], why: str) -> None:
        device.retire(why)
        for p in reversed(batch):  # back to the front in their original order
            p.tried.add(device.index)
            if p.abandoned:
                continue
            if any(d.index not in p.tried for d in self.healthy):
                self.metrics.retries += 1
                self.queue.put_front(p)
            else:
                p.future.set_exception(DeviceFailed(f"the request could not be run: {why}"))
