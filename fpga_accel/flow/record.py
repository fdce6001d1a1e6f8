"""The build record: what the steps' parsed reports say, gathered for ``manifest["build"]``.

It also replaces the predicted register offsets of ``manifest["kernel"]`` by those of the
generated driver, and lists the differences. The bitstream record (``bitstream/bitstream.json``)
and its seal are defined beside the bundle, in :mod:`fpga_accel.bundle_bitstream`, where the
runtime checks them.
"""
from __future__ import annotations

from .compare import comparison
from .hls_tool import parse_release


def build_record(manifest: dict, target, state: dict) -> dict:
    """The manifest-side build record from the parsed reports of ``state[\"steps\"]``."""
    steps = state["steps"]
    rep = {name: (e.get("report") or {}) for name, e in steps.items()}
    tools = {steps[name].get("tool") or name: r["tool_version"] for name, r in rep.items() if r.get("tool_version")}
    hls = (rep.get("hls") or {}).get("csynth") or {}
    impl = rep.get("vivado") or rep.get("link") or rep.get("hdk") or {}
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
           "hls_tool": (steps.get("hls") or {}).get("hls_tool"),
           "vivado_release": parse_release(tools.get("vivado") or ""),
           "comparison": comparison(manifest, hls, impl.get("utilization"))}
    regs = (rep.get("hls") or {}).get("registers")
    if regs:
        rec["registers"] = _apply_offsets(manifest, target, regs)
    seg = sorted((int(n[len("hls_s"):]), r) for n, r in rep.items() if n.startswith("hls_s") and n[len("hls_s"):].isdigit())
    if seg:  # dataflow segments: each one's synthesis; the HLS estimate of the design is their sum
        rec["segments"] = [_segment_hls(k, r) for k, r in seg]
        rec["hls_tool"] = next((steps[f"hls_s{k}"].get("hls_tool") for k, _ in seg if steps[f"hls_s{k}"].get("hls_tool")),
                               None)
        parts = [(r.get("csynth") or {}).get("resources") or {} for _, r in seg]
        if all(parts):
            rec["resources"]["hls_estimate"] = {key: sum(p.get(key) or 0 for p in parts) for key in parts[0]}
    return rec


def _segment_hls(k: int, rep: dict) -> dict:
    """Segment k's synthesis figures and the register offsets its generated driver gives (recorded, not
    applied: the segment's own manifest keeps the compile-time offsets the runtime checks the .hwh with)."""
    hls = rep.get("csynth") or {}
    regs = rep.get("registers") or {}
    return {"index": k, "hls": {key: hls.get(key) for key in ("file", "top", "target_clock_ns", "estimated_clock_ns",
                                                               "latency_cycles", "resources")} if hls else None,
            "registers": {"file": regs.get("file"), "offsets": regs.get("offsets")} if regs else None}


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

    ip = (manifest.get("scripts") or {}).get("ip") if not kernel else None
    if ip and measured:  # the tiled engine: its register map is in the scripts' record
        regmap = ip.get("registers") or {}
        for name, off in list(regmap.items()):
            regmap[name] = offset(name, off)
        ip["offsets_source"] = regs["file"]
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
