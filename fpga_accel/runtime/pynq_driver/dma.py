"""One channel of a Xilinx AXI DMA in simple (direct register) mode, driven register by register.

Register map (PG021): MM2S at 0x00, S2MM at 0x30; per channel DMACR +0x00 (RS bit 0, Reset bit
2), DMASR +0x04 (Halted bit 0, Idle bit 1, DMAIntErr 4, DMASlvErr 5, DMADecErr 6), address +0x18
(low word) / +0x1C (high word), LENGTH +0x28. Writing LENGTH starts a transfer; on S2MM the
register reads back the bytes actually received once the channel is idle. Idle is 0 after the
channel is started until its first transfer completes, so the driver tracks "in flight" itself.
Errors halt the channel; only a soft reset (which resets both channels) clears them.

The channel needs only an object with ``read(offset)`` and ``write(offset, value)`` (pynq's MMIO,
or a DefaultIP), so it is tested without pynq.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from ..errors import SessionError

MM2S, S2MM = 0x00, 0x30
DMACR, DMASR, ADDR_LO, ADDR_HI, LENGTH = 0x00, 0x04, 0x18, 0x1C, 0x28
RS, RESET = 0x1, 0x4
HALTED, IDLE = 0x1, 0x2
ERRORS = {0x10: "internal error (DMAIntErr: zero length, or a packet longer than the transfer)",
          0x20: "slave error (DMASlvErr: the memory side answered with an error)",
          0x40: "decode error (DMADecErr: the address is not mapped)"}
ERROR_MASK = 0x70


class DmaError(SessionError):
    """An AXI DMA channel reported an error or did not start."""


@dataclass(frozen=True)
class DmaConfig:
    """What the driver needs to know of one AXI DMA, from its .hwh parameters."""

    name: str
    max_bytes: int  # largest LENGTH: 2**c_sg_length_width - 1
    align: int  # buffer address alignment without DRE: memory-map data width in bytes
    addr_bits: int

    @classmethod
    def from_description(cls, name: str, desc: dict, direction: str) -> DmaConfig:
        """From an ``ip_dict`` entry of an ``xilinx.com:ip:axi_dma`` instance. ``direction`` is
        "in" (MM2S used) or "out" (S2MM used). Refuses scatter-gather and a missing channel."""
        p = {str(k).lower(): v for k, v in (desc.get("parameters") or {}).items()}

        def num(key: str, default: int) -> int:
            try:
                return int(str(p.get(key, default)), 0)
            except ValueError:
                return default

        ch = "mm2s" if direction == "in" else "s2mm"
        if num("c_include_sg", 0):
            raise DmaError(f"DMA '{name}' is built with scatter-gather (c_include_sg=1); the streaming IP is "
                           "driven in simple mode: rebuild with CONFIG.c_include_sg {0}")
        if not num(f"c_include_{ch}", 1):
            raise DmaError(f"DMA '{name}' has no {ch.upper()} channel (c_include_{ch}=0) but stream direction "
                           f"'{direction}' needs it; check the block design")
        width = num(f"c_m_axi_{ch}_data_width", 32) // 8
        if num("c_micro_dma", 0):
            max_bytes = width * num(f"c_{ch}_burst_size", 16)
        else:
            max_bytes = (1 << num("c_sg_length_width", 14)) - 1
        align = 1 if num(f"c_include_{ch}_dre", 0) else max(1, width)
        return cls(name=name, max_bytes=max_bytes, align=align, addr_bits=num("c_addr_width", 32))


class DmaChannel:
    """The MM2S ("in") or S2MM ("out") channel of one AXI DMA."""

    def __init__(self, mmio, config: DmaConfig, direction: str):
        self.mmio, self.config = mmio, config
        self.base = MM2S if direction == "in" else S2MM
        self.kind = "MM2S" if direction == "in" else "S2MM"
        self.busy = False  # a transfer was started and has not been seen complete

    def __repr__(self) -> str:
        return f"{self.config.name} {self.kind}"

    def status(self) -> int:
        return int(self.mmio.read(self.base + DMASR))

    def start(self, timeout: float = 1.0) -> None:
        """Set RS and wait until the channel leaves the halted state."""
        self.mmio.write(self.base + DMACR, RS)
        deadline = time.monotonic() + timeout
        while self.status() & HALTED:
            if time.monotonic() > deadline:
                raise DmaError(f"{self} stays halted after setting DMACR.RS; is the DMA clocked and out of reset?")
        self.busy = False

    def soft_reset(self, timeout: float = 1.0) -> None:
        """Reset the whole DMA: both channels halt and their error bits clear; start them again after."""
        self.mmio.write(self.base + DMACR, RESET)
        deadline = time.monotonic() + timeout
        while self.mmio.read(self.base + DMACR) & RESET:
            if time.monotonic() > deadline:
                raise DmaError(f"{self}: soft reset did not complete within {timeout} s")
        self.busy = False

    def submit(self, address: int, nbytes: int) -> None:
        """Start one transfer of ``nbytes`` at physical ``address`` (LENGTH written last)."""
        cfg = self.config
        if not 0 < nbytes <= cfg.max_bytes:
            raise DmaError(f"{self}: a transfer of {nbytes} bytes is outside 1..{cfg.max_bytes} (c_sg_length_width)")
        if address % cfg.align:
            raise DmaError(f"{self}: address {address:#x} is not aligned to {cfg.align} bytes and the DMA has no DRE")
        if address + nbytes > (1 << cfg.addr_bits):
            raise DmaError(f"{self}: buffer at {address:#x} is beyond the DMA's {cfg.addr_bits}-bit address space")
        self.mmio.write(self.base + ADDR_LO, address & 0xFFFFFFFF)
        if cfg.addr_bits > 32:
            self.mmio.write(self.base + ADDR_HI, (address >> 32) & 0xFFFFFFFF)
        self.mmio.write(self.base + LENGTH, nbytes)
        self.busy = True

    def poll(self) -> bool:
        """True when the transfer in flight has completed; raises :class:`DmaError` on an error bit."""
        sr = self.status()
        if sr & ERROR_MASK:
            self.busy = False
            what = "; ".join(msg for bit, msg in ERRORS.items() if sr & bit)
            raise DmaError(f"{self} reported {what} (DMASR={sr:#010x})")
        if self.busy and sr & IDLE:
            self.busy = False
            return True
        return False

    def received(self) -> int:
        """Bytes the last S2MM transfer wrote (LENGTH read back after completion)."""
        return int(self.mmio.read(self.base + LENGTH))
