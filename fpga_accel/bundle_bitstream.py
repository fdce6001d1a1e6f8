"""Whether a bundle's bitstream was built from it: the bitstream record and its checks.

A finished build writes ``bitstream/bitstream.json`` in the bundle: the bundle's identity (a
hash of what defines the hardware: every generated file, the quantised model, the board and
clock), the sha256 of each binary, tool versions, resources, timing and AFI ids. The record is
sealed: it carries the sha256 of its own content, and the bundle's sealed manifest carries the
sha256 of the record, so neither an edited record nor another build's bitstream/ passes. The
runtime calls :func:`check_bitstream` before loading anything, so a bitstream built from another
model, board or clock — or a binary changed since — is refused.

The build flow (:mod:`fpga_accel.flow`) writes the record with these definitions; the runtime
reads it with them and imports nothing of the flow.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from .bundle import Bundle, load_bundle, sha256_file
from .bundle_check import BundleError
from .safe_fs import UnsafePathError, inside

RECORD = "bitstream/bitstream.json"
#: files in bitstream/ a backend may load; each must be listed, with its hash, in the record
BINARY_SUFFIXES = (".bit", ".hwh", ".xclbin", ".awsxclbin")


class BitstreamMismatchError(BundleError):
    """The bitstream in a bundle was not built from this bundle (or its files were changed)."""


def _content_sha256(rec: dict) -> str:
    body = {k: v for k, v in rec.items() if k != "record_sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


def seal_record(rec: dict) -> dict:
    """``rec`` with ``record_sha256``: the sha256 of the rest of its content (canonical JSON)."""
    return {**{k: v for k, v in rec.items() if k != "record_sha256"}, "record_sha256": _content_sha256(rec)}


def record_sealed(rec) -> bool:
    return isinstance(rec, dict) and rec.get("record_sha256") == _content_sha256(rec)


def record_problems(root: Path, manifest: dict, raw: bytes, rec: dict) -> list[str]:
    """Why the record ``rec`` (file bytes ``raw``) of the bundle at ``root`` cannot be trusted: it
    was edited, it is not the record the manifest's build wrote, or bitstream/ holds a binary it
    does not list (a backend could load that one instead)."""
    out = []
    if not record_sealed(rec):
        out.append("bitstream/bitstream.json was changed after the build (its content does not match its "
                   "record_sha256)")
    build = manifest.get("build") if isinstance(manifest.get("build"), dict) else {}
    want = build.get("bitstream_sha256")
    if want is not None and hashlib.sha256(raw).hexdigest() != want:
        out.append("bitstream/bitstream.json is not the record of the build the manifest describes")
    listed = rec.get("files") if isinstance(rec.get("files"), dict) else {}
    for p in sorted(Path(root, "bitstream").iterdir()):
        if p.suffix.lower() in BINARY_SUFFIXES and p.name not in listed:
            out.append(f"bitstream/{p.name} is not one of the record's files")
    return out


def missing_record(manifest: dict) -> str | None:
    """Why a bitstream/ without bitstream.json is refused (the manifest records a build that wrote
    one), or None: a bitstream placed by hand has nothing to check against."""
    build = manifest.get("build") if isinstance(manifest.get("build"), dict) else {}
    if build.get("bitstream_sha256"):
        return "bitstream/bitstream.json is missing, but the manifest records the build that wrote it"
    return None


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
        why = missing_record(m) or f"no bitstream ({RECORD} is missing)"
        raise BitstreamMismatchError(f"{root}: {why}; build one with `fpga-accel build {root}`")
    try:
        raw = rpath.read_bytes()
        rec = json.loads(raw)
    except (OSError, ValueError, RecursionError) as e:
        raise BitstreamMismatchError(f"{rpath}: unreadable bitstream record ({e}); rebuild with "
                                     f"`fpga-accel build {root}`") from None
    if not isinstance(rec, dict) or not isinstance(rec.get("files") or {}, dict):
        raise BitstreamMismatchError(f"{rpath}: not a bitstream record (a JSON object with a 'files' object); "
                                     f"rebuild with `fpga-accel build {root}`")
    problems = record_problems(root, m, raw, rec)
    if problems:  # an edited or foreign record: nothing else in it can be believed
        raise BitstreamMismatchError(f"{root}: the bitstream does not belong to this bundle: " + "; ".join(problems)
                                     + f". Rebuild it with `fpga-accel build {root}`.")
    if rec.get("bundle_id") != bundle_id(m):
        problems += _differences(rec, m)
        if not problems:
            problems.append("the bundle's identity hash differs")
    paths = {}
    for name, digest in sorted((rec.get("files") or {}).items()):
        try:  # the runtime loads these paths: they must stay inside bitstream/
            p = inside(root / "bitstream", name, f"{RECORD}: file")
        except UnsafePathError as e:
            raise BitstreamMismatchError(f"{e}; rebuild with `fpga-accel build {root}`") from None
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
    rec = {**rec, "board": rec.get("board") if isinstance(rec.get("board"), dict) else {}}
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
