"""Target boards: one JSON file per board in this directory (package data), every fact of a board in it.

Each file gives the FPGA part, its resource totals from the vendor's product table (``source``
names the document), the default clock, the family (``zynq`` / ``zynqmp``: a PYNQ overlay with
an AXI DMA; ``vitis``: an XRT kernel in a platform's dynamic region; ``hdk``: custom logic in a
cloud shell), the platform or shell, the memory and its peak bandwidth (``ddr_gbps``), and
``reserved``: the share of each resource the platform / shell (Vitis) or the PS glue (Zynq) takes,
with ``reserved_source`` saying where that share comes from and whether it is an estimate. Zynq
boards add the Vivado board part and ``ps``: the processing system the block design and the
``.hwh`` describe (:class:`Ps`). Cloud boards add ``cloud``: the flow after the platform build
(:class:`Cloud`). ``sources`` says where the later facts come from. A new board is a new file.
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

FAMILIES = ("zynq", "zynqmp", "vitis", "hdk")
#: flows after the platform build: ``aws-afi`` (the .xclbin becomes an Amazon FPGA image, F1's
#: Vitis flow) and ``aws-hdk`` (the AWS HDK custom-logic flow, F2)
CLOUD_FLOWS = ("aws-afi", "aws-hdk")


@dataclass(frozen=True)
class Ps:
    """The processing system of a Zynq board: what the block design script and the ``.hwh`` name.

    Property names with ``{i}`` (PL clock) and ``{j}`` (divisor) are templates over the PS's PL clocks.
    """

    vlnv: str                 # the PS IP, as the .hwh gives it (xilinx.com:ip:NAME:VERSION)
    cell: str                 # its cell in the block design (ps7, ps8)
    arch: str                 # the .hwh SYSTEMINFO ARCH (zynq, zynquplus)
    automation_rule: str      # the Vivado block-automation rule that applies the board preset
    automation_config: str    # its -config argument (Tcl; $preset is 1 when the board files are installed)
    automation_needs_board_files: bool  # run the rule only when the board preset is available
    master: str               # the PS master port mapping the control registers (GP0, HPM0_FPD)
    master_protocol: str      # AXI3 (Zynq-7000 GP) or AXI4
    register_base: int        # address the first control port gets on that master port
    hp: str                   # the PS slave port the DMAs reach DDR through
    hp_bits: int              # its data width as config sets it (the widest it has), clocked by the PL clock
    hp_ddr_bytes: int         # the DDR range that port reaches (from address 0)
    dma_addr_width: int       # address width of the DMAs (64 where buffers may lie above 4 GiB)
    config: dict[str, str]    # CONFIG properties the block design sets to enable the master and HP ports
    clock_pin: str            # PL clock 0 and its reset, as PS pins
    reset_pin: str
    pll_mhz: float            # the PLL the PL clocks divide (the board preset's IO PLL)
    pll_name: str             # its name in the clock-source property
    clock_freq: str           # property: requested PL clock 0 (MHz)
    clock_actual: str         # property: PL clock 0 the divisors give (MHz)
    clock_enable: str         # property template: PL clock {i} enabled
    clock_divisor: str        # property template: divisor {j} of PL clock {i}
    clock_source: str         # property template: the PLL of PL clock {i}
    clocks: int = 4           # PL clocks the PS has
    #: the PS's HP ports, each: ``config`` (the CONFIG properties enabling it at ``hp_bits``), ``segment``
    #: (its DDR address segment, CELL-relative), ``clock_pin`` and ``ddr_port`` (the DDR controller port it
    #: reaches; ports naming the same one share it)
    hp_ports: dict[str, dict] = field(default_factory=dict)
    #: the HP port the tiled engine's weights master goes through (its activations and descriptors go
    #: through ``hp``): one on another DDR controller port than ``hp``'s; None: every master on ``hp``
    hp_weights: str | None = None
    #: the second HP ports of a split engine (tiled/ports.py ``split``): the odd input rows of a dense
    #: convolution's loads go through ``hp_b``, the second half of its weight runs through ``hp_weights_b``;
    #: both or neither, with ``hp_weights``, four distinct ports
    hp_b: str | None = None
    hp_weights_b: str | None = None

    @property
    def ip(self) -> str:
        """The IP name (``processing_system7``), the module type in the .hwh."""
        return self.vlnv.split(":")[2]

    @property
    def instance(self) -> str:
        """The PS instance name in the .hwh."""
        return f"{self.ip}_0"

    @classmethod
    def from_dict(cls, d: dict) -> Ps:
        """From a board file or a manifest; addresses may be hex strings ("0x40000000")."""
        return cls(**{**d, **{k: _int(d[k]) for k in ("register_base", "hp_ddr_bytes") if k in d}})


@dataclass(frozen=True)
class Cloud:
    """A flow after the platform build, on a cloud instance's shell."""

    flow: str                 # one of CLOUD_FLOWS
    title: str                # short name in messages ("F1 AFI")
    note: str                 # the line generated scripts and messages carry (retirement, limits)
    step_note: str = ""       # the shortest form, in the flow step's one-line description

    @classmethod
    def from_dict(cls, d: dict) -> Cloud:
        return cls(**d)


