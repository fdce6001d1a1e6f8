"""Timing closure of an implemented design: a bitstream that failed timing is not kept.

The Vivado step's script writes ``reports/timing_summary.rpt`` (``report_timing_summary``) and
copies the bitstream only when the report says every constraint is met; the runner reads the
same report (for the link step, v++'s routed timing summary where it wrote one) and refuses the
build with the WNS, the report and the way out, unless ``--allow-timing-failure`` keeps it.
"""
from __future__ import annotations

from pathlib import Path

from . import reports as rp
from .errors import EXIT_TOOL_FAILED, BuildError

VIVADO_REPORT = "build/vivado/reports/timing_summary.rpt"
LINK_REPORTS = ("build/link/**/*timing_summary*routed*.rpt",)


class TimingNotMetError(BuildError):
    """The implemented design misses its clock: the bitstream would not work reliably."""

    exit_code = EXIT_TOOL_FAILED

    def __init__(self, step: str, report: str, timing: dict, clock_mhz: float, kept: str | None = None):
        self.step, self.report, self.timing = step, report, timing
        wns, tns, whs = timing.get("wns_ns"), timing.get("tns_ns"), timing.get("whs_ns")
        fmax = rp.fmax_mhz(clock_mhz, wns) if wns is not None and wns < 0 else None
        lines = [f"step '{step}': the design does not meet timing at {clock_mhz:g} MHz: WNS {_ns(wns)}, "
                 f"TNS {_ns(tns)}, WHS {_ns(whs)} (report: {report}).",
                 "The bitstream was not kept" + (f" (the unchecked one stays in {kept})" if kept else "") + "."]
        way = "Recompile for a lower clock (`fpga-accel compile --clock MHZ`"
        way += f"; about {fmax:g} MHz would meet this implementation)" if fmax else ")"
        lines.append(f"Way out: {way} and build again, or rebuild with --allow-timing-failure to keep a "
                     "bitstream that may compute wrong results.")
        super().__init__("\n".join(lines))


def _ns(v) -> str:
    return "n/a" if v is None else f"{v:+.3f} ns"


def timing_report(root: Path, step: str) -> Path | None:
    """The timing summary the step left, or None (the link step's report name is not fixed)."""
    if step == "vivado":
        p = root / VIVADO_REPORT
        return p if p.is_file() else None
    if step == "link":
        for pattern in LINK_REPORTS:
            found = sorted(p for p in root.glob(pattern) if p.is_file())
            if found:
                return found[0]
    return None


def failed(timing: dict) -> bool:
    """Whether a parsed timing summary says the design misses timing (setup or hold)."""
    if not timing:
        return False
    if timing.get("met") is False:
        return True
    return any((timing.get(k) is not None and timing[k] < 0) for k in ("wns_ns", "tns_ns", "whs_ns", "ths_ns"))


def check_timing(root: Path, step: str, clock_mhz: float, kept: str | None = None) -> dict | None:
    """Raise :class:`TimingNotMetError` when the step's timing summary says timing failed; return
    the parsed summary (None when the step left none)."""
    path = timing_report(root, step)
    if path is None:
        return None
    timing = rp.parse_timing_summary(path)
    if failed(timing):
        raise TimingNotMetError(step, str(path), timing, clock_mhz, kept)
    return timing
