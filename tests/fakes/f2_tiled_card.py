"""An AWS F2 card whose custom logic holds the tiled engine ``fa_tiled_top``, as the f2 backend sees it.

The same surface as :class:`fakes.f2_card.F2Card` (so :class:`fakes.f2_card.FakeFpgaMgmt` serves it):
registers on the OCL window, card memory behind the PCIS window. The engine's s_axilite block
(ap_ctrl_hs: CTRL bit 0 ap_start, bit 1 ap_done clear-on-read, bit 2 ap_idle; ``ap_return``; each
pointer's 64-bit address as two words, the sizes) sits at the offsets the IP has
(:func:`fpga_accel.flow.tiled_interface.register_map` unless given), from the CL's control base. At
ap_start the model latches the registers, reads the descriptors, weights and activation arena from card
memory at the addresses written, runs the engine's C simulation
(:func:`fpga_accel.tiled.csim.engine_library`) for the configuration the AFI was built for, writes the
arena back, and raises ap_done after ``latency_polls`` reads of CTRL. An address outside the modelled
memory is a bus error: the engine never finishes. Protocol slips are recorded as violations.
"""
from __future__ import annotations

import ctypes

import numpy as np

from fpga_accel.tiled.interface import CONTROL_BASE
from fpga_accel.flow.tiled_interface import register_map
from fpga_accel.tiled.csim import EngineConfig, engine_library


class F2TiledCard:
    def __init__(self, config: dict, mem_bytes: int = 64 << 20, mem_base: int = 0, ids=(0x1D0F, 0xF0FA),
                 hang: bool = False, latency_polls: int = 3, registers: dict[str, int] | None = None):
        self.engine = engine_library(EngineConfig(**config))
        self.mem = ctypes.create_string_buffer(mem_bytes)  # the card's memory from address mem_base
        self.mem_base, self.ids, self.hang, self.latency = mem_base, ids, hang, latency_polls
        self.off = {k: CONTROL_BASE + v for k, v in (registers or register_map()).items()}
        self.regs: dict[int, int] = {}
        self.running = self.done = False
        self.left = self.status = 0
        self.starts: list[dict] = []
        self.violations: list[str] = []
        self.reg_reads = self.reg_writes = 0

    # --- registers ------------------------------------------------------------------------------
    def read(self, off: int) -> int:
        self.reg_reads += 1
        if off == CONTROL_BASE:
            if self.running and not self.hang:
                self.left -= 1
                if self.left <= 0:
                    self.running, self.done = False, True
            v = int(self.running) | int(self.done) << 1 | int(not self.running) << 2
            self.done = False  # clear-on-read
            return v
        if off == self.off["ap_return"]:
            return self.status
        return self.regs.get(off, 0)

    def write(self, off: int, value: int) -> None:
        self.reg_writes += 1
        if off != CONTROL_BASE:
            if self.running:
                self.violations.append(f"register {off:#x} written while the engine runs")
            self.regs[off] = value & 0xFFFFFFFF
            return
        if value & 0x80:
            self.violations.append("auto_restart set: the driver must start each run itself")
        if value & 1:
            if self.running:
                self.violations.append("ap_start while the engine runs")
                return
            self.running, self.left = True, self.latency
            self._run()

    # --- the engine -----------------------------------------------------------------------------
    def _pointer(self, name: str) -> int:
        return self.regs.get(self.off[name], 0) | self.regs.get(self.off[name] + 4, 0) << 32

    def _bytes(self, name: str, nbytes: int) -> bytes | None:
        addr = self._pointer(name)
        if addr % 4:  # the engine's 32-bit ports
            self.violations.append(f"{name} at {addr:#x} is not on a 32-bit word")
        o = addr - self.mem_base
        if not 0 <= o <= len(self.mem) - nbytes:
            self.violations.append(f"{name} at {addr:#x} + {nbytes} is outside the card's modelled memory")
            return None
        return ctypes.string_at(ctypes.addressof(self.mem) + o, nbytes)

    def _run(self) -> None:
        words, wbytes, abytes = (self.regs.get(self.off[k], 0) for k in ("desc_words", "weights_bytes", "act_bytes"))
        self.starts.append({k: self._pointer(k) for k in ("desc", "weights", "acts")})
        raw = [self._bytes("desc", 4 * words), self._bytes("weights", wbytes), self._bytes("acts", abytes)]
        if any(r is None for r in raw):
            self.hang = True  # a bus error: the engine never finishes
            return
        desc = np.frombuffer(raw[0], "<u4").copy()
        weights, acts = (np.frombuffer(r, np.uint8).copy() for r in raw[1:])
        self.status = self.engine.run(desc, weights, acts)
        ctypes.memmove(ctypes.addressof(self.mem) + self._pointer("acts") - self.mem_base, acts.tobytes(), abytes)
