"""Where fpga-accel keeps what it builds or unpacks once per machine, and how a cached binary earns trust.

The cache root is ``$FPGA_ACCEL_CACHE`` (an absolute path; default ``~/.cache/fpga-accel``). Its
parts (``csim/``, ``native/``, ``bundles/``) are created 0700 and must be real directories of this
user that nobody else can write: a part that is a symlink, belongs to someone else or is open to
writing by others is refused with :class:`CacheError` (the root itself may be a symlink the user
made, e.g. to another disk).

A cached binary ``X.so`` is loaded only when its record ``X.json``, written after the binary is in
place, names the same cache key and the binary's size and sha256. Anything else (missing, empty,
truncated, another key's library, a symlink or a directory in its place, an unreadable file) is
removed and built again, with a :class:`CacheWarning`. Hashing costs about 1 ms per MB, well
below a ``dlopen``, so every load checks the whole file.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import struct
import time
import warnings
from contextlib import contextmanager
from pathlib import Path

from .errors import FpgaAccelError
from .safe_fs import UnsafePathError, atomic_write_text, open_lock_file

ENV = "FPGA_ACCEL_CACHE"
RECORD_FORMAT = 1
MISSING = "missing"
_MAX_RECORD = 1 << 16


class CacheError(FpgaAccelError):
    """The cache directory cannot be used safely (relative path, not a directory, another user's, a symlink)."""


class CacheWarning(UserWarning):
    """A cache entry was corrupt and has been rebuilt."""


def cache_root() -> Path:
    """``$FPGA_ACCEL_CACHE`` (``~`` expanded), else ``~/.cache/fpga-accel``; not created here."""
    given = os.environ.get(ENV, "")
    if not given.strip():
        return Path(os.path.expanduser("~")) / ".cache" / "fpga-accel"
    root = Path(os.path.expanduser(given))
    if not root.is_absolute():
        raise CacheError(f"${ENV}={given!r} is a relative path, which would change with the working directory; "
                         "set it to an absolute directory")
    return root


def cache_dir(part: str) -> Path:
    """``<cache root>/<part>``; not created here (see :func:`ensure_cache_dir`)."""
    return cache_root() / part


def ensure_cache_dir(part: str) -> Path:
    """``<cache root>/<part>``, created 0700 when missing, and checked: a directory of this user that
    no one else can write and fpga-accel can. :class:`CacheError` naming the fix otherwise."""
    root = cache_root()
    try:
        os.makedirs(root, mode=0o700, exist_ok=True)
    except OSError as e:
        raise CacheError(f"cannot create the cache directory {root} ({e.strerror or e}); set ${ENV} to a "
                         "writable directory") from None
    uid = os.getuid() if hasattr(os, "getuid") else None
    st = os.stat(root)
    if uid is not None and st.st_uid not in (uid, 0):
        raise CacheError(f"the cache directory {root} belongs to another user (uid {st.st_uid}); set ${ENV} to "
                         "a directory of your own")
    if st.st_mode & 0o002 and not st.st_mode & stat.S_ISVTX:
        raise CacheError(f"the cache directory {root} is writable by everyone; `chmod o-w {root}` or set ${ENV} "
                         "to a private directory")
    path = root / part
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        pass
    except OSError as e:
        raise CacheError(f"cannot create the cache directory {path} ({e.strerror or e}); set ${ENV} to a "
                         "writable directory") from None
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode):
        raise CacheError(f"the cache directory {path} is a symlink (to {os.readlink(path)}); fpga-accel keeps its "
                         "entries in a directory of its own: remove the link (its target stays) and retry")
    if not stat.S_ISDIR(st.st_mode):
        raise CacheError(f"{path} is not a directory; remove it or set ${ENV} to another directory")
    if uid is not None and st.st_uid != uid:
        raise CacheError(f"the cache directory {path} belongs to another user (uid {st.st_uid}); remove it or set "
                         f"${ENV} to a directory of your own")
    if st.st_mode & 0o022:
        raise CacheError(f"the cache directory {path} is writable by other users (mode {stat.S_IMODE(st.st_mode):o}), "
                         f"who could plant libraries in it; `chmod 700 {path}` and retry")
    if not os.access(path, os.W_OK | os.X_OK):
        raise CacheError(f"the cache directory {path} is not writable; set ${ENV} to a writable directory")
    return path


