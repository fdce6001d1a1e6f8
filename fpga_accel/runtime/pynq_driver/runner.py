"""Running batches through ``fa_axis``: buffers, DMA transfers and the ap_ctrl_hs handshake.

One *run* is one ``ap_start`` for ``k`` images. Its steps, in the order that cannot deadlock:

1. check the IP is idle; pack the images into the input buffers and flush them (the HP ports
   are not cache coherent: the DMA reads DDR, not the CPU's cache);
2. write ``n_images`` (the IP latches its scalar arguments at ``ap_start``);
3. arm every S2MM receive before any MM2S send: an IP whose output is not drained stops
   reading its input, so a send waited on before the receive is armed can stall for ever;
4. start the MM2S sends, then set ``ap_start``;
5. poll: each finished transfer starts the stream's next one; once every transfer is done, read
   CTRL for ap_done (clear-on-read, so it stays set until this loop reads it); stop at the deadline;
6. invalidate the output buffers and unpack.

Transfers are as few as the hardware allows, since on a Zynq-7000 the Python between them costs
as much as the IP's time per image: every input stream moves the whole run in one MM2S transfer
(the IP counts beats and ignores input TLAST, which the DMA sets at the end of the transfer), and
so does an output stream whose TLAST ends the run; an output stream with TLAST after every image
needs one S2MM transfer per image (a simple-mode S2MM transfer ends at TLAST), re-armed with two
register writes. A batch larger than one run (``run_images``, or what fits one DMA transfer,
``2**c_sg_length_width - 1`` bytes) is split into several runs.
"""
from __future__ import annotations

import time
from collections import deque

import numpy as np

from ..errors import SessionError, SessionTimeout
from .dma import DmaChannel, DmaError
from .layout import StreamLayout

CTRL = 0x00
AP_START, AP_DONE, AP_IDLE = 0x1, 0x2, 0x4
DEFAULT_RUN_IMAGES = 256


class StreamError(SessionError):
    """A stream moved a different number of bytes than the manifest says."""


