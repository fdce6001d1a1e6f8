"""Files written whole or not at all, private per-user directories, locks that follow no symlink.

Every artefact fpga-accel writes goes through :func:`atomic_output` (or its two shorthands): the
data lands in a temporary sibling that is renamed over the target only once complete, so a full
disk, a crash or Ctrl-C leaves the old file or none, never a truncated one. Shared temporary
directories (``/tmp``) are used only through :func:`private_dir`, which refuses a directory that
another user owns or could write, or that is a symlink planted in its place.
"""
from __future__ import annotations

import errno
import os
import re
import stat
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .errors import FpgaAccelError


class UnsafePathError(FpgaAccelError):
    """A path is not safe to use: a planted symlink, another user's directory, a name leaving its folder."""


@contextmanager
def atomic_output(path: str | os.PathLike, mode: int = 0o644) -> Iterator[Path]:
    """Yield a temporary path to write the data of ``path`` to; on a clean exit it replaces
    ``path`` atomically (after an fsync of its data), on an exception it is gone and ``path`` is
    untouched.

    On Linux the data goes into a nameless file (``O_TMPFILE``, written through ``/proc/self/fd``)
    that is given a name only once complete, so even SIGKILL while writing leaves nothing behind;
    elsewhere into a hidden sibling that a caught signal or error removes."""
    dest = Path(path)
    fd = _nameless_file(dest.parent)
    if fd is None:
        with _named_temp(dest, mode) as tmp:
            yield tmp
        return
    try:
        yield Path(f"/proc/self/fd/{fd}")
        os.fsync(fd)
        os.fchmod(fd, mode)
        with _named_temp(dest, mode, create=False) as tmp:
            # a directory fd makes os.link call linkat(AT_SYMLINK_FOLLOW); plain link(2) would try
            # to link the /proc symlink itself
            dir_fd = os.open(tmp.parent, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
            try:
                os.link(f"/proc/self/fd/{fd}", tmp.name, dst_dir_fd=dir_fd, follow_symlinks=True)
            finally:
                os.close(dir_fd)
    finally:
        os.close(fd)


def _nameless_file(folder: Path) -> int | None:
    """A writable O_TMPFILE descriptor in ``folder``, or None where the system or file system has none."""
    flag = getattr(os, "O_TMPFILE", 0)
    if not flag or not os.path.isdir("/proc/self/fd"):
        return None
    try:
        return os.open(folder, flag | os.O_RDWR | getattr(os, "O_CLOEXEC", 0), 0o600)
    except OSError as e:
        if e.errno in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL):
            return None
        raise


@contextmanager
def _named_temp(dest: Path, mode: int, create: bool = True) -> Iterator[Path]:
    """A hidden unique sibling of ``dest`` renamed over it on a clean exit, removed otherwise
    (``create=False``: the name only, for the caller to create)."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name[:40]}.", suffix=".tmp", dir=dest.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        if not create:
            tmp.unlink()
        yield tmp
        if create:
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
            os.chmod(tmp, mode)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_bytes(path: str | os.PathLike, data: bytes, mode: int = 0o644) -> Path:
    """Write ``data`` to ``path`` whole or not at all."""
    with atomic_output(path, mode) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike, text: str, mode: int = 0o644) -> Path:
    """Write ``text`` (UTF-8) to ``path`` whole or not at all."""
    return atomic_write_bytes(path, text.encode("utf-8"), mode)


def private_dir(name: str, base: str | os.PathLike | None = None) -> Path:
    """``<base>/<name>-<uid>`` (base: the system temp directory), created 0700 and owned by this
    user. An existing entry that is a symlink, not a directory, owned by someone else, or open to
    other users is refused: another user could otherwise plant files or links in it."""
    root = Path(base) if base is not None else Path(tempfile.gettempdir())
    uid = os.getuid() if hasattr(os, "getuid") else None
    path = root / (f"{name}-{uid}" if uid is not None else name)
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        pass
    except OSError as e:
        raise UnsafePathError(f"cannot create the private directory {path} ({e.strerror or e})") from None
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode):
        raise UnsafePathError(f"{path} is not a directory (a symlink or file is in its place); remove it "
                              "and retry")
    if uid is not None and (st.st_uid != uid or st.st_mode & 0o077):
        raise UnsafePathError(f"{path} belongs to another user or is open to others (owner {st.st_uid}, "
                              f"mode {stat.S_IMODE(st.st_mode):o}); remove it or set TMPDIR to a private "
                              "directory")
    return path


def open_lock_file(path: str | os.PathLike):
    """Open (creating, mode 0600) a lock file for writing without following a symlink at its
    name and without truncating it; the file object, to flock and keep open."""
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags, 0o600)
    except OSError as e:
        raise UnsafePathError(f"cannot open the lock file {path} ({e.strerror or e}); if it is a symlink, "
                              "remove it") from None
    return os.fdopen(fd, "r+")


def inside(root: str | os.PathLike, rel: str, what: str = "path") -> Path:
    """``root / rel`` when ``rel`` is a plain relative path that stays inside ``root`` (no absolute
    path, no ``..``, no NUL); else :class:`UnsafePathError` naming ``what``."""
    text = str(rel)
    parts = Path(text).parts
    if not text or "\0" in text or Path(text).is_absolute() or ".." in parts or text.startswith("~"):
        raise UnsafePathError(f"{what} {text!r} is not a plain relative path inside {root}")
    full = Path(root) / text
    base = Path(root).resolve()
    if base != full.resolve() and base not in full.resolve().parents:
        raise UnsafePathError(f"{what} {text!r} leads outside {root} (through a symlink)")
    return full


#: identifiers that become file or directory names (boards, registry entries): lower case, digits
#: and ``._-``, not starting with a dot or dash, so never ``..``, a hidden file or an option
PLAIN_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,127}")


def plain_name(name, what: str = "name") -> str:
    """``name`` when it is a plain identifier (:data:`PLAIN_NAME`); else :class:`UnsafePathError`
    naming ``what``."""
    if not isinstance(name, str) or not PLAIN_NAME.fullmatch(name):
        raise UnsafePathError(f"{what} {name!r} is not a plain name (lower-case letters, digits and '._-', "
                              "starting with a letter or digit, at most 128 characters)")
    return name
