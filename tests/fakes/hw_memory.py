"""DDR as the DMAs see it: allocations at physical addresses, nothing else mapped.

The CPU side of a buffer is a separate copy (the cache): ``flush`` copies it to DDR,
``invalidate`` copies DDR back. A driver that forgets either sees stale data, as on a board
whose HP ports are not coherent.
"""
from __future__ import annotations

import numpy as np

BASE = 0x1600_0000  # inside the 512 MiB of a PYNQ-Z2's DDR, where the CMA pool sits
PAGE = 4096


class DecodeError(Exception):
    """An access outside every allocation (the AXI slave answers DECERR)."""


class DeviceMemory:
    def __init__(self, base: int = BASE):
        self.regions: list[tuple[int, np.ndarray]] = []
        self.next = base
        self.flushes = 0
        self.invalidates = 0

    def allocate(self, nbytes: int) -> int:
        addr = self.next
        self.regions.append((addr, np.zeros(max(nbytes, 1), np.uint8)))
        self.next += -(-max(nbytes, 1) // PAGE) * PAGE
        return addr

    def _find(self, addr: int, n: int) -> tuple[np.ndarray, int]:
        for base, mem in self.regions:
            if base <= addr and addr + n <= base + mem.size:
                return mem, addr - base
        raise DecodeError(f"no memory at {addr:#x}..{addr + n:#x}")

    def read(self, addr: int, n: int) -> bytes:
        mem, off = self._find(addr, n)
        return mem[off:off + n].tobytes()

    def write(self, addr: int, data: bytes) -> None:
        mem, off = self._find(addr, len(data))
        mem[off:off + len(data)] = np.frombuffer(data, np.uint8)

    def mapped(self, addr: int, n: int) -> bool:
        try:
            self._find(addr, n)
            return True
        except DecodeError:
            return False
