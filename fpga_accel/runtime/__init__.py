"""Running compiled bundles: :class:`Session` and its backends (numpy only at import)."""
from .backends import Backend, backend_names, get_backend
from .errors import BackendUnavailable, SessionError, SessionTimeout
from .session import RunFuture, Session, SessionStats

__all__ = ["Backend", "BackendUnavailable", "RunFuture", "Session", "SessionError", "SessionStats", "SessionTimeout",
           "backend_names", "get_backend"]
