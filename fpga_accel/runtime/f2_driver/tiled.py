"""The tiled engine ``fa_tiled_top`` in the AWS F2 custom logic, driven over the card's two BARs.

The engine reads its program and weights and reads and writes the activations itself, through its
three m_axi masters into the card's DDR4; the host places them there through the PCIS window
(AppPF BAR4) and drives the engine's s_axilite registers on the OCL window (AppPF BAR0, the offsets of
``manifest["scripts"]["ip"]`` from the CL's control base). Card memory, from ``base`` (default 0),
each region starting on a 4 KiB boundary and padded to whole 64-byte memory words::

    base                    weights arena     (written once, when the program is loaded)
    next 4 KiB boundary     activation arena  (written before every engine call, read back after it)
    next 4 KiB boundary     descriptors       (written whenever ``descriptors`` is set: one segment's)

One engine call (a whole image, or one segment between host steps, :mod:`fpga_accel.tiled.segments`):

1. check the engine is idle (``ap_idle``);
2. write the activation arena (the inputs, or a host step's results, already in it);
3. write the three addresses (low, high word) and sizes, then ``ap_start``;
4. poll CTRL for ``ap_done`` (clear-on-read) until the deadline;
5. read the status (``ap_return``: 0, or a code with the layer index above its low 8 bits) and the arena.
"""
from __future__ import annotations

import time

import numpy as np

from ...tiled.csim import STATUS, EngineStatusError
from ...tiled.descriptors import encode
from ...tiled.engine import MAX_ACTIVATION_BYTES, TiledEngine
from ..errors import SessionError, SessionTimeout
from .runner import ALIGN, AP_DONE, AP_IDLE, AP_START, CTRL, DEFAULT_WINDOW

WORD = 64
#: busy polls of CTRL before the driver sleeps between polls (short programs finish within them)
SPIN_POLLS = 2000
POLL_SLEEP_S = 0.0005


def _pad(n: int, to: int) -> int:
    return -(-int(n) // to) * to


class TiledF2(TiledEngine):
    """:class:`TiledEngine` whose layers run on the engine in the F2 custom logic. ``dev`` has ``peek/poke``
    (the OCL window) and ``write/read`` (card memory), as :class:`~.libs.FpgaPci`; ``registers`` maps
    ``ap_return`` and the arguments to offsets from ``control_base``. ``timeout`` bounds one engine call
    in seconds; card memory is used from ``base`` up to ``base + window``."""

    def __init__(self, program, dev, registers: dict[str, int], timeout: float = 60.0,
                 descriptors: np.ndarray | None = None, control_base: int = 0, base: int = 0,
                 window: int = DEFAULT_WINDOW, max_activation_bytes: int = MAX_ACTIVATION_BYTES):
        super().__init__(program, max_activation_bytes)
        self.dev, self.timeout, self.ctrl = dev, float(timeout), int(control_base)
        self.regs = {k: int(v) + self.ctrl for k, v in registers.items()}
        self.wedged: str | None = None
        self.addr = {"weights": int(base)}
        self.addr["acts"] = self.addr["weights"] + _pad(_pad(self.weights.buf.size, WORD), ALIGN)
        self.addr["desc"] = self.addr["acts"] + _pad(_pad(self.acts.buf.size, WORD), ALIGN)
        self.end = int(base) + int(window)
        self._check_fits("desc", 0)
        self._write(self.addr["weights"], self.weights.buf)
        self.descriptors = encode(program) if descriptors is None else descriptors

    def _check_fits(self, what: str, nbytes: int) -> None:
        if self.addr[what] + _pad(nbytes, WORD) > self.end:
            raise SessionError(f"the tiled program needs {self.addr[what] + _pad(nbytes, WORD) - self.addr['weights']} "
                               f"bytes of card memory (weights {self.weights.buf.size}, activations "
                               f"{self.acts.buf.size}, descriptors {nbytes}), more than the "
                               f"{self.end - self.addr['weights']} the driver uses")

    def _write(self, address: int, data: np.ndarray) -> None:
        raw = np.ascontiguousarray(data).view(np.uint8).reshape(-1).tobytes()
        self.dev.write(address, raw + bytes(_pad(len(raw), WORD) - len(raw)))  # whole memory words

    @property
    def descriptors(self) -> np.ndarray:
        return self._words

    @descriptors.setter
    def descriptors(self, words: np.ndarray) -> None:
        words = np.ascontiguousarray(words, dtype="<u4")
        self._check_fits("desc", words.nbytes)
        self._write(self.addr["desc"], words)
        self._words = words

    # --- one engine call ---------------------------------------------------------------------------
    def _run_layers(self) -> None:
        if self.wedged:
            raise SessionError(self.wedged)
        ctrl = self.dev.peek(self.ctrl + CTRL)
        if not ctrl & AP_IDLE:
            raise SessionError(f"the tiled engine is busy before a run (CTRL={ctrl:#x}): another process may be driving "
                               "it, or a previous run was abandoned; reload the AFI with fpga-load-local-image")
        self._write(self.addr["acts"], self.acts.buf)
        sizes = {"desc_words": self._words.size, "weights_bytes": self.weights.buf.size,
                 "act_bytes": self.acts.buf.size}
        for name in ("desc", "weights", "acts"):
            self.dev.poke(self.regs[name], self.addr[name] & 0xFFFFFFFF)
            self.dev.poke(self.regs[name] + 4, self.addr[name] >> 32)
        for name, value in sizes.items():
            self.dev.poke(self.regs[name], int(value))
        self.dev.poke(self.ctrl + CTRL, AP_START)
        self._wait()
        status = self.dev.peek(self.regs["ap_return"])
        raw = self.dev.read(self.addr["acts"], _pad(self.acts.buf.size, WORD))
        self.acts.buf[:] = np.frombuffer(raw, np.uint8)[:self.acts.buf.size]
        if status:
            raise status_error(status, self.program, self.active[0])

    def _wait(self) -> None:
        deadline = time.monotonic() + self.timeout
        polls = 0
        while not self.dev.peek(self.ctrl + CTRL) & AP_DONE:
            polls += 1
            if time.monotonic() > deadline:
                self.wedged = ("a previous run of the tiled engine did not finish and it cannot be reset from the "
                               "host: reload the AFI (`sudo fpga-load-local-image`) and open a new Session")
                raise SessionTimeout(f"the tiled engine on F2 did not finish within {self.timeout:g} s "
                                     f"({self.active[1] - self.active[0]} layers, ap_done not seen). Raise the session "
                                     "timeout if the model is that slow; else the AFI was built for another engine "
                                     "configuration or its masters do not reach the DDR4 — rebuild it from this bundle")
            if polls > SPIN_POLLS:
                time.sleep(POLL_SLEEP_S)


def status_error(status: int, program, first: int = 0) -> EngineStatusError:
    """The error of an engine ``status``; its layer index counts from ``first`` (the segment's start)."""
    code, layer = status & 0xFF, (status >> 8) + first
    layers = program.layers
    where = f"layer {layer} '{layers[layer]['name']}'" if code > 2 and layer < len(layers) else "the program"
    hint = (" — the AFI was built for another engine configuration than this bundle's program; build it from this "
            "bundle" if code == 2 else "")
    return EngineStatusError(f"tiled engine (F2): {where}: status {code}, {STATUS.get(code, 'unknown status')}{hint}",
                             code, layer)
