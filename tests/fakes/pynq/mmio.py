"""32-bit register access to the board model (pynq.MMIO's interface)."""
from __future__ import annotations


class MMIO:
    def __init__(self, base_addr: int, length: int = 4, device=None):
        self.base_addr, self.length = int(base_addr), int(length)

    def _check(self, offset: int) -> None:
        if offset < 0 or offset % 4 or offset >= self.length:
            raise MemoryError(f"MMIO offset {offset:#x} unaligned or outside {self.length:#x} bytes")

    def read(self, offset: int = 0, length: int = 4) -> int:
        import pynq

        self._check(offset)
        return pynq.board.read(self.base_addr + offset)

    def write(self, offset: int, data: int) -> None:
        import pynq

        self._check(offset)
        if not isinstance(data, int):
            raise TypeError("Data type must be int or bytes.")
        pynq.board.write(self.base_addr + offset, data)
