"""The bitstream registry and the check that a bitstream belongs to its bundle.

A finished build writes ``bitstream/bitstream.json`` in the bundle: the bundle's identity (a
hash of what defines the hardware: every generated file, the quantised model, the board and
clock), the sha256 of each binary, tool versions, resources, timing and AFI ids. The runtime
calls :func:`check_bitstream` before loading anything, so a bitstream built from another model,
board or clock — or a binary changed since — is refused.

The registry is ``index.json`` in a bitstreams directory (``--registry``, else
``$FPGA_ACCEL_BITSTREAMS``, else ``./bitstreams``): one entry per build, with a copy of the
bundle's ``bitstream/`` beside it in ``<entry id>/``. Binaries are never committed.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from datetime import datetime, timezone
from pathlib import Path

from ..bundle import Bundle, load_bundle, sha256_file
from .errors import BitstreamMismatchError

RECORD = "bitstream/bitstream.json"
INDEX = "index.json"
INDEX_VERSION = 1
ENV_REGISTRY = "FPGA_ACCEL_BITSTREAMS"


def bundle_id(manifest: dict) -> str:
    """sha256 of what defines the hardware: generated files, quantised model, board, clock.

    The kernel's register offsets are left out: a build itself replaces them with measured ones.
    """
    board = manifest.get("board") or {}
    ident = {"files": manifest.get("files", {}), "qmodel": manifest.get("qmodel"),
             "model_sha256": (manifest.get("model") or {}).get("sha256"),
             "board": {k: board.get(k) for k in ("name", "part", "platform", "clock_mhz")}}
    blob = json.dumps(ident, sort_keys=True, separators=(",", ":"), default=str).encode()
    return hashlib.sha256(blob).hexdigest()


def check_bitstream(bundle: Bundle | str | os.PathLike) -> dict:
    """The bundle's bitstream record, after checking that it was built from this bundle and that
    its binaries are unchanged. Raises :class:`BitstreamMismatchError` naming what differs.

    The record's ``paths`` maps each binary's file name to its absolute path.
    """
    if not isinstance(bundle, Bundle):
        bundle = load_bundle(bundle)
    root, m = bundle.path, bundle.manifest
    rpath = root / RECORD
    if not rpath.is_file():
        raise BitstreamMismatchError(f"{root}: no bitstream ({RECORD} is missing); build one with "
                                     f"`fpga-accel build {root}`")
    try:
        rec = json.loads(rpath.read_text())
    except (OSError, ValueError) as e:
        raise BitstreamMismatchError(f"{rpath}: unreadable bitstream record ({e}); rebuild with "
                                     f"`fpga-accel build {root}`") from None
    problems = []
    if rec.get("bundle_id") != bundle_id(m):
        problems += _differences(rec, m)
        if not problems:
            problems.append("the bundle's identity hash differs")
    paths = {}
    for name, digest in sorted((rec.get("files") or {}).items()):
        p = root / "bitstream" / name
        if not p.is_file():
            problems.append(f"bitstream/{name} is missing")
        elif sha256_file(p) != digest:
            problems.append(f"bitstream/{name} changed since the build (sha256 differs)")
        paths[name] = str(p)
    if problems:
        raise BitstreamMismatchError(f"{root}: the bitstream does not belong to this bundle: " + "; ".join(problems)
                                     + f". Rebuild it with `fpga-accel build {root}` (or use a bundle and "
                                     "bitstream built together).")
    return {**rec, "paths": paths}


def _differences(rec: dict, m: dict) -> list[str]:
    out = []
    was, now = rec.get("model_sha256"), (m.get("model") or {}).get("sha256")
    if was != now:
        out.append(f"built for model sha256 {str(was)[:12]}…, the bundle holds {str(now)[:12]}…")
    board = m.get("board") or {}
    for key in ("name", "part", "platform", "clock_mhz"):
        if rec.get("board", {}).get(key) != board.get(key):
            out.append(f"built for board {key} {rec.get('board', {}).get(key)!r}, the bundle has {board.get(key)!r}")
    old, new = rec.get("bundle_files") or {}, m.get("files") or {}
    changed = sorted(f for f in set(old) | set(new) if old.get(f) != new.get(f))
    if changed:
        shown = ", ".join(changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5 else "")
        out.append(f"bundle files differ from the build's: {shown}")
    return out


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
    _write_json(root / RECORD, rec)
    return rec


def registry_dir(explicit: str | os.PathLike | None = None) -> Path:
    """Where the registry lives: ``explicit``, else ``$FPGA_ACCEL_BITSTREAMS``, else ``./bitstreams``."""
    if explicit is not None:
        return Path(explicit)
    return Path(os.environ.get(ENV_REGISTRY) or "bitstreams")


def read_index(directory: Path) -> dict:
    p = Path(directory) / INDEX
    if not p.is_file():
        return {"format_version": INDEX_VERSION, "bitstreams": []}
    try:
        data = json.loads(p.read_text())
    except ValueError as e:
        raise BitstreamMismatchError(f"{p}: corrupt registry index ({e}); fix or remove it") from None
    data.setdefault("bitstreams", [])
    return data


def register(directory: Path, root: Path, rec: dict) -> dict:
    """Add (or replace) the entry of the bundle at ``root`` with record ``rec``; copy its bitstream/."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    board = rec["board"].get("name")
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in str(rec.get("model") or "model"))
    entry_id = f"{safe}-{board}-{rec['bundle_id'][:12]}"
    dest = directory / entry_id
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(root / "bitstream", dest)
    entry = {"id": entry_id, "model": rec.get("model"), "model_sha256": rec.get("model_sha256"),
             "bundle_id": rec["bundle_id"], "bundle": str(Path(root).resolve()), "board": board,
             "part": rec["board"].get("part"), "platform": rec["board"].get("platform"),
             "clock_mhz": rec["board"].get("clock_mhz"), "tools": rec.get("tools", {}), "files": rec["files"],
             "resources": rec.get("resources", {}), "timing": rec.get("timing", {}), "afi": rec.get("afi"),
             "date": rec.get("date"), "location": entry_id + "/"}
    index = read_index(directory)
    index["bitstreams"] = [e for e in index["bitstreams"] if e.get("id") != entry_id] + [entry]
    _write_json(directory / INDEX, index)
    return entry


def _write_json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)
