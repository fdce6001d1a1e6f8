"""Reading each step's reports after it ran, into the step's entry of ``build/state.json``.

Paths in the results are relative to the bundle. Register offsets read from the generated driver
(``x<top>_hw.h``) or ``kernel.xml`` replace the compile-time predictions in ``manifest["kernel"]``.
"""
from __future__ import annotations

from pathlib import Path

from . import reports as rp
from .tools import version_from_log


def _rel(root: Path, p: Path) -> str:
    return p.relative_to(root).as_posix()


def _first(root: Path, pattern: str, prefer: str | None = None) -> Path | None:
    found = sorted(root.glob(pattern))
    if prefer:
        found.sort(key=lambda p: prefer not in p.as_posix())
    return found[0] if found else None


def collect(step: str, root: Path, top: str, log: Path, clock_mhz: float) -> dict:
    """The parsed reports of ``step`` (``hls``, ``vivado``, ``link``, ``hdk`` or ``afi``, or
    ``hls_s<k>``: dataflow segment k's synthesis in ``build/hls/s<k>``, its top ``<top>_s<k>``)."""
    out: dict = {}
    try:
        version = version_from_log(log.read_text(errors="replace"))
    except OSError:
        version = None
    if version:
        out["tool_version"] = version
    fn = {"hls": _hls, "vivado": _vivado, "link": _link, "hdk": _hdk, "afi": _afi}.get(step)
    if step.startswith("hls_s") and step[len("hls_s"):].isdigit():
        out.update(_hls(root, f"{top}_s{int(step[len('hls_s'):])}", clock_mhz, f"build/hls/{step[len('hls_'):]}"))
    elif fn:
        out.update(fn(root, top, clock_mhz))
    return out


def _hls(root: Path, top: str, clock_mhz: float, under: str = "build/hls") -> dict:
    out: dict = {}
    xml = _first(root, f"{under}/**/syn/report/csynth.xml") or _first(root, f"{under}/**/csynth.xml")
    if xml:
        out["csynth"] = {"file": _rel(root, xml), **rp.parse_csynth_xml(xml)}
    # XRT programs a kernel from kernel.xml, so that is the truth for fa_kernel; the driver header for fa_axis
    xo = _first(root, f"{under}/**/*.xo")
    if xo:
        out["xo"] = _rel(root, xo)
        text = rp.kernel_xml_from_xo(xo)
        if text:
            out["registers"] = {"file": f"{_rel(root, xo)}:kernel.xml", "offsets": rp.parse_kernel_xml(text)}
    header = _first(root, f"{under}/**/x{top}_hw.h", prefer="/impl/")
    if header and "registers" not in out:
        out["registers"] = {"file": _rel(root, header), "offsets": rp.parse_hw_header(header)}
    return out


def _vivado(root: Path, top: str, clock_mhz: float) -> dict:
    rep = root / "build/vivado/reports"
    out: dict = {"utilization": rp.parse_utilization(rep / "utilization.rpt"),
                 "timing": rp.parse_timing_summary(rep / "timing_summary.rpt"),
                 "clock": rp.parse_clock_txt(rep / "clock.txt")}
    wns = out["timing"].get("wns_ns")
    out["timing"]["fmax_mhz"] = rp.fmax_mhz(out["clock"].get("actual_mhz") or clock_mhz, wns)
    out["utilization_scope"] = "whole design: PS interconnect, DMAs and the accelerator"
    return out


def _link(root: Path, top: str, clock_mhz: float) -> dict:
    out: dict = {}
    util = _first(root, "build/link/**/*full_util_routed.rpt") or _first(root, "build/link/**/*util*routed*.rpt")
    timing = _first(root, "build/link/**/*timing_summary*routed*.rpt")
    if util:
        out["utilization"] = {"file": _rel(root, util), **rp.parse_utilization(util)}
        out["utilization_scope"] = "the platform's dynamic region (kernel and its connections)"
    if timing:
        t = rp.parse_timing_summary(timing)
        t["fmax_mhz"] = rp.fmax_mhz(clock_mhz, t.get("wns_ns"))
        out["timing"] = {"file": _rel(root, timing), **t}
    return out


def _hdk(root: Path, top: str, clock_mhz: float) -> dict:
    """The AWS HDK build: the worst slack of its post-route timing report (no summary is written)."""
    out: dict = {}
    timing = _first(root, "build/hdk/**/reports/*post_route_timing.rpt")
    if timing:
        t = rp.parse_report_timing(timing)
        t["fmax_mhz"] = rp.fmax_mhz(clock_mhz, t.get("wns_ns"))
        out["timing"] = {"file": _rel(root, timing), **t}
    return out


def _afi(root: Path, top: str, clock_mhz: float) -> dict:
    import json

    p = root / "bitstream/afi.json"
    try:
        return {"afi": json.loads(p.read_text())}
    except (OSError, ValueError):
        return {}
