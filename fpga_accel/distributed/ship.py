"""Sending a bundle to the nodes of a cluster: packed once by the driver (an in-memory tar in
Ray's object store), unpacked once per node into a cache keyed by its sha256. Nodes then need
no shared file system, and every actor loads (and hash-verifies) the very bundle the driver has.
"""
from __future__ import annotations

import hashlib
import io
import os
import tarfile
import tempfile
from pathlib import Path

from ..cache import cache_dir


def pack(bundle_dir: Path) -> bytes:
    """The bundle directory as tar bytes (names relative to it, sorted, so the bytes are stable)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for p in sorted(Path(bundle_dir).rglob("*")):
            if p.is_file():
                info = tar.gettarinfo(str(p), arcname=p.relative_to(bundle_dir).as_posix())
                info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
                with open(p, "rb") as f:
                    tar.addfile(info, f)
    return buf.getvalue()


def cache_root() -> Path:
    return cache_dir("bundles")


def unpack(blob: bytes, name: str) -> Path:
    """The bundle unpacked under the cache (reused when already there); returns its directory."""
    digest = hashlib.sha256(blob).hexdigest()[:16]
    dest = cache_root() / digest / name
    if (dest / "manifest.json").is_file():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    # unpack beside, then rename: actors on one node may race, and the loser finds it complete
    tmp = Path(tempfile.mkdtemp(prefix=".unpack-", dir=dest.parent))
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r") as tar:
        if hasattr(tarfile, "data_filter"):  # Python 3.11.4+: refuse links and paths leaving tmp
            tar.extractall(tmp, filter="data")
        else:
            tar.extractall(tmp)  # our own archive, packed by pack() from a bundle
    try:
        os.rename(tmp, dest)
    except OSError:
        if not (dest / "manifest.json").is_file():
            raise
    return dest
