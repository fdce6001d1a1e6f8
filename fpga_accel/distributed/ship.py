"""Sending a bundle to the nodes of a cluster: packed once by the driver (an in-memory tar in
Ray's object store), unpacked once per node into a cache keyed by its sha256. Nodes then need
no shared file system, and every actor loads (and hash-verifies) the very bundle the driver has.

The archive is checked member by member before anything is written: only regular files and
directories, with plain relative names, within the archive's own size. A link, a device file,
``..``, an absolute path or a sparse member that would grow past the archive is refused.
"""
from __future__ import annotations

import hashlib
import io
import shutil
import tarfile
import tempfile
import warnings
from pathlib import Path

from ..cache import CacheWarning, cache_dir, ensure_cache_dir
from ..safe_fs import UnsafePathError, inside
from .errors import DistributedError

#: more members than any bundle has; bounds the work of a hostile archive
MAX_MEMBERS = 100_000


def pack(bundle_dir: Path) -> bytes:
    """The bundle directory as tar bytes (names relative to it, sorted, so the bytes are stable).

    Symlinks are left out, never followed: a link in a bundle must not ship a file of this machine."""
    buf = io.BytesIO()
    links = []
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for p in sorted(Path(bundle_dir).rglob("*")):
            if p.is_symlink():
                links.append(p.relative_to(bundle_dir).as_posix())
            elif p.is_file():
                info = tar.gettarinfo(str(p), arcname=p.relative_to(bundle_dir).as_posix())
                info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
                with open(p, "rb") as f:
                    tar.addfile(info, f)
    if links:
        warnings.warn(f"{bundle_dir}: symlinks not shipped to the nodes: {', '.join(links[:5])}"
                      + (f" and {len(links) - 5} more" if len(links) > 5 else ""), stacklevel=2)
    return buf.getvalue()


def cache_root() -> Path:
    return cache_dir("bundles")


def unpack(blob: bytes, name: str) -> Path:
    """The bundle unpacked under the cache (reused when already there); returns its directory."""
    digest = hashlib.sha256(blob).hexdigest()[:16]
    if len(Path(name).parts) != 1:
        raise DistributedError(f"bundle name {name!r} is not a plain directory name")
    try:
        dest = inside(cache_root() / digest, name, "bundle name")
    except UnsafePathError as e:
        raise DistributedError(str(e)) from None
    ensure_cache_dir("bundles")  # a directory of this user's that no one else writes, before trusting it
    if (dest / "manifest.json").is_file():
        try:
            problem = _unpacked_problem(dest, blob)
        except OSError as e:
            problem = f"unreadable: {e}"
        if problem is None:
            return dest
        # a damaged copy (disk, hand edit) would fail every actor of this node: unpack it again
        warnings.warn(f"the cached bundle {dest} was corrupt ({problem}); unpacking it again", CacheWarning,
                      stacklevel=2)
        trash = Path(tempfile.mkdtemp(prefix=".corrupt-", dir=dest.parent))
        dest.rename(trash / name)
        shutil.rmtree(trash, ignore_errors=True)
    dest.parent.mkdir(mode=0o700, exist_ok=True)
    # unpack beside, then rename: actors on one node may race, and the loser finds it complete
    tmp = Path(tempfile.mkdtemp(prefix=".unpack-", dir=dest.parent))
    try:
        with tarfile.open(fileobj=io.BytesIO(blob), mode="r:") as tar:
            members = checked_members(tar, len(blob), tmp)
            if hasattr(tarfile, "data_filter"):  # Python 3.11.4+: also drops set-uid bits and the like
                tar.extractall(tmp, members=members, filter="data")
            else:
                tar.extractall(tmp, members=members)
        try:
            tmp.rename(dest)
        except OSError:
            if not (dest / "manifest.json").is_file():
                raise
    except (tarfile.TarError, OSError) as e:
        raise DistributedError(f"cannot unpack the shipped bundle {name!r} into {dest.parent} ({e})") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def _unpacked_problem(dest: Path, blob: bytes) -> str | None:
    """Why the unpacked copy ``dest`` differs from the archive ``blob`` it was unpacked from (a file
    changed, missing or added), or None: the cache key names the archive, so this is exact."""
    want = {}
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:") as tar:
        for m in tar:
            if m.isreg():
                f = tar.extractfile(m)
                want[m.name] = hashlib.sha256(f.read() if f is not None else b"").hexdigest()
    have = {p.relative_to(dest).as_posix(): p for p in dest.rglob("*") if p.is_file() or p.is_symlink()}
    for rel in sorted(set(want) | set(have)):
        if rel not in have:
            return f"{rel} is missing"
        if rel not in want:
            return f"{rel} is not in the shipped bundle"
        p = have[rel]
        if p.is_symlink() or hashlib.sha256(p.read_bytes()).hexdigest() != want[rel]:
            return f"{rel} differs from the shipped bundle"
    return None


def checked_members(tar: tarfile.TarFile, limit: int, root: Path) -> list[tarfile.TarInfo]:
    """Every member of ``tar``, after checking that it is a regular file or directory whose name
    stays inside ``root`` and whose size fits in the ``limit`` bytes of the archive; else a
    :class:`DistributedError` naming the member."""
    members, total = [], 0
    for m in tar:
        if len(members) >= MAX_MEMBERS:
            raise DistributedError(f"the shipped bundle has more than {MAX_MEMBERS} members; refused")
        kind = "a regular file" if m.isreg() else "a directory" if m.isdir() else None
        if kind is None or m.issparse():
            raise DistributedError(f"the shipped bundle's member {m.name!r} is not a regular file or directory "
                                   f"({_kind(m)}); refused")
        try:
            inside(root, m.name, "the shipped bundle's member")
        except UnsafePathError as e:
            raise DistributedError(f"{e}; refused") from None
        total += m.size
        if m.size < 0 or total > limit:
            raise DistributedError(f"the shipped bundle's member {m.name!r} claims {m.size} bytes, more than the "
                                   f"{limit}-byte archive holds; refused")
        members.append(m)
    return members


def _kind(m: tarfile.TarInfo) -> str:
    for test, what in ((m.issym, "a symlink"), (m.islnk, "a hard link"), (m.ischr, "a character device"),
                       (m.isblk, "a block device"), (m.isfifo, "a FIFO"), (m.issparse, "a sparse file")):
        if test():
            return what
    return f"type {m.type!r}"
