"""The tiled engine IP ``fa_tiled_top`` at register level, its "hardware" the engine's C simulation.

s_axilite (ap_ctrl_hs): CTRL bit 0 ap_start, bit 1 ap_done (clear-on-read), bit 2 ap_idle; the
pointer registers (low and high words) and sizes at the offsets the .hwh gives, ``ap_return`` the
status. At ap_start the model latches the registers and reads the descriptors, weights and
activation arena from the board's DDR at the addresses written (never the CPU's cache: a driver
that does not flush computes on stale bytes), runs the engine compiled by
:func:`fpga_accel.tiled.csim.engine_library` for the configuration the "bitstream" was built for,
and writes the activation arena back to DDR. ap_done rises after ``latency_polls`` reads of CTRL,
so the driver has to poll. An address outside DDR is a bus error: the engine never finishes.

A split engine (its register map has ``weights_b`` and ``acts_b``, as the .hwh of a split build lists
them) also reads through its second masters, at the addresses in those registers: the second half of
the weight runs and the odd input rows. The model reads both there too; bytes that differ from the
first master's (another buffer, a stale copy) or an activation address that is not the arena the engine
writes (its odd rows would never see the layers' outputs) are the driver's mistake and recorded.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from fakes.hw_memory import DecodeError, DeviceMemory
from fpga_accel.tiled.csim import EngineConfig, EngineLibrary, engine_library


class FaTiledModel:
    def __init__(self, system, registers: dict[str, int], config: EngineConfig, latency_polls: int = 3,
                 hang: bool = False, library: str | None = None):
        self.system, self.config, self.latency, self.hang = system, config, latency_polls, hang
        # a prebuilt engine (where no compiler is at hand, as in the pynq venvs), else compiled for config
        self.engine = EngineLibrary(Path(library), config) if library else engine_library(config)
        self.off = {k.lower(): int(v) for k, v in registers.items()}
        self.regs: dict[int, int] = {}
        self.running = self.done = False
        self.left = 0
        self.status = 0
        self.starts = 0

    def read(self, off):
        if off == 0x00:
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

    def write(self, off, value):
        if off != 0x00:
            self.regs[off] = value
            return
        if value & 0x80:
            self.system.violation("fa_tiled_top: auto_restart set; the driver must start each run itself")
        if value & 0x1:
            if self.running:
                self.system.violation("fa_tiled_top: ap_start written while the engine runs")
                return
            self.starts += 1
            self.running, self.left = True, self.latency
            self._run()

    def _pointer(self, name: str) -> int:
        return self.regs.get(self.off[name], 0) | self.regs.get(self.off[name] + 4, 0) << 32

    @property
    def split(self) -> bool:
        return "weights_b" in self.off and "acts_b" in self.off

    def _run(self) -> None:
        mem = self.system.memory
        words, wbytes, abytes = (self.regs.get(self.off[k], 0) for k in ("desc_words", "weights_bytes", "act_bytes"))
        pointers = ("desc", "weights", "acts", *(("weights_b", "acts_b") if self.split else ()))
        try:
            desc = np.frombuffer(mem.read(self._pointer("desc"), 4 * words), "<u4").copy()
            weights = np.frombuffer(mem.read(self._pointer("weights"), wbytes), np.uint8).copy()
            acts = np.frombuffer(mem.read(self._pointer("acts"), abytes), np.uint8).copy()
            second = {k: mem.read(self._pointer(k), n) for k, n in (("weights_b", wbytes), ("acts_b", abytes))
                      if k in pointers}
        except DecodeError as e:
            self.system.violation(f"fa_tiled_top: m_axi access outside DDR ({e})")
            self.hang = True
            return
        self.system.runs.append({k: self._pointer(k) for k in pointers})
        if self.split and bytes(second["weights_b"]) != weights.tobytes():
            self.system.violation("fa_tiled_top: weights_b reads other bytes than the weights arena")
        if self.split and self._pointer("acts_b") != self._pointer("acts"):
            self.system.violation("fa_tiled_top: acts_b is not the activation arena the engine writes")
        self.status = self.engine.run(desc, weights, acts)
        mem.write(self._pointer("acts"), acts.tobytes())


class TiledBoardModel:
    """The board of a tiled bundle's overlay: DDR and the engine's register block at the address the
    .hwh gives (``ip_dict``). ``config`` is the engine configuration the bitstream implements
    (default: the bundle's ``scripts.configuration``); ``library`` a prebuilt engine
C simulation of that configuration (:attr:`EngineLibrary.path`)."""

    def __init__(self, ip_dict: dict, manifest: dict, config: dict | None = None, **ip_options):
        self.memory = DeviceMemory()
        self.violations: list[str] = []
        self.runs: list[dict] = []
        ip = manifest["scripts"]["ip"]
        key = next(k for k in ip_dict if k.rsplit("/", 1)[-1] == ip["instance"])
        desc = ip_dict[key]
        regs = {}
        for name, r in desc["registers"].items():  # a pointer's low word: NAME_1 in the .hwh
            regs[name.removesuffix("_1")] = r["address_offset"]
        cfg = EngineConfig(**(config or manifest["scripts"]["configuration"]))
        self.ip = FaTiledModel(self, regs, cfg, **ip_options)
        self.base, self.size = int(desc["phys_addr"]), int(desc["addr_range"])

    def violation(self, msg: str) -> None:
        self.violations.append(msg)

    def _off(self, addr: int) -> int:
        if not self.base <= addr < self.base + self.size:
            raise KeyError(f"no register block at {addr:#x}")
        return addr - self.base

    def read(self, addr: int) -> int:
        return int(self.ip.read(self._off(addr))) & 0xFFFFFFFF

    def write(self, addr: int, value: int) -> None:
        if not 0 <= int(value) < 1 << 32:
            raise OverflowError(f"register write of {value} at {addr:#x} does not fit 32 bits")
        self.ip.write(self._off(addr), int(value))
