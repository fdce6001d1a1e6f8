"""A small HTTP/1.1 layer over asyncio streams: enough for a JSON/npy inference service.

Everything a client sends is untrusted: the request line and each header are bounded by the
stream's line limit, the number of headers is bounded, the body must announce its length
(``Content-Length``; chunked bodies are refused with 411) and that length is checked against the
limit before a byte of the body is read. Every read has a deadline, so a slow client cannot hold
a connection for ever.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

MAX_HEADERS = 64
REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 408: "Request Timeout",
           411: "Length Required", 413: "Payload Too Large", 415: "Unsupported Media Type",
           422: "Unprocessable Entity", 431: "Request Header Fields Too Large", 500: "Internal Server Error",
           502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}


class HttpError(Exception):
    """A request the service refuses: ``status`` and a message for the client."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


@dataclass
class Request:
    method: str
    path: str
    version: str
    headers: dict[str, str] = field(default_factory=dict)  # names lower-case
    body: bytes = b""

    @property
    def keep_alive(self) -> bool:
        conn = self.headers.get("connection", "").lower()
        return conn != "close" if self.version == "HTTP/1.1" else conn == "keep-alive"

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()


async def read_request(reader: asyncio.StreamReader, max_body: int, timeout: float) -> Request | None:
    """The next request on the connection, or None when the client closed it between requests.
    Raises :class:`HttpError` for a malformed or oversized request (the connection is then
    closed after the answer)."""
    try:
        line = await asyncio.wait_for(reader.readline(), timeout)
    except asyncio.TimeoutError:
        return None  # idle keep-alive connection: just close it
    except (ValueError, asyncio.LimitOverrunError):
        raise HttpError(431, "request line too long") from None
    if not line:
        return None
    parts = line.decode("latin-1").split()
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise HttpError(400, "malformed request line")
    req = Request(parts[0].upper(), parts[1].split("?")[0], parts[2])
    try:
        await asyncio.wait_for(_read_headers(reader, req), timeout)
        length = _content_length(req, max_body)
        if length:
            req.body = await asyncio.wait_for(reader.readexactly(length), timeout)
    except asyncio.TimeoutError:
        raise HttpError(408, f"the request was not received within {timeout:g} s") from None
    except asyncio.IncompleteReadError:
        raise HttpError(400, "the connection closed before the body was complete") from None
    return req


async def _read_headers(reader: asyncio.StreamReader, req: Request) -> None:
    for _ in range(MAX_HEADERS + 1):
        try:
            line = await reader.readline()
        except (ValueError, asyncio.LimitOverrunError):
            raise HttpError(431, "a request header is too long") from None
        if line in (b"\r\n", b"\n", b""):
            return
        name, sep, value = line.decode("latin-1").partition(":")
        if not sep:
            raise HttpError(400, "malformed request header")
        req.headers[name.strip().lower()] = value.strip()
    raise HttpError(431, f"more than {MAX_HEADERS} request headers")


def _content_length(req: Request, max_body: int) -> int:
    if "chunked" in req.headers.get("transfer-encoding", "").lower():
        raise HttpError(411, "chunked bodies are not accepted; send Content-Length")
    raw = req.headers.get("content-length")
    if raw is None:
        if req.method in ("POST", "PUT"):
            raise HttpError(411, "a request body needs a Content-Length header")
        return 0
    if not raw.isdigit() or len(raw) > 18:
        raise HttpError(400, f"Content-Length must be a number of bytes, got {raw[:40]!r}")
    length = int(raw)
    if length > max_body:
        raise HttpError(413, f"the body has {length} bytes; this service takes at most {max_body} "
                             "(send fewer images per request)")
    return length


def response(status: int, body: bytes, content_type: str, keep_alive: bool,
             headers: dict[str, str] | None = None) -> bytes:
    """The bytes of one HTTP/1.1 response."""
    head = [f"HTTP/1.1 {status} {REASONS.get(status, 'Unknown')}", f"Content-Type: {content_type}",
            f"Content-Length: {len(body)}", "Connection: " + ("keep-alive" if keep_alive else "close")]
    head += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body
