"""The host driver of the Zynq streaming IP ``fa_axis``: numpy only, no pynq import.

:mod:`.layout` packs images into AXI-Stream beats, :mod:`.dma` drives one AXI DMA channel in
simple mode, :mod:`.runner` runs batches (buffers, transfer order, ap_ctrl_hs, timeouts) and
:mod:`.overlay` finds and checks the instances in an overlay's ``ip_dict``. The ``pynq`` backend
(``runtime/backends/pynq.py``) glues them to pynq's Overlay, MMIO and allocate; tests drive them
against a register- and DMA-level model of the hardware.
"""
from .dma import DmaChannel, DmaConfig, DmaError
from .layout import StreamLayout, StreamLayoutError
from .overlay import IP_INSTANCE, OverlayMismatch, RegisterMapError, check_register_map, dma_instance, find_instance
from .runner import DEFAULT_RUN_IMAGES, AxisRunner, StreamError

__all__ = [
           "DEFAULT_RUN_IMAGES",
           "IP_INSTANCE",
           "AxisRunner",
           "DmaChannel",
           "DmaConfig",
           "DmaError",
           "OverlayMismatch",
           "RegisterMapError",
           "StreamError",
           "StreamLayout",
           "StreamLayoutError",
           "check_register_map",
           "dma_instance",
           "find_instance",
]
