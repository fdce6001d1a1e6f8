"""``pynq.lib.dma.DMA`` in simple mode: ``sendchannel`` / ``recvchannel`` with pynq's methods
(``transfer``, ``wait``, ``idle``, ``running``, ``error``, ``start``, ``stop``, ``transferred``).
Its ``transfer`` flushes a send buffer and ``wait`` invalidates a receive buffer, as pynq's do."""
from __future__ import annotations

from ..overlay import DefaultIP


class _Channel:
    def __init__(self, mmio, offset: int, max_size: int, send: bool):
        self._mmio, self._offset, self._max_size, self._send = mmio, offset, max_size, send
        self._buffer, self.transferred = None, 0
        self.start()

    @property
    def running(self) -> bool:
        return not self._mmio.read(self._offset + 4) & 0x1

    @property
    def idle(self) -> bool:
        return bool(self._mmio.read(self._offset + 4) & 0x2)

    @property
    def error(self) -> bool:
        return bool(self._mmio.read(self._offset + 4) & 0x70)

    def start(self) -> None:
        self._mmio.write(self._offset, 0x1)
        self._fresh = True

    def stop(self) -> None:
        self._mmio.write(self._offset, 0x0)

    def transfer(self, array, start: int = 0, nbytes: int = 0) -> None:
        if not self.running:
            raise RuntimeError("DMA channel not started")
        if not self._fresh and not self.idle:
            raise RuntimeError("DMA channel not idle")
        nbytes = nbytes or array.nbytes - start
        if nbytes > self._max_size:
            raise ValueError(f"Transfer size is {nbytes} bytes, over the maximum {self._max_size}")
        if self._send:
            array.flush()
        addr = array.physical_address + start
        self._mmio.write(self._offset + 0x18, addr & 0xFFFFFFFF)
        self._mmio.write(self._offset + 0x1C, addr >> 32)
        self._mmio.write(self._offset + 0x28, nbytes)
        self._buffer, self._fresh = array, False

    def wait(self) -> None:
        while True:
            sr = self._mmio.read(self._offset + 4)
            if sr & 0x70:
                raise RuntimeError(f"DMA error, DMASR={sr:#x}")
            if sr & 0x2:
                break
        if not self._send:
            self._buffer.invalidate()
        self.transferred = self._mmio.read(self._offset + 0x28)


class DMA(DefaultIP):
    def __init__(self, description: dict):
        super().__init__(description)
        p = {k.lower(): v for k, v in description["parameters"].items()}
        max_size = (1 << int(p.get("c_sg_length_width", 26))) - 1
        self.buffer_max_size = max_size
        self.sendchannel = _Channel(self.mmio, 0x00, max_size, True) if int(p.get("c_include_mm2s", 1)) else None
        self.recvchannel = _Channel(self.mmio, 0x30, max_size, False) if int(p.get("c_include_s2mm", 1)) else None