def _int(v) -> int:
    return int(v, 0) if isinstance(v, str) else int(v)


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
    #: peak bandwidth (GB/s, 1e9 bytes/s) of the off-chip memory the accelerator's data moves
    #: through (DDR; HBM on HBM cards), for the roofline; None when not known
    ddr_gbps: float | None = None
    #: the Vivado board part of the PS preset, as a glob pattern (the installed version is picked)
    board_part: str | None = None
    ps: Ps | None = None
    cloud: Cloud | None = None
    #: the PYNQ image the board runs and the newest Vivado release whose .hwh that image's parser is
    #: known to read (the release the image was built with); None when not known
    pynq_image: str | None = None
    vivado_max: str | None = None
    #: where the facts without a ``*_source`` field come from (ddr_gbps, board_part, ps, cloud, pynq_image)
    sources: dict[str, str] = field(default_factory=dict)

    def total(self, kind: str) -> int:
        return int(getattr(self, kind))

    def available(self, kind: str) -> int:
        """What the accelerator may use of ``kind`` once the shell / PS glue has taken its share."""
        return int(self.total(kind) * (1.0 - float(self.reserved.get(kind, 0.0))))

    @property
    def dsp_port_bits(self) -> int:
        return port_bits(self.dsp_type)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def warn_clock(self, clock_mhz: float | None) -> None:
        """A :class:`ClockWarning` when ``clock_mhz`` is above what this part's clock tree carries."""
        if clock_mhz is not None and self.max_clock_mhz is not None and clock_mhz > self.max_clock_mhz:
            warnings.warn(f"clock {clock_mhz:g} MHz is above {self.max_clock_mhz:g} MHz, the most the clock tree of "
                          f"{self.part} ({self.name}) carries; the estimates assume a clock no build reaches. Choose "
                          f"a clock below it (the board's default is {self.clock_mhz:g} MHz)", ClockWarning, stacklevel=3)


def port_bits(dsp_type: str) -> int:
    """Width of a DSP's wide multiplier input: 25 bits on DSP48E1 (7-series, UG479), 27 on DSP48E2
    (UltraScale / UltraScale+, UG579)."""
    return 25 if dsp_type == "DSP48E1" else 27


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


def _nested(file: str, key: str, cls, d) -> Any:
    names = {f.name for f in dataclasses.fields(cls)}
    if not isinstance(d, dict):
        raise InputError(f"board file {file}: {key} must be a JSON object, not a {type(d).__name__}")
    unknown = sorted(set(d) - names)
    missing = sorted(f.name for f in dataclasses.fields(cls) if f.default is dataclasses.MISSING and f.name not in d)
    if unknown or missing:
        raise InputError(f"board file {file}: {key} has unknown key(s) {unknown}, missing key(s) {missing}")
    try:
        return cls.from_dict(d)
    except (TypeError, ValueError) as e:
        raise InputError(f"board file {file}: {key}: {e}") from None


#: fields that become Tcl or shell code in the build scripts: taken from the board file (package
#: data) only, never from a manifest, which may come from anywhere
FROM_BOARD_FILE_ONLY = ("ps", "cloud")
#: fields a manifest alone gives: the clock the bundle was compiled for, never the board's default
FROM_MANIFEST_ONLY = ("clock_mhz",)


