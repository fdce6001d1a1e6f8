"""An AXI-Stream link with a bounded FIFO: beats of ``beat_bytes`` bytes with a TLAST flag."""
from __future__ import annotations

from collections import deque


class AxisLink:
    def __init__(self, name: str, beat_bytes: int, capacity: int):
        self.name, self.beat_bytes, self.capacity = name, beat_bytes, capacity
        self.beats: deque[tuple[bytes, bool]] = deque()

    def room(self) -> int:
        return self.capacity - len(self.beats)

    def push(self, data: bytes, last: bool) -> None:
        assert len(self.beats) < self.capacity
        self.beats.append((data, last))

    def pop(self) -> tuple[bytes, bool]:
        return self.beats.popleft()
