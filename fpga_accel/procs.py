"""Child processes that cannot outlive their welcome: bounded in time, stopped with all their children.

A compiler or vendor tool runs in its own process group; on a timeout, Ctrl-C or SIGTERM the whole
group is killed (g++ leaves cc1plus and as behind otherwise), and the caller sees either the exit
code or ``None`` for a timeout.
"""
from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from typing import Sequence


@dataclass
class Finished:
    """How a bounded child ended: ``code`` is None when it was killed for taking too long."""

    code: int | None
    output: str
    seconds: float

    @property
    def timed_out(self) -> bool:
        return self.code is None


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL ``proc`` and every process of its group (it was started with ``start_new_session``)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (OSError, AttributeError):  # already gone, or no process groups (Windows)
        try:
            proc.kill()
        except OSError:
            pass


def run_bounded(argv: Sequence[str], timeout: float, cwd=None, env=None, stdout=None) -> Finished:
    """Run ``argv`` in its own process group for at most ``timeout`` seconds.

    Output (stdout and stderr together) is captured and returned unless ``stdout`` is an open file,
    where it goes instead. Any exception while waiting (KeyboardInterrupt, SystemExit from a
    SIGTERM handler) kills the group before it propagates. OSError from starting the program
    propagates unchanged for the caller to word.
    """
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
        out, _ = proc.communicate()
        return Finished(None, out or "", time.monotonic() - start)
    except BaseException:
        kill_group(proc)
        proc.wait()
        raise
