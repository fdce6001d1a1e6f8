"""Running batches through ``fa_kernel`` in the F2 custom logic: buffers in card memory, the
ap_ctrl_hs handshake on its registers.

One run is one ``ap_start`` for ``n`` images:

1. check the kernel is idle (``ap_idle``);
2. write every input batch into its buffer in card memory through the PCIS window (whole 64-byte
   memory words: the kernel reads and writes the last word completely);
3. write each buffer's card address (low, high word) and ``n_images`` to the kernel's registers
   (offsets from the manifest, which the build replaced by the generated driver's);
4. set ``ap_start`` and poll ``CTRL`` until ``ap_done`` (clear-on-read), or the deadline;
5. read every output buffer back.

In a custom logic holding several kernels (a bundle in dataflow segments), each kernel's registers
sit at its ``control_base`` on the OCL window (fpga_accel/flow/aws_f2_cl.py, ``control_base``): every
register offset above is taken from there.

Buffers sit one after another from ``base`` in the card's memory, each starting on a 4 KiB
boundary; a batch larger than ``window`` bytes allows is split into several runs by the session
(:attr:`KernelRunner.max_images`).
"""
from __future__ import annotations

import time

import numpy as np

from ..errors import SessionError, SessionTimeout

CTRL = 0x00
AP_START, AP_DONE, AP_IDLE = 0x1, 0x2, 0x4
ALIGN = 4096
#: card memory the runner uses by default: 1 GiB of the 64 GiB DDR4 from address 0
DEFAULT_WINDOW = 1 << 30


class KernelRunner:
    """Drives one ``fa_kernel``: ``dev`` has ``peek/poke`` (its registers) and ``write/read``
    (card memory); ``args`` is ``manifest["kernel"]["args"]``; ``tensors`` maps tensor names to
    their shapes (without the batch axis); ``control_base`` is where the kernel's registers start on
    the OCL window, ``name`` how messages call it."""

    def __init__(self, dev, args: list[dict], shapes: dict[str, tuple], word: int = 64, base: int = 0,
                 window: int | None = None, control_base: int = 0, name: str = "fa_kernel"):
        self.dev, self.word, self.base = dev, int(word), int(base)
        self.ctrl, self.name = int(control_base), name
        self.window = int(DEFAULT_WINDOW if window is None else window)
        self.buffers = [a for a in args if a.get("kind") == "m_axi"]
        (self.n_arg,) = [a for a in args if a.get("name") == "n_images"]
        self.shapes = {a["name"]: tuple(int(d) for d in shapes[a["tensor"]]) for a in self.buffers}
        self.image_bytes = {a["name"]: int(np.prod(self.shapes[a["name"]], dtype=np.int64)) * np.dtype(a["dtype"]).itemsize
                            for a in self.buffers}
        if self.end(1) > self.base + self.window:
            raise SessionError(f"one image needs {self.end(1) - self.base} bytes of card memory, more than the "
                               f"{self.window} the runner uses")
        lo, hi = 1, max(1, self.window // max(1, sum(self.image_bytes.values())))
        while lo < hi:  # the most images whose buffers fit the window
            mid = (lo + hi + 1) // 2
            lo, hi = (mid, hi) if self.end(mid) <= self.base + self.window else (lo, mid - 1)
        self.max_images = lo

    def end(self, n: int) -> int:
        """The card address after the buffers of ``n`` images."""
        addr, size = list(self.layout(n).values())[-1]
        return addr + size

    def layout(self, n: int) -> dict[str, tuple[int, int]]:
        """Buffer name -> (card address, bytes) for ``n`` images."""
        out, addr = {}, self.base
        for a in self.buffers:
            size = -(-n * self.image_bytes[a["name"]] // self.word) * self.word
            out[a["name"]] = (addr, size)
            addr += -(-size // ALIGN) * ALIGN
        return out

    def run(self, q_inputs: dict[str, np.ndarray], timeout: float) -> dict[str, np.ndarray]:
        n = next(iter(q_inputs.values())).shape[0]
        if n > self.max_images:
            raise SessionError(f"{n} images do not fit the runner's {self.window}-byte card memory window "
                               f"(at most {self.max_images})")
        ctrl = self.dev.peek(self.ctrl + CTRL)
        if not ctrl & AP_IDLE:
            raise SessionError(f"{self.name} is not idle (CTRL={ctrl:#x}): a run is still in progress or the AFI is not "
                               "the bundle's; reload it with fpga-load-local-image")
        lay = self.layout(n)
        for a in self.buffers:
            if a.get("direction") == "in":
                addr, size = lay[a["name"]]
                data = np.ascontiguousarray(q_inputs[a["tensor"]], a["dtype"]).tobytes()
                self.dev.write(addr, data + bytes(size - len(data)))
        for a in self.buffers:
            addr = lay[a["name"]][0]
            self.dev.poke(self.ctrl + int(a["offset"]), addr & 0xFFFFFFFF)
            self.dev.poke(self.ctrl + int(a["offset"]) + 4, addr >> 32)
        self.dev.poke(self.ctrl + int(self.n_arg["offset"]), n)
        self.dev.poke(self.ctrl + CTRL, AP_START)
        deadline = time.monotonic() + timeout
        while not self.dev.peek(self.ctrl + CTRL) & AP_DONE:
            if time.monotonic() > deadline:
                raise SessionTimeout(f"{self.name} did not finish {n} image(s) within {timeout:g} s (no ap_done)")
        outs = {}
        for a in self.buffers:
            if a.get("direction") == "out":
                addr, _ = lay[a["name"]]
                nbytes = n * self.image_bytes[a["name"]]
                raw = self.dev.read(addr, nbytes)
                outs[a["tensor"]] = np.frombuffer(raw, a["dtype"]).reshape((n, *self.shapes[a["name"]])).copy()
        return outs
