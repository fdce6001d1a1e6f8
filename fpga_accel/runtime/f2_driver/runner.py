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

A kernel that keeps weights in URAM (``wmem`` and ``load`` among its arguments, role ``uram_load``;
fpga_accel/codegen/uram_load.py) is given them once, before any image (:meth:`KernelRunner.load_uram`):
the blob written at ``base`` in card memory, its address on ``wmem``, ``load`` = 1 and ``n_images`` =
0, one ``ap_start``; ``load`` goes back to 0 for the image runs. The URAM keeps the weights, so the
image buffers reuse that memory afterwards.
"""
from __future__ import annotations

import time

import numpy as np

from ...bundle_kernel import LOAD_ROLE, image_args
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
        self.buffers = [a for a in image_args(args) if a.get("kind") == "m_axi"]
        (self.n_arg,) = [a for a in args if a.get("name") == "n_images"]
        load = {a["name"]: a for a in args if a.get("role") == LOAD_ROLE}
        self.wmem, self.load_arg = load.get("wmem"), load.get("load")
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

    def load_uram(self, blob: bytes, timeout: float) -> None:
        """Fill the kernel's URAM weights from ``blob`` (weights/uram.bin, whole 64-byte words): one run
        with load = 1 reading it from card memory at ``base``."""
        if self.wmem is None or self.load_arg is None:
            raise SessionError(f"{self.name} takes no URAM weight load (no wmem/load arguments); the bundle and its "
                               "kernel do not match: recompile it")
        if len(blob) > self.window:
            raise SessionError(f"the URAM weights ({len(blob)} bytes) do not fit the runner's {self.window}-byte card "
                               "memory window")
        self._idle()
        self.dev.write(self.base, blob)
        self._pointer(self.wmem, self.base)
        for a in self.buffers:  # not read with load = 1: any address in the window
            self._pointer(a, self.base)
        self.dev.poke(self.ctrl + int(self.n_arg["offset"]), 0)
        self.dev.poke(self.ctrl + int(self.load_arg["offset"]), 1)
        self._start_and_wait(timeout, f"loading {len(blob)} bytes of URAM weights")
        self.dev.poke(self.ctrl + int(self.load_arg["offset"]), 0)

    def _idle(self) -> None:
        ctrl = self.dev.peek(self.ctrl + CTRL)
        if not ctrl & AP_IDLE:
            raise SessionError(f"{self.name} is not idle (CTRL={ctrl:#x}): a run is still in progress or the AFI is not "
                               "the bundle's; reload it with fpga-load-local-image")

    def _pointer(self, a: dict, addr: int) -> None:
        self.dev.poke(self.ctrl + int(a["offset"]), addr & 0xFFFFFFFF)
        self.dev.poke(self.ctrl + int(a["offset"]) + 4, addr >> 32)

    def _start_and_wait(self, timeout: float, what: str) -> None:
        self.dev.poke(self.ctrl + CTRL, AP_START)
        deadline = time.monotonic() + timeout
        while not self.dev.peek(self.ctrl + CTRL) & AP_DONE:
            if time.monotonic() > deadline:
                raise SessionTimeout(f"{self.name} did not finish {what} within {timeout:g} s (no ap_done)")

    def run(self, q_inputs: dict[str, np.ndarray], timeout: float) -> dict[str, np.ndarray]:
        n = next(iter(q_inputs.values())).shape[0]
        if n > self.max_images:
            raise SessionError(f"{n} images do not fit the runner's {self.window}-byte card memory window "
                               f"(at most {self.max_images})")
        self._idle()
        lay = self.layout(n)
        for a in self.buffers:
            if a.get("direction") == "in":
                addr, size = lay[a["name"]]
                data = np.ascontiguousarray(q_inputs[a["tensor"]], a["dtype"]).tobytes()
                self.dev.write(addr, data + bytes(size - len(data)))
        for a in self.buffers:
            self._pointer(a, lay[a["name"]][0])
        self.dev.poke(self.ctrl + int(self.n_arg["offset"]), n)
        self._start_and_wait(timeout, f"{n} image(s)")
        outs = {}
        for a in self.buffers:
            if a.get("direction") == "out":
                addr, _ = lay[a["name"]]
                nbytes = n * self.image_bytes[a["name"]]
                raw = self.dev.read(addr, nbytes)
                outs[a["tensor"]] = np.frombuffer(raw, a["dtype"]).reshape((n, *self.shapes[a["name"]])).copy()
        return outs
