"""Child processes that cannot outlive their welcome: bounded in time, stopped with all their children.

A compiler or vendor tool runs in its own process group; on a timeout, Ctrl-C or SIGTERM the whole
group is killed (g++ leaves cc1plus and as behind otherwise), and the caller sees either the exit
code or ``None`` for a timeout.
"""
from __future__ import annotations

import math
import os
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass
class Finished:
    """How a bounded child ended: ``code`` is None when it was killed for taking too long."""

    code: int | None
    output: str
    seconds: float

    @property
    def timed_out(self) -> bool:
        return self.code is None


def valid_seconds(value) -> bool:
    """Whether ``value`` is a usable time limit: a number of seconds above 0 and below infinity (not
    a bool, not NaN). Callers word the error; None (no limit) is theirs to allow."""
    return not isinstance(value, bool) and isinstance(value, (int, float)) and 0 < value < math.inf


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL ``proc`` and every process of its group (it was started with ``start_new_session``)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (OSError, AttributeError):  # already gone, or no process groups (Windows)
        try:
            proc.kill()
        except OSError:
            pass


@contextmanager
def sigterm_as_exit():
    """While inside, SIGTERM raises SystemExit(143) in the main thread instead of ending Python at once,
    so that ``finally`` clauses stop children and remove partial files. Only where SIGTERM has its
    default action (a handler the program installed is left alone)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGTERM"):
        yield
        return
    previous = signal.getsignal(signal.SIGTERM)
    if previous is not signal.SIG_DFL:
        yield
        return

    def leave(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, leave)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_bounded(argv: Sequence[str], timeout: float, cwd=None, env=None, stdout=None) -> Finished:
    """Run ``argv`` in its own process group for at most ``timeout`` seconds.

    Output (stdout and stderr together) is captured and returned unless ``stdout`` is an open file,
    where it goes instead. Any exception while waiting (KeyboardInterrupt, SystemExit from a
    SIGTERM handler) kills the group before it propagates. OSError from starting the program
    propagates unchanged for the caller to word.
    """
    with sigterm_as_exit():
        return _run(argv, timeout, cwd, env, stdout)


def _run(argv: Sequence[str], timeout: float, cwd, env, stdout) -> Finished:
    start = time.monotonic()
    capture = stdout is None
    proc = subprocess.Popen(list(argv), cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE if capture else stdout, stderr=subprocess.STDOUT,
                            text=capture, errors="replace" if capture else None, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
        return Finished(proc.returncode, out or "", time.monotonic() - start)
    except subprocess.TimeoutExpired:
        kill_group(proc)
        return Finished(None, _remaining_output(proc), time.monotonic() - start)
    except BaseException:
        kill_group(proc)
        proc.wait()
        raise


def _remaining_output(proc: subprocess.Popen) -> str:
    """What a killed child still had in its pipe, waiting a few seconds at most: a grandchild that
    left the process group (setsid) may hold the pipe open forever."""
    try:
        out, _ = proc.communicate(timeout=5)
        return out or ""
    except subprocess.TimeoutExpired:
        for f in (proc.stdout, proc.stderr):
            if f is not None:
                f.close()
        proc.wait()
        return ""
