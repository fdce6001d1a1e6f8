"""The host driver of the tiled engine IP ``fa_tiled_top`` on a Zynq board: numpy only, no pynq import.

The engine reads its program and weights and reads and writes the activations itself, through
three m_axi ports into the PS DDR; the host only places them there and starts it. Per image:

1. the host writes the image's inputs into the activation arena (the CPU side of its DMA buffer,
   through :class:`~fpga_accel.tiled.engine.TiledEngine`'s own host code) and flushes the arena
   (the HP port is not cache coherent: the engine reads DDR, not the CPU's cache);
2. it writes the three buffers' physical addresses (low and high words) and sizes into the IP's
   s_axilite registers (offsets of ``manifest["scripts"]["ip"]``, checked against the .hwh); a split
   engine (the bundle's ``tiled.array.split``) reads the weights and activation arenas through a second
   master each, ``weights_b`` and ``acts_b``: the same two addresses again;
3. ``ap_start``; polls CTRL for ``ap_done`` (clear-on-read) until the session's deadline;
4. reads the status (``ap_return``: 0, or a code with the layer index above its low 8 bits),
   invalidates the arena and reads the outputs.

The descriptors and the weights arena are copied and flushed once, when the program is loaded.
"""
from __future__ import annotations

import time

import numpy as np

from ...tiled.csim import STATUS, EngineStatusError
from ...tiled.descriptors import encode
from ...tiled.engine import MAX_ACTIVATION_BYTES, TiledEngine
from ...tiled.interface import SPLIT_ALIASES
from ..errors import SessionError, SessionTimeout
from .overlay import CTRL_FIELDS, RegisterMapError
from .runner import AP_DONE, AP_IDLE, AP_START, CTRL

#: busy polls of CTRL before the driver sleeps between polls (short layers finish within them)
SPIN_POLLS = 2000
POLL_SLEEP_S = 0.0005


def check_tiled_registers(desc: dict, key: str, ip: dict, where: str, split: bool = False) -> None:
    """Refuse an engine IP whose VLNV name or register offsets differ from ``ip`` (``manifest["scripts"]["ip"]``),
    or whose form (split or not: the registers ``weights_b`` and ``acts_b``) is not ``split``, the bundle's.
    A pointer's low word may be called ``NAME`` or ``NAME_1`` (Vitis HLS names a 64-bit pointer's two words
    ``NAME_1`` and ``NAME_2``)."""
    from ...tiled.interface import SPLIT_ARGS, TOP, register_map

    given, names = ip.get("registers"), sorted(register_map(split))
    if (ip.get("name") != TOP or not isinstance(given, dict) or set(given) != set(names)
            or not all(type(v) is int and 0x10 <= v < 0x1000 and v % 4 == 0 for v in given.values())):
        raise RegisterMapError(f"{where}: the manifest's engine IP description (scripts.ip) is not the register map "
                               f"of {TOP}{' (split)' if split else ''} (names {names}, word offsets in 0x10..0xffc); "
                               "recompile the bundle")
    vlnv = str(desc.get("type", ""))
    parts = vlnv.split(":")
    if len(parts) != 4 or parts[2] != ip["name"]:
        raise RegisterMapError(f"{where}: instance '{key}' is '{vlnv}', not the tiled engine '{ip['name']}'; the "
                               "bitstream was built from another design")
    regs = {str(k).lower(): v for k, v in (desc.get("registers") or {}).items()}
    if not regs:
        raise RegisterMapError(f"{where}: the .hwh carries no register map for '{key}' ({vlnv}); use the .hwh "
                               "Vivado wrote for this bitstream")
    extra = [n for n, _ in SPLIT_ARGS if not split and ({n, f"{n}_1"} & set(regs))]
    if extra:  # a split engine left without the second addresses would read through address 0
        raise RegisterMapError(f"{where}: '{key}' is a split tiled engine (registers {', '.join(extra)}) but the bundle's "
                               "engine is not split (tiled.array.split); recompile the model for this board, or "
                               "rebuild the bitstream from this bundle")
    problems = []
    for name, off in {"CTRL": 0, **ip["registers"]}.items():
        found = [regs[n] for n in (name.lower(), f"{name.lower()}_1") if n in regs]
        if not found:
            problems.append(f"register '{name}' (manifest offset {int(off):#x}) is missing")
        elif int(found[0]["address_offset"]) != int(off):
            problems.append(f"'{name}' is at {int(found[0]['address_offset']):#x} in the .hwh but at {int(off):#x} "
                            "in the manifest")
    for name, bit in CTRL_FIELDS.items():
        f = ((regs.get("ctrl") or {}).get("fields") or {}).get(name)
        if f is not None and int(f["bit_offset"]) != bit:
            problems.append(f"CTRL.{name} is bit {int(f['bit_offset'])}, expected {bit} (ap_ctrl_hs)")
    if problems:
        raise RegisterMapError(f"{where}: the register map of '{key}' does not match the bundle's manifest: "
                               + "; ".join(problems) + ". Rebuild the bitstream from this bundle (`fpga-accel build`)")


