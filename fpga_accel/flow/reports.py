"""Parsers of the tool reports a build leaves: Vitis HLS ``csynth.xml``, the generated driver
header ``x<top>_hw.h``, ``kernel.xml`` (inside the .xo), Vivado utilisation and timing summaries.

Each parser returns plain numbers (None where the report has no such field) and raises nothing
on an unexpected layout: a report it cannot read gives an empty result, and the build record
says which file it read.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path


def _int(text) -> int | None:
    try:
        return int(float(str(text).strip()))
    except (TypeError, ValueError):
        return None


def _float(text) -> float | None:
    try:
        return float(str(text).strip())
    except (TypeError, ValueError):
        return None


# --- Vitis HLS ---------------------------------------------------------------------------------
def parse_csynth_xml(path: Path) -> dict:
    """Top-level estimates of ``csynth.xml``: clock, latency/interval (cycles) and resources."""
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError):
        return {}

    def find(p):
        el = root.find(p)
        return None if el is None else el.text

    res = root.find("AreaEstimates/Resources")
    avail = root.find("AreaEstimates/AvailableResources")
    return {
        "version": find("ReportVersion/Version"),
        "top": find("UserAssignments/TopModelName"),
        "part": find("UserAssignments/Part"),
        "target_clock_ns": _float(find("UserAssignments/TargetClockPeriod")),
        "estimated_clock_ns": _float(find("PerformanceEstimates/SummaryOfTimingAnalysis/EstimatedClockPeriod")),
        "latency_cycles": {k: _int(find(f"PerformanceEstimates/SummaryOfOverallLatency/{tag}"))
                           for k, tag in (("best", "Best-caseLatency"), ("worst", "Worst-caseLatency"),
                                          ("interval_min", "Interval-min"), ("interval_max", "Interval-max"))},
        "resources": _hls_resources(res),
        "available": _hls_resources(avail),
    }


def _hls_resources(el) -> dict:
    if el is None:
        return {}
    get = lambda *tags: next((_int(el.find(t).text) for t in tags if el.find(t) is not None), None)
    return {"lut": get("LUT"), "ff": get("FF"), "dsp": get("DSP", "DSP48E"), "bram18": get("BRAM_18K"),
            "uram": get("URAM")}


_DEFINE = re.compile(r"#define\s+X\w+?_ADDR_(\w+?)_DATA\s+(0x[0-9a-fA-F]+|\d+)")


def parse_hw_header(path: Path) -> dict[str, int]:
    """Argument offsets from the generated driver header (``XFA_AXIS_CONTROL_ADDR_N_IMAGES_DATA 0x10``),
    keyed by the argument name in lower case."""
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return {}
    return {m.group(1).lower(): int(m.group(2), 0) for m in _DEFINE.finditer(text)}


def parse_kernel_xml(text: str) -> dict[str, int]:
    """Argument offsets from an XRT ``kernel.xml``."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError:
        return {}
    return {a.get("name"): int(a.get("offset"), 0) for a in root.iter("arg")
            if a.get("name") and a.get("offset") is not None}


def kernel_xml_from_xo(xo: Path) -> str | None:
    """The text of the ``kernel.xml`` inside an .xo archive (a zip), or None."""
    try:
        with zipfile.ZipFile(xo) as z:
            names = [n for n in z.namelist() if n.endswith("kernel.xml")]
            return z.read(names[0]).decode("utf-8", "replace") if names else None
    except (OSError, zipfile.BadZipFile):
        return None


# --- Vivado ------------------------------------------------------------------------------------
# site types of the utilisation report, 7-series and UltraScale names
_SITES = {"lut": ("Slice LUTs", "CLB LUTs"), "ff": ("Slice Registers", "CLB Registers"),
          "bram_tiles": ("Block RAM Tile",), "dsp": ("DSPs",), "uram": ("URAM",)}


def parse_utilization(path: Path) -> dict:
    """Used and available LUT, FF, BRAM (as 18 Kb blocks), DSP, URAM of a ``report_utilization`` file."""
    try:
        lines = Path(path).read_text(errors="replace").splitlines()
    except OSError:
        return {}
    used, avail, header = {}, {}, None
    for line in lines:
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells and cells[0] == "Site Type":
            header = cells
            continue
        if header is None or len(cells) != len(header):
            continue
        for key, names in _SITES.items():
            if cells[0] in names and key not in used:
                used[key] = _float(cells[header.index("Used")])
                if "Available" in header:
                    avail[key] = _float(cells[header.index("Available")])
    out: dict = {"used": {}, "available": {}}
    for src, dst in ((used, out["used"]), (avail, out["available"])):
        for key, v in src.items():
            if v is None:
                continue
            if key == "bram_tiles":  # a 36 Kb tile is two 18 Kb blocks
                dst["bram18"] = round(v * 2)
            else:
                dst[key] = int(v)
    return out if out["used"] else {}


def parse_timing_summary(path: Path) -> dict:
    """WNS/TNS/WHS/THS (ns) of the Design Timing Summary and whether every constraint is met."""
    try:
        lines = Path(path).read_text(errors="replace").splitlines()
    except OSError:
        return {}
    for i, line in enumerate(lines):
        if "WNS(ns)" in line and "TNS(ns)" in line:
            heads = re.split(r"\s{2,}", line.strip())
            for row in lines[i + 1:i + 4]:
                vals = row.split()
                if vals and not set(vals[0]) <= {"-"}:
                    nums = dict(zip(heads, vals))
                    text = "\n".join(lines)
                    out = {"wns_ns": _float(nums.get("WNS(ns)")), "tns_ns": _float(nums.get("TNS(ns)")),
                           "whs_ns": _float(nums.get("WHS(ns)")), "ths_ns": _float(nums.get("THS(ns)"))}
                    if "All user specified timing constraints are met" in text:
                        out["met"] = True
                    elif "Timing constraints are not met" in text:
                        out["met"] = False
                    else:  # no verdict line: the slacks decide
                        out["met"] = all(out[k] is None or out[k] >= 0 for k in ("wns_ns", "tns_ns", "whs_ns", "ths_ns"))
                    return out
    return {}


def parse_report_timing(path: Path) -> dict:
    """The worst slack (ns) of a ``report_timing`` file (the AWS HDK writes one after routing, no
    summary): its ``Slack (MET|VIOLATED) : X ns`` lines; ``met`` when none is violated."""
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return {}
    found = [(m.group(1), _float(m.group(2))) for m in re.finditer(r"^\s*Slack\s*\((MET|VIOLATED)\)\s*:\s*(-?[\d.]+)\s*ns",
                                                                  text, re.MULTILINE)]
    slacks = [v for _, v in found if v is not None]
    if not slacks:
        return {}
    return {"wns_ns": min(slacks), "met": all(k == "MET" for k, _ in found) and min(slacks) >= 0,
            "paths": len(slacks)}


def parse_clock_txt(path: Path) -> dict:
    """``requested_mhz`` / ``actual_mhz`` written by the Vivado script."""
    out = {}
    try:
        for line in Path(path).read_text().splitlines():
            k, _, v = line.partition(" ")
            if _float(v) is not None:
                out[k] = _float(v)
    except OSError:
        pass
    return out


def fmax_mhz(clock_mhz: float, wns_ns: float | None) -> float | None:
    """The clock the implemented design would meet: 1 / (period - WNS)."""
    if wns_ns is None:
        return None
    period = 1000.0 / clock_mhz - wns_ns
    return round(1000.0 / period, 2) if period > 0 else None