def with_board_file(data: dict) -> dict:
    """A manifest's board (the board file's fields when it was compiled, and the clock used) over
    the current board file of the same name, so a bundle compiled before a field existed still
    has it; values the manifest leaves out or sets to null come from the board file,
    :data:`FROM_BOARD_FILE_ONLY` only from there (None for a board without a file) and
    :data:`FROM_MANIFEST_ONLY` only from the manifest."""
    boards = _load_all()
    name = data.get("name")
    known = boards[name].to_dict() if isinstance(name, str) and name in boards else {}
    out = {**known, **{k: v for k, v in data.items() if v is not None}}
    return {**out, **{k: known.get(k) for k in FROM_BOARD_FILE_ONLY}, **{k: data.get(k) for k in FROM_MANIFEST_ONLY}}


def _check_hp(file: str, ps: Ps) -> None:
    """The HP port's width: a whole number of bytes, and the width ``config`` gives the port (the
    block design sets the PS's only ``*DATA_WIDTH`` properties for it), so the cost model and the
    design agree."""
    if isinstance(ps.hp_bits, bool) or not isinstance(ps.hp_bits, int) or ps.hp_bits not in (32, 64, 128):
        raise InputError(f"board file {file}: ps.hp_bits must be 32, 64 or 128 (an HP port's widths), "
                         f"got {ps.hp_bits!r}")
    widths = {k: v for k, v in ps.config.items() if k.endswith("DATA_WIDTH")}
    for port in ps.hp_ports.values():
        if not isinstance(port, dict) or set(port) != {"config", "segment", "clock_pin", "ddr_port"}:
            raise InputError(f"board file {file}: each of ps.hp_ports gives config, segment, clock_pin and ddr_port")
        widths.update({k: v for k, v in port["config"].items() if k.endswith("DATA_WIDTH")})
    if any(str(v) != str(ps.hp_bits) for v in widths.values()):
        raise InputError(f"board file {file}: ps.hp_bits is {ps.hp_bits} but ps.config sets {widths}")
    if ps.hp_weights is not None:
        ports = ps.hp_ports
        if ps.hp not in ports or ps.hp_weights not in ports:
            raise InputError(f"board file {file}: ps.hp ({ps.hp}) and ps.hp_weights ({ps.hp_weights}) must be among "
                             f"ps.hp_ports ({', '.join(ports)})")
        if ports[ps.hp]["ddr_port"] == ports[ps.hp_weights]["ddr_port"]:
            raise InputError(f"board file {file}: ps.hp_weights ({ps.hp_weights}) shares a DDR controller port with "
                             f"ps.hp ({ps.hp}); choose an HP port on another one")
    if (ps.hp_b is None) != (ps.hp_weights_b is None):
        raise InputError(f"board file {file}: ps.hp_b and ps.hp_weights_b come together (both or neither)")
    if ps.hp_b is not None:
        named = (ps.hp, ps.hp_weights, ps.hp_b, ps.hp_weights_b)
        if ps.hp_weights is None or any(n not in ps.hp_ports for n in named) or len(set(named)) != 4:
            raise InputError(f"board file {file}: ps.hp, ps.hp_weights, ps.hp_b and ps.hp_weights_b must be four "
                             f"different ports among ps.hp_ports ({', '.join(ps.hp_ports)}), got {', '.join(map(str, named))}")


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
    d = dict(d)
    for key, cls in (("ps", Ps), ("cloud", Cloud)):
        if d.get(key) is not None:
            d[key] = _nested(file, key, cls, d[key])
    b = Board(**d)
    if b.family not in FAMILIES:
        raise InputError(f"board file {file}: family must be one of {FAMILIES}, got {b.family!r}")
    if (b.ps is None) == (b.family in ("zynq", "zynqmp")):
        raise InputError(f"board file {file}: a {b.family} board " + ("needs" if b.ps is None else "has no") + " 'ps'")
    if b.ps is not None:
        _check_hp(file, b.ps)
    if b.cloud is not None and b.cloud.flow not in CLOUD_FLOWS:
        raise InputError(f"board file {file}: cloud.flow must be one of {CLOUD_FLOWS}, got {b.cloud.flow!r}")
    if b.ddr_gbps is not None and not (isinstance(b.ddr_gbps, (int, float)) and b.ddr_gbps > 0):
        raise InputError(f"board file {file}: ddr_gbps must be a positive number of GB/s, got {b.ddr_gbps!r}")
    if "ddr_gbps" not in b.sources:
        raise InputError(f"board file {file}: sources.ddr_gbps must say where the bandwidth comes from "
                         "(or why it is not known)")
    if b.name + ".json" != file:
        raise InputError(f"board file {file}: its name field is {b.name!r}")
    return b