# --- verified entries -----------------------------------------------------------------------------
def record_path(binary: Path) -> Path:
    """The record beside a cached binary: ``X.so`` -> ``X.json``."""
    return binary.with_suffix(".json")


def _digest(path: Path) -> tuple[str, int]:
    """(sha256, size) of a regular file, read without following a symlink at its name."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise OSError(f"{path} is not a regular file")
        h, size = hashlib.sha256(), 0
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
            size += len(block)
    return h.hexdigest(), size


def record_entry(binary: Path, key: str, inputs: dict) -> None:
    """Record ``binary``'s size and sha256 under ``key`` (with what the key was made of). Call it
    after the binary is in place: a crash in between leaves an unrecorded binary, rebuilt later."""
    digest, size = _digest(binary)
    text = json.dumps({"format": RECORD_FORMAT, "key": key, "file": binary.name, "size": size, "sha256": digest,
                       "inputs": inputs}, indent=1, sort_keys=True)
    atomic_write_text(record_path(binary), text + "\n", mode=0o600)


def _read_record(path: Path) -> dict | str:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return "it has no record"
    except OSError as e:
        return f"its record is unreadable ({e.strerror or e})"
    if not stat.S_ISREG(st.st_mode) or st.st_size > _MAX_RECORD:
        return "its record is not a small regular file"
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "rb") as f:
            rec = json.loads(f.read(_MAX_RECORD))
    except (OSError, ValueError) as e:
        return f"its record is unreadable ({e})"
    if not isinstance(rec, dict) or rec.get("format") != RECORD_FORMAT:
        return "its record is not in the expected format"
    return rec


def entry_problem(binary: Path, key: str) -> str | None:
    """None when ``binary`` is a regular file matching its record for ``key``; else why it is not
    to be loaded (:data:`MISSING` when nothing is there)."""
    try:
        st = os.lstat(binary)
    except FileNotFoundError:
        return MISSING
    except OSError as e:
        return f"unreadable ({e.strerror or e})"
    if stat.S_ISLNK(st.st_mode):
        return "a symlink"
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file"
    if st.st_size == 0:
        return "empty"
    rec = _read_record(record_path(binary))
    if isinstance(rec, str):
        return rec
    if rec.get("key") != key or rec.get("file") != binary.name:
        return "its record belongs to another cache entry"
    if rec.get("size") != st.st_size:
        return f"{st.st_size} bytes where its record says {rec.get('size')} (truncated or overwritten)"
    try:
        digest, _ = _digest(binary)
    except OSError as e:
        return f"unreadable ({e.strerror or e})"
    if digest != rec.get("sha256"):
        return "its content differs from the sha256 recorded when it was built"
    return None


def discard_entry(binary: Path) -> None:
    """Remove whatever sits at ``binary`` (file, symlink — not its target —, directory) and its record."""
    for p in (binary, record_path(binary)):
        try:
            st = os.lstat(p)
        except OSError:
            continue
        if stat.S_ISDIR(st.st_mode):
            shutil.rmtree(p)
        else:
            os.unlink(p)


def remove_leftovers(directory: Path, prefix: str) -> None:
    """Remove the temporary files and folders named ``prefix*`` that a killed build left behind.
    Call it holding the build lock of the key ``prefix`` names: no live build owns them then."""
    for p in directory.glob(f"{prefix}*"):
        try:
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            else:
                p.unlink()
        except OSError:
            pass


def elf_problem(path: Path) -> str | None:
    """Why ``path`` is no whole ELF shared object (not ELF, cut short: dlopen of a truncated library
    can crash the process with SIGBUS), or None. Only the headers are read."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            head = f.read(64)
            if head[:4] != b"\x7fELF" or len(head) < 64 or head[4] not in (1, 2) or head[5] not in (1, 2):
                return "not an ELF file"
            end = "<" if head[5] == 1 else ">"
            if head[4] == 2:
                phoff, shoff = struct.unpack_from(end + "QQ", head, 32)
                phentsize, phnum, shentsize, shnum = struct.unpack_from(end + "HHHH", head, 54)
                seg, fields = end + "IIQQQQ", (2, 5)  # p_type, p_flags, p_offset, ..., p_filesz
            else:
                phoff, shoff = struct.unpack_from(end + "II", head, 28)
                phentsize, phnum, shentsize, shnum = struct.unpack_from(end + "HHHH", head, 42)
                seg, fields = end + "IIIIII", (1, 4)  # p_type, p_offset, ..., p_filesz
            if phoff + phentsize * phnum > size or (shnum and shoff + shentsize * shnum > size):
                return f"cut short at {size} bytes (its headers lie beyond)"
            f.seek(phoff)
            table = f.read(phentsize * phnum)
            for i in range(phnum):
                entry = struct.unpack_from(seg, table, i * phentsize)
                if entry[0] == 1 and entry[fields[0]] + entry[fields[1]] > size:  # PT_LOAD
                    return f"cut short at {size} bytes (a loadable segment lies beyond)"
    except (OSError, struct.error) as e:
        return f"unreadable ({e})"
    return None


