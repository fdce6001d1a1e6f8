"""Whether a PYNQ image can read the .hwh of a Vivado release (the build-side check).

PYNQ parses the hardware handoff with the parser of the Vivado release its image was built with;
a .hwh from a newer Vivado may fail to load. The board file says which PYNQ image the board runs
(``pynq_image``) and the newest Vivado whose .hwh it is known to read (``vivado_max``); the runtime
makes the same comparison when it loads the overlay (:mod:`fpga_accel.hwh_compat`).
"""
from __future__ import annotations

from ..hwh_compat import newer_than_image


def hwh_warning(target, vivado_version: str | None) -> str | None:
    """A warning when ``vivado_version`` (the build's) is newer than the board's PYNQ image reads."""
    b = target.extra or {}
    return newer_than_image(vivado_version, b.get("vivado_max"), b.get("pynq_image"), target.board)
