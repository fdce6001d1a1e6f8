"""``pynq.allocate``: numpy arrays with a physical address in the board model's DDR.

The array's own memory plays the CPU cache; ``flush`` copies its bytes to DDR and
``invalidate`` copies DDR back, for exactly the slice they are called on (as pynq does with
``offset``/``nbytes`` of a PynqBuffer view).
"""
from __future__ import annotations

import numpy as np


class PynqBuffer(np.ndarray):
    def __array_finalize__(self, obj):
        if isinstance(obj, PynqBuffer) and getattr(obj, "_base_phys", None) is not None:
            delta = self.__array_interface__["data"][0] - obj.__array_interface__["data"][0]
            self._base_phys, self._memory = obj._base_phys, obj._memory
            self.device_address = obj.device_address + delta
        else:
            self._base_phys, self._memory, self.device_address = None, None, None

    @property
    def physical_address(self) -> int:
        return self.device_address

    def flush(self) -> None:
        self._memory.write(self.device_address, np.ascontiguousarray(self).view(np.uint8).tobytes())
        self._memory.flushes += 1

    def invalidate(self) -> None:
        data = self._memory.read(self.device_address, self.nbytes)
        np.asarray(self).reshape(-1).view(np.uint8)[:] = np.frombuffer(data, np.uint8)
        self._memory.invalidates += 1

    def freebuffer(self) -> None:
        pass


def allocate(shape, dtype="u4", target=None, **kwargs) -> PynqBuffer:
    import pynq

    host = np.zeros(shape, dtype)
    phys = pynq.board.memory.allocate(host.nbytes)
    buf = host.view(PynqBuffer)
    buf._base_phys, buf._memory, buf.device_address = phys, pynq.board.memory, phys
    return buf
