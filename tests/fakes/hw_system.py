"""The whole board as the host sees it: an address map of register blocks, DDR, and the links
between DMAs and the IP. Every register access lets the hardware move as far as it can."""
from __future__ import annotations

from .hw_dma import AxiDmaModel
from .hw_ip import FaAxisModel
from .hw_memory import DeviceMemory
from .hw_stream import AxisLink


class BoardModel:
    """Built from an ``ip_dict`` (as a .hwh gives it), the manifest's ``kernel.axis`` and the
    QModel the bitstream implements. ``fifo_images``: images each IP-side FIFO holds."""

    def __init__(self, ip_dict: dict, axis: dict, qmodel, fifo_images: int = 2):
        self.memory = DeviceMemory()
        self.violations: list[str] = []
        self.transfers: list[tuple[str, int, int]] = []
        self.started_with: list[int] = []
        self.blocks = []  # (base, size, model)
        ip_key = next(k for k in ip_dict if k.rsplit("/", 1)[-1] == "fa_axis_0")
        regs = {k: v["address_offset"] for k, v in ip_dict[ip_key]["registers"].items()}
        self.ip = FaAxisModel(self, axis, qmodel, regs)
        self._map(ip_dict[ip_key], self.ip)
        self.dmas = {}
        spare = [k for k, v in ip_dict.items() if v["type"].startswith("xilinx.com:ip:axi_dma:")]
        for s in axis["streams"]:  # the DMA named after the stream, else the next unnamed one
            key = next((k for k in spare if k.rsplit("/", 1)[-1] == f"dma_{s['name']}"), None)
            key = key or next(k for k in spare if not k.rsplit("/", 1)[-1].startswith("dma_"))
            spare.remove(key)
            dma = AxiDmaModel(key, ip_dict[key]["parameters"], self)
            self._map(ip_dict[key], dma)
            self.dmas[s["name"]] = dma
            link = AxisLink(s["name"], s["tdata_bits"] // 8, fifo_images * s["beats_per_image"])
            if s["direction"] == "in":
                dma.mm2s.link = link
                self.ip.inputs[s["name"]] = link
            else:
                dma.s2mm.link = link
                self.ip.outputs[s["name"]] = link

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
            moved |= self.ip.step()
            if not moved:
                return