class TiledPynq(TiledEngine):
    """:class:`TiledEngine` whose layers run on the engine IP. ``ip`` has ``read/write`` (its s_axilite
    block), ``registers`` maps ``ap_return`` and the arguments to offsets, ``allocate(nbytes)`` returns a
    DMA-able ``uint8`` buffer (``pynq.allocate``) with ``physical_address``, ``flush``, ``invalidate``.
    ``timeout`` bounds one image's run in seconds. ``descriptors`` may be replaced before a run. ``split``:
    the IP is a split engine, given the weights' and the activations' addresses a second time."""

    def __init__(self, program, ip, registers: dict[str, int], allocate, timeout: float = 60.0,
                 descriptors: np.ndarray | None = None, max_activation_bytes: int = MAX_ACTIVATION_BYTES,
                 split: bool = False):
        super().__init__(program, max_activation_bytes)
        self.ip, self.regs, self.timeout, self.allocate = ip, {k: int(v) for k, v in registers.items()}, timeout, allocate
        # a split engine's second masters (its register map has them: check_tiled_registers) and the arena each reads
        self.aliases = dict(SPLIT_ALIASES) if split else {}
        self.wedged: str | None = None
        self._buffers: list = []
        self._desc = None
        self.descriptors = encode(program) if descriptors is None else descriptors
        self._weights = self._load(self.weights.buf)
        self.weights.buf = np.asarray(self._weights)[:self.weights.buf.size]
        need = self.acts.buf.size
        self._acts = self._buffer(need)
        self.acts.buf = np.asarray(self._acts)[:need]  # the host's writes and reads go through the CPU side
        self._sizes = {"desc_words": int(self._words), "weights_bytes": int(self.weights.buf.size), "act_bytes": need}

    # --- buffers -----------------------------------------------------------------------------------
    def _buffer(self, nbytes: int):
        buf = self.allocate(max(int(nbytes), 1))
        self._buffers.append(buf)
        return buf

    def _load(self, data: np.ndarray):
        """A DMA buffer holding ``data``'s bytes, flushed to DDR."""
        raw = np.ascontiguousarray(data).view(np.uint8).reshape(-1)
        buf = self._buffer(raw.size)
        np.asarray(buf)[:raw.size] = raw
        buf.flush()
        return buf

    @property
    def descriptors(self) -> np.ndarray:
        return self._words_array

    @descriptors.setter
    def descriptors(self, words: np.ndarray) -> None:
        words = np.ascontiguousarray(words, dtype="<u4")
        self._words_array, self._words = words, words.size
        if self._desc is not None:
            self._buffers.remove(self._desc)
            getattr(self._desc, "freebuffer", lambda: None)()
        self._desc = self._load(words)
        if hasattr(self, "_sizes"):
            self._sizes["desc_words"] = int(words.size)

    def free(self) -> None:
        for buf in self._buffers:
            getattr(buf, "freebuffer", lambda: None)()
        self._buffers = []

    # --- one image ---------------------------------------------------------------------------------
    def _run_layers(self) -> None:
        if self.wedged:
            raise SessionError(self.wedged)
        ctrl = int(self.ip.read(CTRL))
        if not ctrl & AP_IDLE:
            raise SessionError(f"the tiled engine is busy before a run (CTRL={ctrl:#x}); another program may be "
                               "driving it, or a previous run was abandoned: reload the overlay (open a new Session)")
        self._acts.flush()
        arenas = {"desc": self._desc, "weights": self._weights, "acts": self._acts}
        for name, buf in [*arenas.items(), *((b, arenas[a]) for b, a in self.aliases.items())]:
            addr = int(buf.physical_address)
            self.ip.write(self.regs[name], addr & 0xFFFFFFFF)
            self.ip.write(self.regs[name] + 4, addr >> 32)
        for name, value in self._sizes.items():
            self.ip.write(self.regs[name], value)
        self.ip.write(CTRL, AP_START)
        self._wait()
        status = int(self.ip.read(self.regs["ap_return"]))
        self._acts.invalidate()
        if status:
            raise _status_error(status, self.program)

    def _wait(self) -> None:
        deadline = time.monotonic() + self.timeout
        polls = 0
        while not int(self.ip.read(CTRL)) & AP_DONE:
            polls += 1
            if time.monotonic() > deadline:
                self.wedged = ("a previous run of the tiled engine did not finish and the engine cannot be reset "
                               "from software: open a new Session (the overlay is downloaded again)")
                raise SessionTimeout(f"the tiled engine did not finish an image within {self.timeout:g} s "
                                     f"({len(self.program.layers)} layers, ap_done not seen). Raise the session "
                                     "timeout if the model is that slow; else the bitstream was built for another "
                                     "engine configuration or its memory ports do not reach DDR — rebuild it from "
                                     "this bundle")
            if polls > SPIN_POLLS:
                time.sleep(POLL_SLEEP_S)


def _status_error(status: int, program) -> EngineStatusError:
    code, layer = status & 0xFF, status >> 8
    layers = program.layers
    where = f"layer {layer} '{layers[layer]['name']}'" if code > 2 and layer < len(layers) else "the program"
    hint = (" — the bitstream was built for another engine configuration than this bundle's program; build it from "
            "this bundle" if code == 2 else "")
    return EngineStatusError(f"tiled engine (PYNQ): {where}: status {code}, {STATUS.get(code, 'unknown status')}"
                             f"{hint}", code, layer)
