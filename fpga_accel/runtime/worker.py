"""A single daemon thread running jobs in order, and the job handle its callers wait on.

Daemon, not ``concurrent.futures``: a job stuck in a hung device must not keep the interpreter
from exiting (the executor's threads are joined at exit), and every wait takes a timeout.
"""
from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any


class Job:
    """The handle of a submitted job: :meth:`result` waits for it (with a timeout)."""

    def __init__(self, fn: Callable[..., Any] | None = None, args: tuple = ()):
        self._fn, self._args = fn, args
        self._done = threading.Event()
        self._value: Any = None
        self._error: BaseException | None = None

    @classmethod
    def finished(cls, value: Any = None, error: BaseException | None = None) -> Job:
        job = cls()
        job._set(value, error)
        return job

    def _set(self, value: Any, error: BaseException | None) -> None:
        self._value, self._error = value, error
        self._done.set()

    def _execute(self) -> None:
        fn, args = self._fn, self._args
        self._fn, self._args = None, ()  # let the caller's objects go once the job ran
        try:
            value = fn(*args)
        except BaseException as e:  # noqa: BLE001 - handed to the waiter, who re-raises it
            self._set(None, e)
        else:
            self._set(value, None)

    def done(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """True when the job finished within ``timeout`` seconds (None: wait as long as it takes)."""
        return self._done.wait(timeout)

    def result(self, timeout: float | None = None) -> Any:
        """The job's value; its exception re-raised; builtin ``TimeoutError`` when not done in time."""
        if not self._done.wait(timeout):
            raise TimeoutError(f"not finished within {timeout} s")
        if self._error is not None:
            raise self._error
        return self._value


class Worker:
    """One daemon thread executing submitted jobs first in, first out."""

    def __init__(self, name: str):
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._stopped = False
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            job._execute()
            job = None  # hold no finished job (its result) while idle

    def submit(self, fn: Callable[..., Any], *args: Any) -> Job:
        if self._stopped:
            raise RuntimeError("worker stopped")
        job = Job(fn, args)
        self._queue.put(job)
        return job

    def stop(self, error: BaseException | None = None, join: float = 1.0) -> None:
        """Stop after the running job; jobs still queued fail with ``error``. Waits at most ``join`` s."""
        if self._stopped:
            return
        self._stopped = True
        pending = []
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                pending.append(job)
        self._queue.put(None)
        for job in pending:
            job._set(None, error or RuntimeError("worker stopped before the job ran"))
        if threading.current_thread() is not self._thread:
            self._thread.join(join)  # a job hung in a device keeps running in its daemon thread
