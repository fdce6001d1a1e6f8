"""Target boards: one JSON file per board in this directory (package data).

Each file gives the FPGA part, its resource totals from the vendor's product table (``source``
names the document), the default clock, the family (``zynq`` / ``zynqmp``: a PYNQ overlay with
an AXI DMA; ``vitis``: an XRT kernel in a platform's dynamic region), the platform or shell,
the memory, and ``reserved``: the share of each resource the platform / shell (Vitis) or the PS
glue (Zynq) takes, with ``reserved_source`` saying where that share comes from and whether it is
an estimate. A new board is a new file.
"""
from __future__ import annotations

import dataclasses
import json
import warnings
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from ...errors import InputError
from ...safe_fs import PLAIN_NAME

RESOURCES = ("dsp", "bram18", "uram", "lut", "ff")


class ClockWarning(UserWarning):
    """A clock above what the board's part can carry."""

FAMILIES = ("zynq", "zynqmp", "vitis")


@dataclass(frozen=True)
class Board:
    """One target board. Resource counts are device totals; :meth:`available` takes off ``reserved``."""

    name: str
    part: str
    family: str
    device: str
    dsp_type: str  # "DSP48E1" (7-series: 25x18 multiplier) or "DSP48E2" (UltraScale+: 27x18)
    dsp: int
    bram18: int
    uram: int
    lut: int
    ff: int
    clock_mhz: float
    source: str
    platform: str | None
    memory: list[dict[str, Any]]
    attachment: str
    description: str = ""
    reserved: dict[str, float] = field(default_factory=dict)
    reserved_source: str = ""
    retired: str | None = None
    #: the clock tree's ceiling from the part's data sheet (``max_clock_source``): a --clock above
    #: it is warned about; below it nothing is promised, timing closure decides
    max_clock_mhz: float | None = None
    max_clock_source: str = ""

    def total(self, kind: str) -> int:
        return int(getattr(self, kind))

    def available(self, kind: str) -> int:
        """What the accelerator may use of ``kind`` once the shell / PS glue has taken its share."""
        return int(self.total(kind) * (1.0 - float(self.reserved.get(kind, 0.0))))

    @property
    def dsp_port_bits(self) -> int:
        """Width of the wide multiplier input: 25 bits on DSP48E1, 27 on DSP48E2."""
        return 25 if self.dsp_type == "DSP48E1" else 27

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def warn_clock(self, clock_mhz: float | None) -> None:
        """A :class:`ClockWarning` when ``clock_mhz`` is above what this part's clock tree carries."""
        if clock_mhz is not None and self.max_clock_mhz is not None and clock_mhz > self.max_clock_mhz:
            warnings.warn(f"clock {clock_mhz:g} MHz is above {self.max_clock_mhz:g} MHz, the most the clock tree of "
                          f"{self.part} ({self.name}) carries; the estimates assume a clock no build reaches. Choose "
                          f"a clock below it (the board's default is {self.clock_mhz:g} MHz)", ClockWarning, stacklevel=3)


def board_names() -> list[str]:
    """Names of the known boards, sorted."""
    return sorted(_load_all())


def get_board(name: str | Board) -> Board:
    """The :class:`Board` called ``name``; an :class:`InputError` listing the known names otherwise."""
    if isinstance(name, Board):
        return name
    boards = _load_all()
    if not isinstance(name, str) or name not in boards:
        raise InputError(f"unknown board '{name}'; known boards: {', '.join(sorted(boards))}")
    return boards[name]


@cache
def _load_all() -> dict[str, Board]:
    out = {}
    for entry in resources.files(__name__).iterdir():
        if entry.name.endswith(".json"):
            try:
                data = json.loads(entry.read_text(encoding="utf-8"))
            except ValueError as e:
                raise InputError(f"board file {entry.name}: not valid JSON ({e})") from None
            out[entry.name[:-5]] = _parse(entry.name, data)
    return out


def _parse(file: str, d: dict) -> Board:
    if not isinstance(d, dict):
        raise InputError(f"board file {file}: must hold a JSON object, not a {type(d).__name__}")
    fields = dataclasses.fields(Board)
    unknown = sorted(set(d) - {f.name for f in fields})
    if unknown:
        raise InputError(f"board file {file}: unknown key(s) {unknown}")
    missing = [f.name for f in fields if f.default is dataclasses.MISSING
               and f.default_factory is dataclasses.MISSING and f.name not in d]
    if missing:
        raise InputError(f"board file {file}: missing key(s) {missing}")
    if not isinstance(d["name"], str) or not PLAIN_NAME.fullmatch(d["name"]):
        # the name becomes part of registry paths: keep it a plain file name
        raise InputError(f"board file {file}: name {d['name']!r} must be lower-case letters, digits and '._-'")
    b = Board(**d)
    if b.family not in FAMILIES:
        raise InputError(f"board file {file}: family must be one of {FAMILIES}, got {b.family!r}")
    if b.name + ".json" != file:
        raise InputError(f"board file {file}: its name field is {b.name!r}")
    return b
