"""The streaming IP ``fa_axis`` at register and stream level, computing with the emulator.

s_axilite (ap_ctrl_hs): CTRL bit 0 ap_start (starts an idle IP, reads 1 while it runs), bit 1
ap_done (clear-on-read), bit 2 ap_idle, bit 3 ap_ready (clear-on-read), bit 7 auto_restart (not
supported by the driver: a violation); ``n_images`` is latched at ap_start. Once started, the IP
takes an image when every input FIFO holds one and every output FIFO has room for one (input
TLAST is not used, as in hls/include/fpga_accel/axis_io.h: the IP counts beats, and the DMA sets
TLAST at the end of each of its transfers, however many images it carries), computes with :func:`fpga_accel.emulator.run_layers` and queues the
output beats with TLAST per image (or per run). ap_done rises when the last output beat has
left the IP. Stream bytes are decoded and encoded here independently of the host driver.
"""
from __future__ import annotations

import hashlib

import numpy as np

from fpga_accel.emulator import run_layers


def decode(beats: list[bytes], s: dict, shape, dtype, signed: bool) -> np.ndarray:
    b, lanes = s["elem_bits"], s["lanes"]
    vals = []
    for beat in beats:
        word = int.from_bytes(beat, "little")
        for lane in range(lanes):
            v = (word >> (lane * b)) & ((1 << b) - 1)
            vals.append(v - (1 << b) if signed and v >> (b - 1) else v)
    return np.array(vals, dtype=np.int64).astype(dtype).reshape((1,) + tuple(shape))


def encode(x: np.ndarray, s: dict) -> list[bytes]:
    b, lanes, nbytes = s["elem_bits"], s["lanes"], s["tdata_bits"] // 8
    flat = [int(v) & ((1 << b) - 1) for v in np.asarray(x).reshape(-1)]
    out = []
    for i in range(0, len(flat), lanes):
        word = 0
        for lane, v in enumerate(flat[i:i + lanes]):
            word |= v << (lane * b)
        out.append(word.to_bytes(nbytes, "little"))
    return out


class FaAxisModel:
    def __init__(self, system, axis: dict, qmodel, registers: dict[str, int], uram: dict | None = None):
        self.system, self.axis, self.qmodel = system, axis, qmodel
        self.n_off = registers["n_images"]
        self.regs = {0x04: 0, 0x08: 0, 0x0C: 0, self.n_off: 0}
        # URAM weights (manifest uram_load): ap_start with load = 1 reads them over the wmem master from
        # DDR; images before a load of exactly the blob's bytes compute with empty (zero) URAM
        self.uram, self.uram_loaded = uram, None
        self.wmem_off, self.load_off = registers.get("wmem"), registers.get("load")
        self.loads: list[tuple[int, int]] = []  # (address, bytes) read by each load
        self.running = self.done = self.ready = False
        self.stopped = None  # why the IP stopped consuming (a protocol violation)
        self.n = self.taken = 0
        self.inputs = {s["name"]: None for s in axis["streams"] if s["direction"] == "in"}  # name -> AxisLink
        self.outputs = {s["name"]: None for s in axis["streams"] if s["direction"] == "out"}
        self.streams = {s["name"]: s for s in axis["streams"]}
        self.tensors = {t.name: t for t in list(qmodel.inputs) + list(qmodel.outputs)}
        self.starts = 0

    def read(self, off):
        if off == 0x00:
            v = int(self.running) | int(self.done) << 1 | int(not self.running) << 2 | int(self.ready) << 3
            self.done = self.ready = False  # clear-on-read under ap_ctrl_hs
            return v
        return self.regs.get(off, 0)

    def write(self, off, value):
        if off == 0x00:
            if value & 0x80:
                self.system.violation("fa_axis: auto_restart set; the driver must start each run itself")
            if value & 0x1:
                if self.running:
                    self.system.violation("fa_axis: ap_start written while the IP runs")
                elif self.load_off is not None and self.regs.get(self.load_off, 0) & 1:
                    self._load()
                else:
                    self.n, self.taken, self.running = self.regs[self.n_off], 0, True
                    self.starts += 1
                    self.system.started_with.append(self.n)
        else:
            self.regs[off] = value

    def _load(self) -> None:
        addr = self.regs.get(self.wmem_off, 0) | self.regs.get(self.wmem_off + 4, 0) << 32
        n = self.uram["bytes"]
        self.uram_loaded = self.system.memory.read(addr, n)  # DDR as the HP port sees it (not the cache)
        self.loads.append((addr, n))
        self.done = self.ready = True

    def step(self) -> bool:
        if not self.running or self.stopped:
            return False
        moved = False
        while not self.stopped and self.taken < self.n and self._can_take():
            self._take()
            moved = True
        if self.taken == self.n and not self.stopped and all(not q.beats for q in self.outputs.values()):
            self.running, self.done, self.ready = False, True, True
            moved = True
        return moved

    def _can_take(self) -> bool:
        return (all(len(q.beats) >= self.streams[k]["beats_per_image"] for k, q in self.inputs.items())
                and all(q.room() >= self.streams[k]["beats_per_image"] for k, q in self.outputs.items()))

    def _take(self) -> None:
        feeds = {}
        for name, q in self.inputs.items():
            s = self.streams[name]
            beats = [q.pop() for _ in range(s["beats_per_image"])]
            t = self.tensors[s["tensor"]]
            q_t = t.qparams.qtype
            feeds[t.name] = decode([b for b, _ in beats], s, t.shape[1:], q_t.dtype, q_t.signed)
        outs = run_layers(self.qmodel, feeds)
        if self.uram is not None and (self.uram_loaded is None
                                      or hashlib.sha256(self.uram_loaded).hexdigest() != self.uram["sha256"]):
            outs = {k: np.zeros_like(v) for k, v in outs.items()}  # weights never (or wrongly) loaded
        for name, q in self.outputs.items():
            s = self.streams[name]
            beats = encode(outs[s["tensor"]], s)
            last_run = self.taken == self.n - 1
            for i, data in enumerate(beats):
                q.push(data, i == len(beats) - 1 and (s["tlast"] == "image" or last_run))
        self.taken += 1
