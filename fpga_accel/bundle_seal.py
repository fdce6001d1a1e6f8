"""The manifest's seal: the sha256 of its own bytes, and optionally an HMAC with a shared key.

``manifest.json`` starts with two fixed lines::

    {
      "manifest_sha256": "<64 hex digits>",
      "manifest_hmac": "<64 hex digits, or empty>",

Both are computed over the file's bytes with those two values blanked (64 zeros and an empty
string), so any change to any other byte — a scale, a shape, a file hash, the whitespace — breaks
the seal, and a reader in any language checks it with one sha256. The HMAC-SHA256 is written and
required when ``$FPGA_ACCEL_BUNDLE_KEY`` is set (see docs/security.md).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import re

SEAL_KEYS = ("manifest_sha256", "manifest_hmac")
ENV_KEY = "FPGA_ACCEL_BUNDLE_KEY"
_HEAD = re.compile(rb'\A\{\n  "manifest_sha256": "([0-9a-f]{64})",\n  "manifest_hmac": "((?:[0-9a-f]{64})?)",\n')


def _head(digest: str, mac: str) -> bytes:
    return f'{{\n  "manifest_sha256": "{digest}",\n  "manifest_hmac": "{mac}",\n'.encode()


def bundle_key() -> bytes | None:
    """The signing key from ``$FPGA_ACCEL_BUNDLE_KEY``, or None when it is unset or empty."""
    key = os.environ.get(ENV_KEY, "")
    return key.encode() if key else None


def seal(manifest: dict, default=None) -> bytes:
    """The bytes of ``manifest.json`` for ``manifest`` (its seal keys, if any, are replaced)."""
    rest = {k: v for k, v in manifest.items() if k not in SEAL_KEYS}
    body = json.dumps(rest or {"format_version": None}, indent=2, default=default).encode() + b"\n"
    tail = body[2:]  # without the opening "{\n": the head opens the object
    blank = _head("0" * 64, "") + tail
    digest = hashlib.sha256(blank).hexdigest()
    key = bundle_key()
    mac = hmac.new(key, blank, hashlib.sha256).hexdigest() if key else ""
    return _head(digest, mac) + tail


def check_seal(raw: bytes) -> str | None:
    """Why the manifest bytes ``raw`` do not carry a valid seal (or signature), or None."""
    m = _HEAD.match(raw)
    if m is None:
        return "it carries no seal (its first lines are not the manifest_sha256 and manifest_hmac fields)"
    blank = _head("0" * 64, "") + raw[m.end():]
    if not hmac.compare_digest(hashlib.sha256(blank).hexdigest().encode(), m.group(1)):
        return "its sha256 differs from the one it records"
    key = bundle_key()
    if key is not None:
        if not m.group(2):
            return f"it is not signed, and {ENV_KEY} is set (only signed bundles are accepted)"
        if not hmac.compare_digest(hmac.new(key, blank, hashlib.sha256).hexdigest().encode(), m.group(2)):
            return f"its signature does not match the key in {ENV_KEY} (signed with another key, or changed)"
    return None
