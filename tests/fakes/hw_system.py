"""The whole board as the host sees it: an address map of register blocks, DDR, and the links
between DMAs and the IP. Every register access lets the hardware move as far as it can."""
from __future__ import annotations

from .hw_dma import AxiDmaModel
from .hw_ip import FaAxisModel
from .hw_memory import DeviceMemory
from .hw_stream import AxisLink


class BoardModel:
    """Built from an ``ip_dict`` (as a .hwh gives it), the manifest's ``kernel.axis`` and the
    QModel the bitstream implements. ``fifo_images``: images each IP-side FIFO holds.
    :meth:`segmented` builds the board of a bundle in dataflow segments: one IP per segment."""

    def __init__(self, ip_dict: dict, axis: dict, qmodel, fifo_images: int = 2, uram: dict | None = None):
        self.memory = DeviceMemory()
        self.violations: list[str] = []
        self.transfers: list[tuple[str, int, int]] = []
        self.started_with: list[int] = []
        self.blocks = []  # (base, size, model)
        self.ips: list[FaAxisModel] = []
        self.dmas = {}
        self.ip = self.attach(ip_dict, "fa_axis_0", axis, qmodel, fifo_images, uram=uram)

    def attach(self, ip_dict: dict, instance: str, axis: dict, qmodel, fifo_images: int = 2,
               dma_of=None, key_of=None, uram: dict | None = None) -> FaAxisModel:
        """Wire streaming IP ``instance`` computing ``qmodel`` to its DMAs: ``dma_of(stream)`` names
        them (default ``dma_<stream>``, else the next unnamed DMA); ``self.dmas[key_of(stream)]``."""
        ip_key = next(k for k in ip_dict if k.rsplit("/", 1)[-1] == instance)
        regs = {k: v["address_offset"] for k, v in ip_dict[ip_key]["registers"].items()}
        ip = FaAxisModel(self, axis, qmodel, regs, uram)
        self._map(ip_dict[ip_key], ip)
        self.ips.append(ip)
        taken = {d.name for d in self.dmas.values()}
        spare = [k for k, v in ip_dict.items() if v["type"].startswith("xilinx.com:ip:axi_dma:") and k not in taken]
        for s in axis["streams"]:  # the DMA named after the stream, else the next unnamed one
            want = dma_of(s["name"]) if dma_of else f"dma_{s['name']}"
            key = next((k for k in spare if k.rsplit("/", 1)[-1] == want), None)
            key = key or next(k for k in spare if not k.rsplit("/", 1)[-1].startswith("dma_"))
            spare.remove(key)
            dma = AxiDmaModel(key, ip_dict[key]["parameters"], self)
            self._map(ip_dict[key], dma)
            self.dmas[key_of(s["name"]) if key_of else s["name"]] = dma
            link = AxisLink(s["name"], s["tdata_bits"] // 8, fifo_images * s["beats_per_image"])
            if s["direction"] == "in":
                dma.mm2s.link = link
                ip.inputs[s["name"]] = link
            else:
                dma.s2mm.link = link
                ip.outputs[s["name"]] = link
        return ip

    def _map(self, desc, model):
        self.blocks.append((int(desc["phys_addr"]), int(desc["addr_range"]), model))

    def violation(self, msg: str) -> None:
        self.violations.append(msg)

    def _block(self, addr):
        for base, size, model in self.blocks:
            if base <= addr < base + size:
                return model, addr - base
        raise KeyError(f"no register block at {addr:#x}")

    def read(self, addr: int) -> int:
        model, off = self._block(addr)
        self.pump()
        return int(model.read(off)) & 0xFFFFFFFF

    def write(self, addr: int, value: int) -> None:
        if not 0 <= int(value) < 1 << 32:
            raise OverflowError(f"register write of {value} at {addr:#x} does not fit 32 bits")
        model, off = self._block(addr)
        model.write(off, int(value))
        self.pump()

    def pump(self) -> None:
        """Let the DMAs and the IP move data until nothing can move."""
        while True:
            moved = False
            for dma in self.dmas.values():
                moved |= dma.step()
            for ip in self.ips:
                moved |= ip.step()
            if not moved:
                return


def segmented(ip_dict: dict, segments: list, fifo_images: int = 2) -> BoardModel:
    """The board of a bundle in dataflow segments: ``segments`` is [(kernel.axis, QModel)] of each
    segment, or [(kernel.axis, QModel, uram_load section or None)]; IP ``fa_axis_s<k>_0`` with DMAs
    ``dma_s<k>_<stream>`` (``board.dmas["s<k>/<stream>"]``), reading its URAM weights as one-part IPs do."""
    board = BoardModel.__new__(BoardModel)
    board.memory, board.violations, board.transfers, board.started_with = DeviceMemory(), [], [], []
    board.blocks, board.ips, board.dmas = [], [], {}
    for k, (axis, qmodel, *uram) in enumerate(segments):
        board.attach(ip_dict, f"fa_axis_s{k}_0", axis, qmodel, fifo_images, dma_of=lambda s, k=k: f"dma_s{k}_{s}",
                     key_of=lambda s, k=k: f"s{k}/{s}", uram=uram[0] if uram else None)
    board.ip = board.ips[0]
    return board


def segments_board(ip_dict: dict, bundle, **options) -> BoardModel:
    """:func:`segmented` for the model ``bundle`` in dataflow segments (each segment's own bundle)."""
    from fpga_accel.bundle import load_bundle
    from fpga_accel.compiler import load_qmodel
    from fpga_accel.segments.check import segment_path

    subs = [load_bundle(bundle.path / segment_path(k)) for k in range(len(bundle.manifest["segments"]["list"]))]
    return segmented(ip_dict, [(s.manifest["kernel"]["axis"], load_qmodel(s), s.manifest.get("uram_load")) for s in subs],
                     **options)
