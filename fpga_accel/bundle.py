"""The bundle: a ``NAME.fpga/`` directory holding everything a compiled model is.

``manifest.json`` describes the model, lists the sha256 of every other file and the dtype and
shape of every array in ``weights.npz`` (no pickle), and is sealed by the sha256 of its own bytes
(:mod:`fpga_accel.bundle_seal`); ``hls/`` and ``scripts/`` hold the generated project. Writing is
atomic (a temporary sibling directory renamed into place), so a failed compile never leaves half
a bundle. Loading checks the seal and the manifest's structure, and (by default) every file's
hash; the weights are checked against their hash and the manifest each time they are read.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .bundle_check import BundleError, read_arrays
from .bundle_schema import BUILD_DIRS, MANIFEST, WEIGHTS, check_manifest
from .bundle_seal import check_seal, seal
from .safe_fs import atomic_write_bytes

__all__ = ["BUILD_DIRS", "FORMAT_VERSION", "MANIFEST", "WEIGHTS", "Bundle", "BundleError", "load_bundle",
           "sha256_file", "write_bundle", "write_manifest"]

#: 2: the manifest is sealed and lists the arrays of weights.npz
FORMAT_VERSION = 2
#: a manifest larger than this is refused before it is parsed
MAX_MANIFEST_BYTES = 64 << 20
CHANGED = "it was changed after compilation — recompile the model (or copy the bundle again from its source)"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _listing(root: Path) -> dict[str, str]:
    """sha256 of every compiled file under ``root`` (not the manifest, not BUILD_DIRS), keyed by
    POSIX relative path. A build adds BUILD_DIRS later (a Vivado project is gigabytes); the
    bitstream record carries its own hashes and the manifest records the record's."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root)
        if rel.parts[0] in BUILD_DIRS:
            continue
        if p.is_file() and rel.as_posix() != MANIFEST:
            out[rel.as_posix()] = sha256_file(p)
    return out


