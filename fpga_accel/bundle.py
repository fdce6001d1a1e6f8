"""The bundle: a ``NAME.fpga/`` directory holding everything a compiled model is.

``manifest.json`` describes the model and lists the sha256 of every other file; ``weights.npz``
holds the integer parameters (no pickle); ``hls/`` and ``scripts/`` the generated project.
Writing is atomic (a temporary sibling directory renamed into place), so a failed compile never
leaves half a bundle; loading verifies every hash and refuses a mismatch.
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

from .errors import FpgaAccelError

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
WEIGHTS = "weights.npz"


class BundleError(FpgaAccelError):
    """A bundle is missing, corrupt, tampered with, or of an unknown format version."""


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


#: top-level directories a build adds later; they are not part of the compiled bundle's listing
#: (a Vivado project is gigabytes) and the bitstream record carries its own hashes
BUILD_DIRS = ("build", "bitstream")


def _listing(root: Path) -> dict[str, str]:
    """sha256 of every compiled file under ``root`` (not the manifest, not BUILD_DIRS), keyed by
    POSIX relative path."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root)
        if rel.parts[0] in BUILD_DIRS:
            continue
        if p.is_file() and p.name != MANIFEST:
            out[rel.as_posix()] = sha256_file(p)
    return out


def write_bundle(path: str | os.PathLike, manifest: dict[str, Any], weights: dict[str, np.ndarray],
                 write_files: Callable[[Path], None] | None = None, overwrite: bool = True) -> Path:
    """Create the bundle at ``path`` atomically.

    ``write_files(tmpdir)`` writes the generated project (hls/, scripts/, ...) into the staging
    directory; the manifest gets ``format_version`` and ``files`` (sha256 of each file) added.
    """
    dest = Path(path)
    if dest.exists() and not overwrite:
        raise BundleError(f"{dest} already exists; remove it or pass overwrite")
    if dest.exists() and not (dest / MANIFEST).is_file():
        raise BundleError(f"{dest} exists and is not a bundle; refusing to replace it")
    dest.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        np.savez(stage / WEIGHTS, **{k: np.ascontiguousarray(v) for k, v in weights.items()})
        if write_files is not None:
            write_files(stage)
        full = {"format_version": FORMAT_VERSION, **manifest, "files": _listing(stage)}
        (stage / MANIFEST).write_text(json.dumps(full, indent=2, sort_keys=False, default=_json_default) + "\n")
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
    """A loaded, verified bundle."""

    path: Path
    manifest: dict[str, Any]

    def weights(self) -> dict[str, np.ndarray]:
        with np.load(self.path / WEIGHTS, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}

    def file(self, rel: str) -> Path:
        return self.path / rel


def load_bundle(path: str | os.PathLike, verify: bool = True) -> Bundle:
    """Open a bundle, checking its format version and (by default) every file's sha256."""
    root = Path(path)
    mpath = root / MANIFEST
    if not mpath.is_file():
        raise BundleError(f"{root}: not a bundle (no {MANIFEST}); create one with `fpga-accel compile`")
    try:
        manifest = json.loads(mpath.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise BundleError(f"{mpath}: corrupt manifest ({e})") from None
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise BundleError(f"{root}: bundle format version {version!r}, this fpga-accel reads "
                          f"{FORMAT_VERSION}; recompile the model")
    if verify:
        listed = manifest.get("files", {})
        actual = _listing(root)
        missing = sorted(set(listed) - set(actual))
        changed = sorted(f for f in listed if f in actual and actual[f] != listed[f])
        extra = sorted(f for f in set(actual) - set(listed) if not f.startswith(("bitstream/", "build/")))
        if missing or changed or extra:
            parts = []
            if missing:
                parts.append(f"missing {missing}")
            if changed:
                parts.append(f"modified {changed}")
            if extra:
                parts.append(f"unexpected {extra}")
            raise BundleError(f"{root}: bundle does not match its manifest ({'; '.join(parts)}); "
                              "it was changed after compilation — recompile it")
    return Bundle(root, manifest)
