"""Stand-ins for hardware and vendor packages, used by the tests only.

``hw_*`` modules are a register- and DMA-level model of the Zynq design a bundle builds (AXI
DMAs in simple mode, the streaming IP ``fa_axis`` with ap_ctrl_hs, DDR with a CPU cache in front);
``pynq/`` is a small ``pynq`` package whose Overlay, MMIO, allocate, DefaultIP and DMA talk to
that model. ``pynq_device.py`` serves the same model to the real pynq package.
"""
