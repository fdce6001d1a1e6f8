"""The URAM weight load of ``fa_axis``: once after the PL is programmed, before any image.

A URAM holds nothing after configuration (AMD UG573), so a design whose weights the fold placed in
URAM reads them from DDR (fpga_accel/codegen/uram_load.py): the bundle's ``weights/uram.bin`` goes
into a contiguous buffer (flushed: the HP port reads DDR, not the CPU's cache), its physical address
into the ``wmem`` register (low word, high word), ``load`` = 1 and ``n_images`` = 0, then ap_start;
ap_done ends the copy. ``load`` goes back to 0 so the next start runs images. The URAM keeps the
weights, so the buffer is freed afterwards.
"""
from __future__ import annotations

import time

import numpy as np

from ..errors import SessionTimeout
from .runner import AP_DONE, AP_IDLE, AP_START, CTRL


def load_uram_weights(ip, registers: dict, blob: bytes, allocate, timeout: float) -> None:
    """Fill the URAM weight memories of the IP ``ip`` (its s_axilite ``read``/``write``) from ``blob``;
    ``registers``: the manifest's ``kernel.axis.registers`` (``wmem``, ``load``, ``n_images``)."""
    if not ip.read(CTRL) & AP_IDLE:
        raise SessionTimeout("fa_axis is not idle after programming; cannot load its URAM weights")
    buf = allocate(len(blob))
    try:
        buf[:] = np.frombuffer(blob, np.uint8)
        buf.flush()
        addr = int(buf.physical_address)
        ip.write(registers["wmem"], addr & 0xFFFFFFFF)
        ip.write(registers["wmem"] + 4, addr >> 32)
        ip.write(registers["n_images"], 0)
        ip.write(registers["load"], 1)
        ip.write(CTRL, AP_START)
        deadline = time.monotonic() + timeout
        while not ip.read(CTRL) & AP_DONE:
            if time.monotonic() > deadline:
                raise SessionTimeout(f"fa_axis did not finish loading {len(blob)} bytes of URAM weights within "
                                     f"{timeout:.3g} s")
            time.sleep(0.0005)
        ip.write(registers["load"], 0)
    finally:
        buf.freebuffer()
