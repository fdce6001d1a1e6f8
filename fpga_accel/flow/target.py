"""What the build needs to know about the target: board family, part, clock, platform, memory,
and the AXI DMAs of a Zynq design (one per stream, sized for the largest transfer of a batch).

Board fields come from ``manifest["board"]`` (the board data plus the clock actually used); what
the manifest lacks comes from the board file of the same name (:mod:`fpga_accel.fold.boards`),
which holds every board fact: the PS of a Zynq board, the flow after the platform build of a
cloud board.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..safe_fs import UnsafePathError, plain_name
from .errors import BuildError

if TYPE_CHECKING:
    from ..fold.boards import Cloud, Ps

ZYNQ_FAMILIES = ("zynq", "zynqmp")
#: the flows after the platform build that the build scripts cover
GENERATED_CLOUD_FLOWS = ("aws-afi", "aws-hdk")

#: the F2 small shell's clk_main_a0 (aws-fpga hdk/docs/Clock_Recipes_User_Guide.md: its default, not
#: reconfigurable yet), which the kernel runs on
HDK_CLOCK_MHZ = 250.0

#: widths (bits) the AXI DMA accepts on its stream side
DMA_STREAM_WIDTHS = (8, 16, 32, 64, 128, 256, 512, 1024)
#: the DMA's buffer length register holds at most 26 bits (64 MiB - 1 per transfer)
MAX_LENGTH_WIDTH = 26
MIN_LENGTH_WIDTH = 8
#: images per DMA transfer the length register is sized for (fewer when they would not fit)
DEFAULT_MAX_BATCH = 1024


@dataclass
class Dma:
    """One AXI DMA instance moving one stream between DDR and the IP."""

    name: str            # dma_in0, dma_out0, ...
    stream: str          # the IP's AXI-Stream port (interfaces.md stream name)
    direction: str       # "in" (MM2S, memory → IP) or "out" (S2MM, IP → memory)
    tdata_bits: int      # the IP's stream width
    dma_bits: int        # the DMA's stream width (a width the DMA accepts, >= tdata_bits)
    bytes_per_image: int
    max_images: int      # images one transfer may carry
    length_width: int    # c_sg_length_width
    mm_bits: int = 64    # memory-map data width (the HP port is 64 bits on Zynq-7000)
    addr_width: int = 32  # 64 on Zynq UltraScale+, where buffers may lie above 4 GiB
    prefix: str = ""     # "s<k>_" for dataflow segment k: its converters' names stay unique in one design

    @property
    def converter(self) -> str | None:
        """Name of the AXI-Stream width converter between DMA and IP, when the widths differ."""
        return f"width_{self.prefix}{self.stream}" if self.dma_bits != self.tdata_bits else None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "stream": self.stream, "direction": self.direction,
                "tdata_bits": self.tdata_bits, "dma_bits": self.dma_bits, "bytes_per_image": self.bytes_per_image,
                "max_images_per_transfer": self.max_images, "length_width": self.length_width,
                "mm_data_width": self.mm_bits, "addr_width": self.addr_width, "width_converter": self.converter}


@dataclass
class Target:
    board: str
    family: str
    part: str | None
    clock_mhz: float
    platform: str | None = None
    board_part: str | None = None
    memory: Any = None
    extra: dict = field(default_factory=dict)
    ps: Ps | None = None         # the processing system (Zynq boards); the board file's when not given
    cloud: Cloud | None = None   # the flow after the platform build (cloud boards)

    def __post_init__(self):
        if self.ps is None and self.is_zynq:
            from ..fold.boards import Ps, with_board_file  # the board files load only when a build needs them

            self.ps = _nested(with_board_file({"name": self.board}), "ps", Ps)

    @property
    def is_zynq(self) -> bool:
        return self.family in ZYNQ_FAMILIES

    @property
    def is_hdk(self) -> bool:
        """Custom logic in a cloud shell (AWS F2): fa_kernel as Vivado IP, no Vitis platform."""
        return self.family == "hdk"

    @property
    def flow(self) -> str | None:
        """The cloud flow (``aws-afi``, ...) or None."""
        return self.cloud.flow if self.cloud else None


def target_of(manifest: dict) -> Target:
    """The :class:`Target` of a bundle's manifest; a :class:`BuildError` when the board data lacks
    what the build needs."""
    board = manifest.get("board") or {}
    if not isinstance(board, dict):
        raise BuildError(f"the manifest's board is a {type(board).__name__}, not an object; recompile the model")
    b = dict(board)
    name = b.get("name")
    if not name:
        raise BuildError("the manifest has no board name; recompile the model with --board")
    try:  # the name becomes part of registry paths
        plain_name(name, "the manifest's board name")
    except UnsafePathError as e:
        raise BuildError(f"{e}; recompile the model with a board of `fpga-accel boards`") from None
    from ..fold.boards import Cloud, Ps, with_board_file  # the board files load only when a build needs them

    b = with_board_file(b)
    cloud = _nested(b, "cloud", Cloud)
    if cloud is not None and cloud.flow not in GENERATED_CLOUD_FLOWS:
        raise BuildError(f"board '{name}': the {cloud.title} flow is not generated yet: {cloud.note.rstrip('.')}; "
                         "the bundle's hls/ project is what to take into it by hand")
    family = b.get("family")
    if family not in (*ZYNQ_FAMILIES, "vitis", "hdk") or (family == "hdk") != (cloud is not None and
                                                                              cloud.flow == "aws-hdk"):
        raise BuildError(f"board '{name}': family {family!r} is not one the build knows (zynq, zynqmp, vitis, or hdk "
                         "with the aws-hdk flow); the board data must give it")
    if family in ZYNQ_FAMILIES and not b.get("part"):
        raise BuildError(f"board '{name}': the board data gives no FPGA part, which Vivado needs")
    ps = _nested(b, "ps", Ps)
    if family in ZYNQ_FAMILIES and ps is None:
        raise BuildError(f"board '{name}': the board data describes no processing system ('ps'), which the block "
                         "design needs; add it to the board file")
    clock = b.get("clock_mhz")
    if isinstance(clock, bool) or not isinstance(clock, (int, float)) or not 0 < clock < float("inf"):
        raise BuildError(f"board '{name}': the manifest's clock_mhz is {clock!r}, not a positive number of MHz; "
                         "recompile the model")
    if family == "hdk" and float(clock) != HDK_CLOCK_MHZ:
        raise BuildError(f"board '{name}': the kernel runs on the F2 shell's clk_main_a0, {HDK_CLOCK_MHZ:g} MHz (the "
                         f"HDK does not reconfigure it), not {clock:g} MHz; recompile with --clock {HDK_CLOCK_MHZ:g}")
    return Target(board=name, family=family, part=b.get("part"), clock_mhz=float(clock),
                  platform=b.get("platform"), board_part=b.get("board_part"), memory=b.get("memory"), extra=b,
                  ps=ps, cloud=cloud)


def _nested(board: dict, key: str, cls):
    """``board[key]`` (a dict from a manifest or a board file) as ``cls``, or None; a
    :class:`BuildError` when it does not describe one."""
    v = board.get(key)
    if v is None or isinstance(v, cls):
        return v
    try:
        return cls.from_dict(v)
    except (TypeError, ValueError, AttributeError) as e:
        raise BuildError(f"board '{board.get('name')}': the manifest's {key} is not valid ({e}); recompile the "
                         "model") from None


def dma_plan(streams: list[dict], addr_width: int = 32, max_batch: int = DEFAULT_MAX_BATCH) -> list[Dma]:
    """One DMA per stream of ``manifest["kernel"]["axis"]["streams"]``, named dma_<stream name>.
    ``addr_width`` is the DMAs' address width (:attr:`Ps.dma_addr_width` of the board).

    The length register covers ``max_batch`` images per MM2S transfer (fewer when they would pass
    the 26-bit limit); an output stream with TLAST after each image needs one image per transfer.
    """
    out = []
    for s in streams:
        tdata = int(s["tdata_bits"])
        if tdata > DMA_STREAM_WIDTHS[-1]:
            raise BuildError(f"stream '{s['name']}' is {tdata} bits wide; the AXI DMA takes at most "
                             f"{DMA_STREAM_WIDTHS[-1]}; use fewer lanes for tensor '{s.get('tensor')}'")
        dma_bits = next(w for w in DMA_STREAM_WIDTHS if w >= tdata)
        per_image = int(s["beats_per_image"]) * tdata // 8
        limit = (1 << MAX_LENGTH_WIDTH) - 1
        if per_image > limit:
            raise BuildError(f"stream '{s['name']}': one image is {per_image} bytes, more than one AXI DMA "
                             f"transfer can carry ({limit} bytes)")
        # an S2MM transfer ends at TLAST: with TLAST after every image, one transfer is one image
        per_transfer = 1 if (s["direction"] == "out" and s.get("tlast", "image") == "image") else max_batch
        images = max(1, min(per_transfer, limit // per_image))
        width = max(MIN_LENGTH_WIDTH, (images * per_image).bit_length())
        out.append(Dma(name=f"dma_{s['name']}", stream=s["name"], direction=s["direction"], tdata_bits=tdata,
                       dma_bits=dma_bits, bytes_per_image=per_image, max_images=images, length_width=width,
                       mm_bits=max(64, dma_bits), addr_width=addr_width))
    return out


def memory_tags(memory) -> list[str]:
    """Vitis memory tags (``DDR[0]``, ``HBM[7]``, ...) of the board's memory description: a list of
    ``{"name", "banks"}`` entries (a name like ``DDR[1]`` is a tag; ``HBM`` with 32 banks gives
    ``HBM[0]`` .. ``HBM[31]``), a list of tags, or a dict with ``tags``/``banks`` and ``kind``."""
    tags: list[str] = []
    entries = memory if isinstance(memory, (list, tuple)) else [memory] if memory else []
    for e in entries:
        if isinstance(e, dict) and isinstance(e.get("tags"), list):
            tags += [str(t) for t in e["tags"]]
            continue
        if isinstance(e, dict) and isinstance(e.get("banks"), list):
            tags += [str(t) for t in e["banks"]]
            continue
        name = str(e.get("name") or e.get("kind") or e.get("type") or "DDR") if isinstance(e, dict) else str(e)
        banks = int(e.get("banks") or 1) if isinstance(e, dict) else 1
        if re.fullmatch(r"[A-Za-z]+\[\d+(:\d+)?\]", name):
            tags.append(name)
        elif re.fullmatch(r"[A-Za-z]+", name):
            tags += [f"{name}[{i}]" for i in range(banks)]
    return tags or ["DDR[0]"]


def memory_banks(target: Target, n_args: int) -> list[str]:
    """The memory tag of each buffer argument of fa_kernel.

    HBM boards give each argument its own pseudo-channel; DDR boards keep every buffer in the
    first bank (the shell's default), which leaves placement and routing simplest.
    """
    tags = memory_tags(target.memory)
    if tags[0].upper().startswith("HBM"):
        return [tags[i % len(tags)] for i in range(n_args)]
    return [tags[0]] * n_args