# --- one build per key ----------------------------------------------------------------------------
def _open_lock(path: Path):
    try:
        return open_lock_file(path)
    except UnsafePathError:
        if not path.is_symlink():
            raise
    # fpga-accel never makes a symlink here: a planted one is removed, its target left alone
    warnings.warn(f"the lock file {path} was a symlink (to {os.readlink(path)}); removed it", CacheWarning,
                  stacklevel=4)
    path.unlink(missing_ok=True)
    return open_lock_file(path)


@contextmanager
def build_lock(path: Path, timeout: float, error: type[FpgaAccelError] = CacheError):
    """Hold the lock file ``path`` (one build per key, across threads and processes), waiting at most
    ``timeout`` seconds, else ``error``. flock: the system releases it when its holder dies, so a
    crashed build never blocks the next one. The file is opened without following a symlink."""
    try:
        import fcntl
    except ImportError:  # no flock (Windows): concurrent builds only duplicate work, renames stay atomic
        yield
        return
    deadline = time.monotonic() + timeout
    with _open_lock(path) as f:
        while True:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise error(f"another build has held {path} for over {timeout:g} s; if no fpga-accel is "
                                "compiling, delete the file and retry") from None
                time.sleep(0.1)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def temp_prefix(binary: Path) -> str:
    """The name prefix of a build's temporary files for ``binary``: one per key, so that the holder
    of the key's lock can tell a killed build's leftovers from another key's build under way."""
    return f".{binary.stem}."


def verified_or_built(binary: Path, key: str, inputs: dict, build, lock_timeout: float,
                      error: type[FpgaAccelError] = CacheError) -> Path:
    """``binary`` once it matches its record for ``key``: when it does not (missing, corrupt), it is
    removed and ``build(binary)`` puts a new one in place (atomically) under the key's lock, then
    it is recorded. A corrupt entry gives a :class:`CacheWarning` once rebuilt."""
    if entry_problem(binary, key) is None:
        return binary
    with build_lock(binary.with_suffix(".lock"), lock_timeout, error):
        problem = entry_problem(binary, key)  # another process may have built it meanwhile
        if problem is None:
            return binary
        discard_entry(binary)
        remove_leftovers(binary.parent, temp_prefix(binary))
        build(binary)
        record_entry(binary, key, inputs)
    if problem != MISSING:
        warnings.warn(f"the cache entry {binary} was corrupt or unverified ({problem}); removed and rebuilt it", CacheWarning,
                      stacklevel=3)
    return binary
