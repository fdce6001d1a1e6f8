"""The build record: what the steps' parsed reports say, gathered for ``manifest["build"]``.

It also replaces the predicted register offsets of ``manifest["kernel"]`` by those of the
generated driver, and lists the differences. The bitstream record (``bitstream/bitstream.json``)
is sealed here: it carries the sha256 of its own content, and the bundle's sealed manifest
carries the sha256 of the record, so neither an edited record nor another build's bitstream/
passes :func:`record_problems`.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from .compare import comparison

#: files in bitstream/ a backend may load; each must be listed, with its hash, in the record
BINARY_SUFFIXES = (".bit", ".hwh", ".xclbin", ".awsxclbin")


def build_record(manifest: dict, target, state: dict) -> dict:
    """The manifest-side build record from the parsed reports of ``state[\"steps\"]``."""
    steps = state["steps"]
    rep = {name: (e.get("report") or {}) for name, e in steps.items()}
    tools = {steps[name].get("tool") or name: r["tool_version"] for name, r in rep.items() if r.get("tool_version")}
    hls = (rep.get("hls") or {}).get("csynth") or {}
    impl = rep.get("vivado") or rep.get("link") or {}
    rec = {"family": target.family, "board": target.board, "clock_mhz": target.clock_mhz,
           "steps": {n: {k: e.get(k) for k in ("status", "seconds", "started", "log")} for n, e in steps.items()},
           "tools": tools,
           "resources": {"hls_estimate": hls.get("resources"), "implemented": (impl.get("utilization") or {}).get("used"),
                         "available": (impl.get("utilization") or {}).get("available"),
                         "implemented_scope": impl.get("utilization_scope")},
           "hls": {k: hls.get(k) for k in ("file", "top", "version", "target_clock_ns", "estimated_clock_ns",
                                           "latency_cycles")} if hls else None,
           "timing": {**(impl.get("timing") or {}), **({"clock": impl["clock"]} if impl.get("clock") else {})},
           "afi": (rep.get("afi") or {}).get("afi"),
           "comparison": comparison(manifest, hls, impl.get("utilization"))}
    regs = (rep.get("hls") or {}).get("registers")
    if regs:
        rec["registers"] = _apply_offsets(manifest, target, regs)
    return rec


def _apply_offsets(manifest: dict, target, regs: dict) -> dict:
    """Replace the predicted register offsets of manifest["kernel"] by the generated driver's."""
    measured = {k.lower(): v for k, v in (regs.get("offsets") or {}).items()}
    kernel = manifest.get("kernel")
    # a rebuild finds measured offsets in the manifest already: the predictions are in the last record
    prev = ((manifest.get("build") or {}).get("registers") or {}).get("changed_from_prediction") or []
    predicted = {c["name"]: c["predicted"] for c in prev}
    changed = []

    def offset(name, current):
        m = measured.get(name.lower())
        if m is None:
            return current
        was = predicted.get(name, current)
        if m != was:
            changed.append({"name": name, "predicted": was, "measured": m})
        return m

    if kernel and measured:
        if target.is_zynq:
            axis = kernel.get("axis") or {}
            regmap = axis.get("registers") or {}
            for name, off in list(regmap.items()):
                regmap[name] = offset(name, off)
            axis["offsets_source"] = regs["file"]
        else:
            for a in kernel.get("args", []):
                a["offset"] = offset(a["name"], a.get("offset"))
            kernel["offsets_source"] = regs["file"]
    return {"file": regs["file"], "offsets": measured, "changed_from_prediction": changed}


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
