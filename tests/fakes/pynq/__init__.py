"""A small ``pynq`` for tests: the parts of pynq's API the pynq backend uses (Overlay,
DefaultIP, MMIO, allocate/PynqBuffer, pynq.lib.dma.DMA with its channels), backed by the board
model of ``fakes.hw_system`` instead of /dev/mem and XRT.

``Overlay(bit)`` reads the .hwh beside the .bit and "downloads" the design: it builds a
:class:`BoardModel` computing the QModel of the bundle the bitstream sits in
(``<bundle>/bitstream/NAME.bit``). Tests reach it as ``pynq.board`` and may set
``pynq.board_options`` before a session opens.
"""
from .buffer import PynqBuffer, allocate
from .mmio import MMIO
from .overlay import DefaultIP, Overlay

__version__ = "0+fake"
board = None  # the BoardModel of the last downloaded overlay
board_options: dict = {}

__all__ = ["MMIO", "DefaultIP", "Overlay", "PynqBuffer", "allocate", "board", "board_options"]
