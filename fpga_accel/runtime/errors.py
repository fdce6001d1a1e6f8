"""Errors of the runtime: a session used after close, a backend that cannot start or misbehaves."""
from __future__ import annotations

from ..errors import FpgaAccelError


class SessionError(FpgaAccelError):
    """A :class:`~fpga_accel.runtime.Session` cannot run: it is closed, or its backend failed."""


class BackendUnavailable(SessionError):
    """The backend cannot run here (vendor package, device or built artefact missing)."""


class SessionTimeout(SessionError, TimeoutError):
    """A wait took longer than the session's ``timeout`` (also a :class:`TimeoutError`)."""
