"""The bitstream registry, and the writing of a bundle's bitstream record.

A finished build writes ``bitstream/bitstream.json`` in the bundle (its fields and checks are in
:mod:`fpga_accel.bundle_bitstream`, which the runtime uses to refuse a bitstream not built from
its bundle).

The registry is ``index.json`` in a bitstreams directory (``--registry``, else
``$FPGA_ACCEL_BITSTREAMS``, else ``./bitstreams``): one entry per build, with a copy of the
bundle's ``bitstream/`` beside it in ``<entry id>/``. Binaries are never committed.
"""
from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from ..bundle import sha256_file
from ..bundle_bitstream import RECORD, bundle_id, seal_record
from ..safe_fs import UnsafePathError, atomic_write_text, open_lock_file, plain_name
from .errors import BuildError

INDEX = "index.json"
INDEX_VERSION = 1
ENV_REGISTRY = "FPGA_ACCEL_BITSTREAMS"
#: a registry entry id is a directory name in the registry: never a path, ``..`` or hidden file
ENTRY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
HEX64 = re.compile(r"[0-9a-f]{64}")


class RegistryError(BuildError):
    """The bitstream registry (``index.json`` or an entry) is malformed or would leave its folder."""


def write_record(root: Path, manifest: dict, files: list[str], build: dict) -> dict:
    """Write ``bitstream/bitstream.json`` for the binaries ``files`` (names inside bitstream/)."""
    board = manifest.get("board") or {}
    rec = {"format_version": 1, "bundle_id": bundle_id(manifest),
           "model": (manifest.get("model") or {}).get("name"),
           "model_sha256": (manifest.get("model") or {}).get("sha256"),
           "board": {k: board.get(k) for k in ("name", "part", "platform", "clock_mhz")},
           "family": build.get("family"),
           "files": {f: sha256_file(root / "bitstream" / f) for f in sorted(files)},
           "bundle_files": manifest.get("files", {}),
           "tools": build.get("tools", {}), "resources": build.get("resources", {}),
           "timing": build.get("timing", {}), "afi": build.get("afi"), "kernel": manifest.get("kernel"),
           "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    rec = seal_record(rec)
    _write_json(root / RECORD, rec)
    return rec


def registry_dir(explicit: str | os.PathLike | None = None) -> Path:
    """Where the registry lives: ``explicit``, else ``$FPGA_ACCEL_BITSTREAMS``, else ``./bitstreams``."""
    if explicit is not None:
        return Path(explicit)
    return Path(os.environ.get(ENV_REGISTRY) or "bitstreams")


def read_index(directory: Path) -> dict:
    """The registry's index, checked: a JSON object whose ``bitstreams`` is a list of entries,
    each an object with a plain ``id``. A :class:`RegistryError` names what is wrong otherwise."""
    p = Path(directory) / INDEX
    if not p.is_file():
        return {"format_version": INDEX_VERSION, "bitstreams": []}
    way_out = "fix it, or move it away and rebuild to start a new registry"
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise RegistryError(f"{p}: corrupt registry index ({e}); {way_out}") from None
    if not isinstance(data, dict):
        raise RegistryError(f"{p}: the registry index is a JSON {type(data).__name__}, not an object; {way_out}")
    data.setdefault("bitstreams", [])
    if not isinstance(data["bitstreams"], list):
        raise RegistryError(f"{p}: 'bitstreams' is a {type(data['bitstreams']).__name__}, not a list; {way_out}")
    for i, e in enumerate(data["bitstreams"]):
        if not isinstance(e, dict):
            raise RegistryError(f"{p}: bitstreams[{i}] is a {type(e).__name__}, not an object; {way_out}")
        if not isinstance(e.get("id"), str) or not ENTRY_ID.fullmatch(e["id"]):
            raise RegistryError(f"{p}: bitstreams[{i}] has id {e.get('id')!r}, not a plain directory name; {way_out}")
    return data


def entry_id(rec: dict) -> str:
    """``<model>-<board>-<bundle id prefix>``: a plain directory name, whatever the record says."""
    board = rec.get("board") if isinstance(rec.get("board"), dict) else {}
    try:
        name = plain_name(board.get("name"), "board name")
    except UnsafePathError as e:
        raise RegistryError(f"{RECORD}: {e}; rebuild the bundle for a board of `fpga-accel boards`") from None
    ident = rec.get("bundle_id")
    if not isinstance(ident, str) or not HEX64.fullmatch(ident):
        raise RegistryError(f"{RECORD}: bundle_id {ident!r} is not a sha256; rebuild the bundle")
    model = re.sub(r"[^A-Za-z0-9._-]", "_", str(rec.get("model") or "model"))[:80].lstrip("._-") or "model"
    return f"{model}-{name}-{ident[:12]}"


def register(directory: Path, root: Path, rec: dict) -> dict:
    """Add (or replace) the entry of the bundle at ``root`` with record ``rec``; copy its bitstream/."""
    directory = Path(directory)
    ident = entry_id(rec)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise RegistryError(f"cannot create the registry {directory} ({e.strerror or e})") from None
    board = rec["board"]
    with open_lock_file(directory / ".index.lock") as lock:  # builds sharing a registry take turns
        fcntl.flock(lock, fcntl.LOCK_EX)
        _copy_entry(Path(root) / "bitstream", directory, ident)
        entry = {"id": ident, "model": rec.get("model"), "model_sha256": rec.get("model_sha256"),
                 "bundle_id": rec["bundle_id"], "bundle": str(Path(root).resolve()), "board": board.get("name"),
                 "part": board.get("part"), "platform": board.get("platform"),
                 "clock_mhz": board.get("clock_mhz"), "tools": rec.get("tools", {}), "files": rec.get("files", {}),
                 "resources": rec.get("resources", {}), "timing": rec.get("timing", {}), "afi": rec.get("afi"),
                 "date": rec.get("date"), "location": ident + "/"}
        index = read_index(directory)
        index["bitstreams"] = [e for e in index["bitstreams"] if e.get("id") != ident] + [entry]
        _write_json(directory / INDEX, index)
    return entry


def _copy_entry(src: Path, directory: Path, ident: str) -> None:
    """Copy ``src`` to ``directory/ident`` whole or not at all; symlinks in ``src`` are left out
    (a bundle's link could otherwise copy any file of this machine into the registry)."""
    dest = directory / ident
    tmp = Path(tempfile.mkdtemp(prefix=f".{ident}.", dir=directory))
    old = None
    try:
        try:
            shutil.copytree(src, tmp, dirs_exist_ok=True,
                            ignore=lambda d, names: [n for n in names if os.path.islink(os.path.join(d, n))])
        except (OSError, shutil.Error) as e:
            raise RegistryError(f"cannot copy {src} into the registry {directory} ({e}); free some space or fix the "
                                "permissions, then run `fpga-accel build` again") from None
        if os.path.islink(dest) or dest.is_file():
            dest.unlink()
        elif dest.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{ident}.old.", dir=directory))
            os.replace(dest, old / "entry")
        os.replace(tmp, dest)
    except BaseException:
        if old is not None and not dest.exists():  # put the previous entry back
            os.replace(old / "entry", dest)
        raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def _write_json(path: Path, data) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps(data, indent=2) + "\n")
    except OSError as e:  # the old file (if any) is left as it was
        raise BuildError(f"{path}: cannot write ({e.strerror or e}); free some space or fix the permissions, "
                         "then run the command again") from None
