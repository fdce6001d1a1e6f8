"""Hand edits of a bundle's generated project, recorded in its manifest and sealed again.

``compile`` writes the HLS project (``hls/``) and the build scripts (``scripts/``); every file's
sha256 is in the sealed manifest, so an edited file makes the bundle refuse to load. :func:`adopt`
accepts edits of those two folders only, as the user's own: each edited file gets an entry in
``manifest["overrides"]``::

    {"file": "hls/src/fa_top.cpp", "compiled_sha256": "<as compiled, null for an added file>",
     "sha256": "<as edited>", "when": "2026-12-01T10:00:00+00:00", "lines": {"added": 2, "removed": 2}}

and the file list and the seal are written again. Nothing the runtime's integer model reads can
be adopted (the manifest, weights.npz, the OpenCL kernel): backends that run the edited project
(C simulation, a build) are compared with that unchanged model by ``fpga-accel check``, so an
edit that changes the arithmetic shows up there as not bit-exact. Symlinks, files the manifest
never listed (unless ``add``) and removed files are refused.

The lines added and removed are counted against the compiled text, which is regenerated from the
bundle's own model and manifest (generation is deterministic) and used only when its sha256 is
the compiled one.
"""
from __future__ import annotations

import copy
import difflib
import hashlib
import os
import stat
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from .bundle import _listing, load_bundle, write_manifest
from .bundle_check import BundleError
from .bundle_schema import BUILD_DIRS, MANIFEST

#: the folders whose files may be edited by hand: the generated HLS project and the build scripts
EDITABLE = ("hls", "scripts")
#: files larger than this are adopted without counting their changed lines
MAX_DIFF_BYTES = 16 << 20
#: a file larger than this is refused (no generated file comes near it)
MAX_FILE_BYTES = 1 << 30


@dataclass
class Edit:
    """One adopted file: how it differs from the compiled one."""

    file: str
    kind: str  # "modified", "added" (with add=True), or "restored" (back to its compiled bytes)
    added: int | None = None  # lines, against the compiled text (None: not counted)
    removed: int | None = None
    diff: list[str] = field(default_factory=list)  # unified diff against the compiled text, when known


@dataclass
class Adopted:
    """What :func:`adopt` did: the adopted edits, and the differences it left (not asked for)."""

    path: Path
    edits: list[Edit]
    left: list[str]
    rebuild: bool  # the manifest records a build made before these edits


def adopt(path: str | os.PathLike, files: list[str] | None = None, add: bool = False) -> Adopted:
    """Record hand edits of ``files`` (paths inside the bundle, or relative to it; default: every
    file of hls/ and scripts/ that differs from the manifest) in the bundle at ``path``, and seal
    its manifest again. Raises :class:`BundleError` naming each file it refuses."""
    root = Path(path)
    bundle = load_bundle(root, verify=False)  # the seal and the structure: only a sealed bundle is adopted
    m = copy.deepcopy(bundle.manifest)
    listed: dict[str, str] = m["files"]
    actual = _listing(root)
    changed = {f for f in listed if f in actual and actual[f] != listed[f]}
    missing = {f for f in listed if f not in actual}
    extra = set(actual) - set(listed)
    named = files is not None and len(files) > 0
    wanted = sorted(dict.fromkeys(_relative(root, f) for f in files)) if named else sorted(changed | missing | extra)
    problems = []
    for rel in wanted:
        why = _refusal(root, rel, listed, missing, extra, add)
        if why:
            problems.append(f"{rel}: {why}")
    if problems:
        raise BundleError(f"{root}: cannot adopt {'this edit' if len(problems) == 1 else 'these edits'}:\n"
                          + "\n".join(f"  - {p}" for p in problems))
    todo = [rel for rel in wanted if rel in changed or rel in extra]
    records = {o["file"]: o for o in m.get("overrides") or []}
    data = {rel: _read(root, rel) for rel in todo}
    compiled = _compiled_texts(bundle, {rel: (records.get(rel) or {}).get("compiled_sha256", listed.get(rel))
                                        for rel in todo if rel in listed})
    when = datetime.now(timezone.utc).isoformat(timespec="seconds")
    edits = []
    for rel in todo:
        digest = hashlib.sha256(data[rel]).hexdigest()
        was = (records.get(rel) or {}).get("compiled_sha256") if rel in records else listed.get(rel)
        edit = _edit(rel, compiled.get(rel), data[rel], "added" if rel not in listed else "modified")
        if was is not None and digest == was:
            edit.kind = "restored"
            records.pop(rel, None)
        else:
            records[rel] = {"file": rel, "compiled_sha256": was, "sha256": digest, "when": when,
                            "lines": None if edit.added is None else {"added": edit.added, "removed": edit.removed}}
        listed[rel] = digest
        edits.append(edit)
    if edits:
        m["files"] = dict(sorted(listed.items()))
        m["overrides"] = sorted(records.values(), key=lambda o: o["file"])
        if not m["overrides"]:
            del m["overrides"]
        write_manifest(root, m)
    after = _listing(root)
    left = sorted([f"{f} (missing)" for f in set(m["files"]) - set(after)]
                  + [f"{f} (modified)" for f in m["files"] if f in after and after[f] != m["files"][f]]
                  + [f"{f} (unexpected)" for f in set(after) - set(m["files"])])
    build = m.get("build") if isinstance(m.get("build"), dict) else {}
    return Adopted(root, edits, left, bool(edits) and bool(build.get("bitstream_sha256")))


