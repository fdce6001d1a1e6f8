"""Measured resources and cycles next to the folder's estimates (``manifest["layers"][i]["estimate"]``).

Estimates are labelled as such everywhere; a bundle compiled without estimates gets no comparison.
"""
from __future__ import annotations

RESOURCES = ("lut", "ff", "dsp", "bram18", "uram")


def estimate_totals(manifest: dict) -> dict | None:
    """The folder's design totals (layers, width converters and I/O adapters) and cycles per image;
    without them the sum of the per-layer estimates and the slowest layer's cycles; or None."""
    fold = manifest.get("fold")
    if isinstance(fold, dict) and isinstance(fold.get("totals"), dict):
        out = {k: int(fold["totals"].get(k) or 0) for k in RESOURCES}
        out["cycles"] = int(fold.get("cycles_per_image") or 0)
        return out
    ests = [lay.get("estimate") for lay in manifest.get("layers", []) if isinstance(lay.get("estimate"), dict)]
    if not ests:
        return None
    out = {k: sum(int(e.get(k) or 0) for e in ests) for k in RESOURCES}
    out["cycles"] = max(int(e.get("cycles") or 0) for e in ests)
    return out


def comparison(manifest: dict, hls: dict | None, implemented: dict | None) -> list[dict]:
    """One row per resource (and ``cycles``): estimate, HLS synthesis, implementation, ratios."""
    est = estimate_totals(manifest)
    if est is None:
        return []
    hres = (hls or {}).get("resources") or {}
    ires = (implemented or {}).get("used") or {}
    rows = []
    for k in RESOURCES:
        rows.append(_row(k, est.get(k), hres.get(k), ires.get(k)))
    lat = (hls or {}).get("latency_cycles") or {}
    rows.append(_row("cycles", est.get("cycles"), lat.get("interval_max"), None))
    return rows


def _row(name, est, hls, impl) -> dict:
    def ratio(x):
        return round(x / est, 3) if (x is not None and est) else None

    return {"resource": name, "estimate": est, "hls": hls, "implemented": impl,
            "hls_over_estimate": ratio(hls), "implemented_over_estimate": ratio(impl)}