def write_bundle(path: str | os.PathLike, manifest: dict[str, Any], weights: dict[str, np.ndarray],
                 write_files: Callable[[Path], None] | None = None, overwrite: bool = True) -> Path:
    """Create the bundle at ``path`` atomically.

    ``write_files(tmpdir)`` writes the generated project (hls/, scripts/, ...) into the staging
    directory; the manifest gets ``format_version``, ``weights`` (dtype and shape of each array)
    and ``files`` (sha256 of each file) added, and is sealed.
    """
    dest = Path(path)
    if dest.exists() and not overwrite:
        raise BundleError(f"{dest} already exists; remove it or pass overwrite")
    if dest.exists() and not (dest / MANIFEST).is_file():
        raise BundleError(f"{dest} exists and is not a bundle; refusing to replace it")
    dest.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        arrays = {k: np.ascontiguousarray(v) for k, v in weights.items()}
        np.savez(stage / WEIGHTS, **arrays)
        if write_files is not None:
            write_files(stage)
        table = {k: {"dtype": a.dtype.name, "shape": list(a.shape)} for k, a in arrays.items()}
        write_manifest(stage, {"format_version": FORMAT_VERSION, **manifest, "weights": table,
                               "files": _listing(stage)})
        if dest.exists():
            old = dest.with_name(f".{dest.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            dest.rename(old)
            stage.rename(dest)
            shutil.rmtree(old, ignore_errors=True)
        else:
            stage.rename(dest)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    return dest


def write_manifest(root: str | os.PathLike, manifest: dict[str, Any]) -> None:
    """(Re)write ``root/manifest.json`` sealed, atomically. Only fpga-accel's own steps (compile,
    build) call this: a manifest changed any other way is refused on load."""
    atomic_write_bytes(Path(root) / MANIFEST, seal(manifest, default=_json_default))


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return o.as_posix()
    raise TypeError(f"cannot store {type(o).__name__} in a manifest")


@dataclass
class Bundle:
    """A loaded bundle whose manifest passed its seal and structure checks."""

    path: Path
    manifest: dict[str, Any]

    def weights(self) -> dict[str, np.ndarray]:
        """The arrays of weights.npz, read once, checked against their sha256 and the manifest."""
        table = self.manifest.get("weights")
        if not isinstance(table, dict):
            raise BundleError(f"{self.path}: the manifest has no table of weights; recompile the model")
        return read_arrays(self.read(WEIGHTS), table, self.path)

    def read(self, rel: str) -> bytes:
        """The bytes of the listed file ``rel``, refused unless they match the manifest's sha256."""
        want = (self.manifest.get("files") or {}).get(rel)
        p = self.path / rel
        if want is None:
            raise BundleError(f"{self.path}: {rel} is not one of the bundle's files; recompile the model")
        if not p.is_file():
            raise BundleError(f"{self.path}: {rel} is missing; {CHANGED}")
        data = p.read_bytes()
        if hashlib.sha256(data).hexdigest() != want:
            raise BundleError(f"{self.path}: {rel} does not match its sha256 in the manifest; {CHANGED}")
        return data

    def file(self, rel: str) -> Path:
        return self.path / rel

    def __repr__(self) -> str:
        # the manifest runs to tens of kilobytes: name it, do not print it (``.manifest`` has it all)
        m = self.manifest
        model = (m.get("model") or {}).get("name")
        board = (m.get("board") or {}).get("name")
        return (f"Bundle({str(self.path)!r}, model={model!r}, board={board!r}, "
                f"format_version={m.get('format_version')!r}, files={len(m.get('files') or {})})")


def load_bundle(path: str | os.PathLike, verify: bool = True) -> Bundle:
    """Open a bundle: the manifest's format version, seal and structure are always checked;
    ``verify`` also checks every listed file's sha256 (the weights are checked whenever read)."""
    root = Path(path)
    manifest = _read_manifest(root)
    if verify:
        listed = manifest["files"]
        actual = _listing(root)
        missing = sorted(set(listed) - set(actual))
        changed = sorted(f for f in listed if f in actual and actual[f] != listed[f])
        extra = sorted(set(actual) - set(listed))
        if missing or changed or extra:
            parts = []
            if missing:
                parts.append(f"missing {missing}")
            if changed:
                parts.append(f"modified {changed}")
            if extra:
                parts.append(f"unexpected {extra}")
            hint = ""
            if not missing and all(f.split("/")[0] in ("hls", "scripts") for f in changed + extra):
                hint = (f"; if these are your own edits of the generated project, record them with "
                        f"`fpga-accel adopt {root}`{' --add' if extra else ''} (docs/guide.md, "
                        f"\"Tuning the generated HLS by hand\")")
            raise BundleError(f"{root}: bundle does not match its manifest ({'; '.join(parts)}); {CHANGED}{hint}")
    return Bundle(root, manifest)


def _read_manifest(root: Path) -> dict[str, Any]:
    mpath = root / MANIFEST
    if not mpath.is_file():
        raise BundleError(f"{root}: not a bundle (no {MANIFEST}); create one with `fpga-accel compile`")
    if mpath.stat().st_size > MAX_MANIFEST_BYTES:
        raise BundleError(f"{mpath}: {mpath.stat().st_size} bytes, more than any compiled manifest "
                          f"({MAX_MANIFEST_BYTES}); {CHANGED}")
    raw = mpath.read_bytes()
    try:
        manifest = json.loads(raw.decode("utf-8"), object_pairs_hook=_unique_keys)
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        raise BundleError(f"{mpath}: corrupt manifest ({type(e).__name__}: {e}); {CHANGED}") from None
    if not isinstance(manifest, dict):
        raise BundleError(f"{mpath}: the manifest is a JSON {type(manifest).__name__}, not an object; {CHANGED}")
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise BundleError(f"{root}: bundle format version {version!r}, this fpga-accel reads "
                          f"{FORMAT_VERSION}; recompile the model")
    why = check_seal(raw)
    if why:
        raise BundleError(f"{root}: the manifest is not the one compile wrote ({why}); {CHANGED}")
    try:
        check_manifest(manifest, root)
    except RecursionError:
        raise BundleError(f"{mpath}: the manifest nests too deeply; {CHANGED}") from None
    return manifest


def _unique_keys(pairs: list) -> dict:
    out = dict(pairs)
    if len(out) != len(pairs):
        names = [k for k, _ in pairs]
        raise ValueError(f"keys {sorted({k for k in names if names.count(k) > 1})} appear more than once")
    return out