def hand_edits(manifest: dict) -> list[str]:
    """One line per file of ``manifest["overrides"]``: its path, the lines changed, and when."""
    out = []
    for o in manifest.get("overrides") or []:
        lines = o.get("lines")
        what = (f"+{lines['added']} -{lines['removed']} lines" if isinstance(lines, dict)
                else "added by hand" if o.get("compiled_sha256") is None else "lines not counted")
        out.append(f"{o['file']} ({what}, adopted {o.get('when', '?')})")
    return out


def _relative(root: Path, name: str) -> str:
    """``name`` as a POSIX path inside the bundle: a path through the bundle (``m.fpga/hls/x``) or
    one relative to it (``hls/x``). Symlinks are not followed to find it."""
    given = Path(name)
    full = Path(os.path.abspath(given))
    base = Path(os.path.abspath(root))
    if base in full.parents:
        return full.relative_to(base).as_posix()
    if given.is_absolute():
        raise BundleError(f"{name} is not inside the bundle {root}")
    return given.as_posix()


def _refusal(root: Path, rel: str, listed, missing, extra, add: bool) -> str | None:
    parts = rel.split("/")
    if any(p in ("", ".", "..") for p in parts) or "\\" in rel or any(ord(c) < 32 for c in rel):
        return "not a plain path inside the bundle"
    if parts[0] not in EDITABLE or len(parts) < 2:
        what = ("it is the manifest" if rel == MANIFEST else "a build writes it, not compile" if parts[0] in BUILD_DIRS
                else "the runtime reads it" if rel in listed or rel in missing else "it is not part of the bundle")
        return (f"only files under {' and '.join(f'{d}/' for d in EDITABLE)} can be adopted ({what}); "
                f"recompile the model to change it")
    for i in range(1, len(parts) + 1):
        p = root.joinpath(*parts[:i])
        try:
            st = os.lstat(p)
        except FileNotFoundError:
            break
        if stat.S_ISLNK(st.st_mode):
            return f"{'/'.join(parts[:i])} is a symlink; replace it with the file itself"
        if i == len(parts) and not stat.S_ISREG(st.st_mode):
            return "not a regular file"
    if rel in missing:
        return "it was removed; adopt records edits, not removals: restore it (or recompile the model)"
    if rel not in listed:
        if rel not in extra:
            return "no such file in the bundle"
        if not add:
            return "a new file the manifest never listed; pass --add to adopt it as well"
    return None


def _read(root: Path, rel: str) -> bytes:
    """The bytes of ``root/rel``, opened without following a symlink at its name."""
    fd = os.open(root / rel, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_FILE_BYTES:
            raise BundleError(f"{root}: {rel} is not a regular file of at most {MAX_FILE_BYTES} bytes")
        return f.read(MAX_FILE_BYTES + 1)


def _compiled_texts(bundle, wanted: dict[str, str]) -> dict[str, bytes]:
    """The compiled bytes of the files ``wanted`` ({file: compiled sha256}), regenerated from the
    bundle's model and manifest into a scratch folder; a file whose regenerated bytes do not have
    its compiled sha256 (another fpga-accel version generated it) is left out."""
    if not wanted:
        return {}
    from .bundle_model import load_qmodel
    from .compiler import default_generators
    from .errors import FpgaAccelError

    try:
        qm = load_qmodel(bundle)
        with tempfile.TemporaryDirectory(prefix="fa-adopt-") as d:
            manifest = copy.deepcopy(bundle.manifest)
            for gen in default_generators():
                gen(Path(d), qm, manifest)
            out = {}
            for rel, digest in wanted.items():
                p = Path(d) / rel
                if digest and p.is_file():
                    raw = p.read_bytes()
                    if hashlib.sha256(raw).hexdigest() == digest:
                        out[rel] = raw
            return out
    except (FpgaAccelError, OSError, ImportError):
        return {}  # the lines are then not counted; the adoption itself does not need them


def _edit(rel: str, before: bytes | None, after: bytes, kind: str) -> Edit:
    if kind == "added":
        before = b""
    if before is None or len(before) > MAX_DIFF_BYTES or len(after) > MAX_DIFF_BYTES:
        return Edit(rel, kind)
    a = before.decode("utf-8", "replace").splitlines(keepends=True)
    b = after.decode("utf-8", "replace").splitlines(keepends=True)
    diff = list(difflib.unified_diff(a, b, f"{rel} (compiled)", f"{rel} (edited)", n=2))
    added = sum(1 for x in diff if x.startswith("+") and not x.startswith("+++"))
    removed = sum(1 for x in diff if x.startswith("-") and not x.startswith("---"))
    return Edit(rel, kind, added, removed, diff)