class AxisRunner:
    """Drives one ``fa_axis`` instance: ``ip`` has ``read/write`` (its s_axilite block),
    ``channels`` maps each stream name to its :class:`DmaChannel`, ``allocate(nbytes)`` returns a
    DMA-able ``uint8`` buffer (``pynq.allocate``) with ``physical_address``, ``flush`` and
    ``invalidate`` whose slices keep their physical address."""

    def __init__(self, ip, n_images_offset: int, layouts: list[StreamLayout], channels: dict[str, DmaChannel],
                 allocate, run_images: int = DEFAULT_RUN_IMAGES):
        self.ip, self.n_off, self.layouts = ip, int(n_images_offset), list(layouts)
        self.channels, self.allocate, self.run_images = channels, allocate, int(run_images)
        self.buffers: dict[str, object] = {}
        self.capacity = 0  # images the buffers hold
        self.wedged: str | None = None  # why the IP cannot be started again
        self._expect: dict[str, int] = {}  # bytes of the transfer in flight, per stream
        for lay in self.layouts:
            cfg = channels[lay.name].config
            if lay.image_bytes > cfg.max_bytes:
                raise DmaError(f"stream '{lay.name}' moves {lay.image_bytes} bytes per image but DMA '{cfg.name}' "
                               f"transfers at most {cfg.max_bytes} (c_sg_length_width too small); rebuild the "
                               "block design with CONFIG.c_sg_length_width {26}")

    # --- sizes ---------------------------------------------------------------------------------
    def images_per_run(self) -> int:
        k = self.run_images
        for lay in self.layouts:
            if self.one_transfer(lay):  # the whole run is one transfer
                k = min(k, self.channels[lay.name].config.max_bytes // lay.image_bytes)
        return max(k, 1)

    @staticmethod
    def one_transfer(lay: StreamLayout) -> bool:
        """Whether the stream moves a whole run in one DMA transfer (else one per image)."""
        return lay.direction == "in" or lay.tlast == "batch"

    def slot_bytes(self, lay: StreamLayout) -> int:
        """Bytes between images in the buffer: one transfer per image must start aligned."""
        if self.one_transfer(lay):
            return lay.image_bytes
        a = self.channels[lay.name].config.align
        return -(-lay.image_bytes // a) * a

    def _ensure_buffers(self, k: int) -> None:
        if k <= self.capacity:
            return
        self.free()
        for lay in self.layouts:
            self.buffers[lay.name] = self.allocate(k * self.slot_bytes(lay))
        self.capacity = k

    def free(self) -> None:
        for buf in self.buffers.values():
            getattr(buf, "freebuffer", lambda: None)()
        self.buffers, self.capacity = {}, 0

    # --- running -------------------------------------------------------------------------------
    def run(self, feeds: dict[str, np.ndarray], timeout: float) -> dict[str, np.ndarray]:
        """Hardware inputs (tensor name → ``(n, *shape)`` integers) → hardware outputs."""
        n = next(iter(feeds.values())).shape[0]
        step = min(self.images_per_run(), n)
        self._ensure_buffers(step)
        deadline = time.monotonic() + timeout
        parts = []
        for s in range(0, n, step):
            k = min(step, n - s)
            parts.append(self._run_once({t: x[s:s + k] for t, x in feeds.items()}, k, deadline, timeout))
        return {t: np.concatenate([p[t] for p in parts]) if len(parts) > 1 else parts[0][t] for t in parts[0]}

    def _run_once(self, chunk, k, deadline, timeout) -> dict[str, np.ndarray]:
        if self.wedged:
            raise SessionError(self.wedged)
        ctrl = int(self.ip.read(CTRL))
        if not ctrl & AP_IDLE:
            raise SessionError(f"the accelerator is busy before a run (CTRL={ctrl:#x}); another program may be "
                               "driving it, or a previous run was abandoned: reload the overlay (open a new Session)")
        self._stage_inputs(chunk, k)
        queues = self._plan(k)
        try:
            self._kick(queues, k)
            self._wait(queues, k, deadline, timeout)
        except (DmaError, SessionTimeout, StreamError):
            self._recover()
            raise
        return self._collect(k)

    def _stage_inputs(self, chunk, k) -> None:
        for lay in self.layouts:
            if lay.direction != "in":
                continue
            slot = self.slot_bytes(lay)
            view = self.buffers[lay.name][:k * slot]
            np.asarray(view).reshape(k, slot)[:, :lay.image_bytes] = lay.pack(chunk[lay.tensor])
            self._flush(view)

    def _flush(self, view) -> None:
        view.flush()

    def _plan(self, k) -> dict[str, deque]:
        """Per stream, the transfers of this run: (byte offset in its buffer, length)."""
        queues = {}
        for lay in self.layouts:
            if self.one_transfer(lay):
                queues[lay.name] = deque([(0, k * lay.image_bytes)])
            else:
                slot = self.slot_bytes(lay)
                queues[lay.name] = deque((i * slot, lay.image_bytes) for i in range(k))
        return queues

    def _kick(self, queues, k) -> None:
        self.ip.write(self.n_off, k)
        for lay in self.layouts:  # receives first
            if lay.direction == "out":
                self._next(lay, queues)
        for lay in self.layouts:
            if lay.direction == "in":
                self._next(lay, queues)
        self.ip.write(CTRL, AP_START)

    def _next(self, lay, queues) -> None:
        if queues[lay.name]:
            off, nbytes = queues[lay.name].popleft()
            self._expect[lay.name] = nbytes
            self.channels[lay.name].submit(int(self.buffers[lay.name].physical_address) + off, nbytes)

    def _wait(self, queues, k, deadline, timeout) -> None:
        pending = [(lay, self.channels[lay.name]) for lay in self.layouts]
        while True:
            # a transfer with a successor is polled every round (the stream waits on its re-arm);
            # a last transfer (an input's only one) only when nothing else is left to re-arm
            chained = [(lay, ch) for lay, ch in pending if queues[lay.name]]
            for lay, ch in chained or pending:
                if ch.busy and ch.poll():
                    if lay.direction == "out":
                        got, want = ch.received(), self._expect[lay.name]
                        if got != want:
                            raise StreamError(f"stream '{lay.name}' ({ch}) delivered {got} bytes where {want} were "
                                              f"expected (TLAST came early): the bitstream does not match the "
                                              "bundle's manifest; rebuild it from this bundle")
                    self._next(lay, queues)
            pending = [(lay, ch) for lay, ch in pending if ch.busy]
            # ap_done stays set until read: ask for it only once every transfer has finished
            if not pending and int(self.ip.read(CTRL)) & AP_DONE:
                return
            if time.monotonic() > deadline:
                raise SessionTimeout(self._stuck(queues, k, False, timeout))

    def _stuck(self, queues, k, done, timeout) -> str:
        parts = []
        for lay in self.layouts:
            ch, left = self.channels[lay.name], len(queues[lay.name])
            total = 1 if self.one_transfer(lay) else k
            finished = total - left - (1 if ch.busy else 0)
            parts.append(f"{lay.name} ({ch}): {finished}/{total} transfers done" + (", one in flight" if ch.busy else ""))
        state = "ap_done seen" if done else "ap_done not seen"
        return (f"the accelerator did not finish a run of {k} images within {timeout} s ({state}; "
                + "; ".join(parts) + "). Raise the session timeout if the model is slow, else the bitstream and "
                "bundle disagree (image sizes, n_images, TLAST) — rebuild the bitstream from this bundle")

    def _recover(self) -> None:
        """After a failed run: reset every DMA (clears errors, drops transfers) and restart its
        channels; an IP still busy cannot be reset from here, so later runs are refused."""
        seen = set()
        for ch in self.channels.values():
            if id(ch.mmio) not in seen:
                seen.add(id(ch.mmio))
                try:
                    ch.soft_reset()
                except DmaError:
                    pass
        for ch in self.channels.values():
            try:
                ch.start()
            except DmaError:
                pass
        if not int(self.ip.read(CTRL)) & AP_IDLE:
            self.wedged = ("a previous run failed and left the accelerator busy; it cannot be reset from "
                           "software: open a new Session (the overlay is downloaded again)")

    def _collect(self, k) -> dict[str, np.ndarray]:
        out = {}
        for lay in self.layouts:
            if lay.direction != "out":
                continue
            slot = self.slot_bytes(lay)
            view = self.buffers[lay.name][:k * slot]
            self._invalidate(view)
            out[lay.tensor] = lay.unpack(np.asarray(view).reshape(k, slot)[:, :lay.image_bytes])
        return out

    def _invalidate(self, view) -> None:
        view.invalidate()
