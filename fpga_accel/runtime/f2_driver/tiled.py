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
2. write what the host wrote into its copy of the arena since the last call (the image's inputs, or a
   host step's result), in whole 64-byte words;
3. write the three addresses (low, high word) and sizes, then ``ap_start``;
4. poll CTRL for ``ap_done`` (clear-on-read) until the deadline;
5. read the status (``ap_return``: 0, or a code with the layer index above its low 8 bits), then only the
   tensors the host reads next: the inputs of the host steps after this segment, or the outputs.

Reads through BAR4 are uncached PCIe reads, far slower than writes, so the arena is never read whole. A
host step's result shares memory words with tensors the engine wrote, so the words around it are read
back before the host writes it; the image's inputs need no such read, since every other tensor of the
arena is written by the engine before it is read.
"""
from __future__ import annotations

import time

import numpy as np

from ...tiled.csim import STATUS, EngineStatusError
from ...tiled.descriptors import encode
from ...tiled.engine import MAX_ACTIVATION_BYTES, Arena, TiledEngine
from ...tiled.segments import HostStep, Segment
from ..errors import SessionError, SessionTimeout
from .runner import ALIGN, AP_DONE, AP_IDLE, AP_START, CTRL, DEFAULT_WINDOW

WORD = 64
#: busy polls of CTRL before the driver sleeps between polls (short programs finish within them)
SPIN_POLLS = 2000
POLL_SLEEP_S = 0.0005


def _pad(n: int, to: int) -> int:
    return -(-int(n) // to) * to


def _span(view: dict, y0: int, x0: int, c0: int, shape: tuple) -> tuple[int, int]:
    """The bytes [start, end) of the arena a block (rows × cols × channels) of ``view`` lies in (element
    (y, x, ch) at offset + ((y·w + x)·pixel_stride + ch·channel_stride)·itemsize; channel_stride 1 when absent)."""
    r, c, n = shape
    isz, ps, w = np.dtype(view["dtype"]).itemsize, view["pixel_stride"], view["w"]
    cs = view.get("channel_stride", 1)
    start = view["offset"] + ((y0 * w + x0) * ps + c0 * cs) * isz
    return start, view["offset"] + (((y0 + r - 1) * w + x0 + c - 1) * ps + (c0 + n - 1) * cs + 1) * isz


class HostArena(Arena):
    """The host's copy of the activation arena: remembers the memory words the host writes (``dirty``),
    and before a host step writes, refreshes the words around its block from the card."""

    def __init__(self, buf: np.ndarray, driver: TiledF2):
        super().__init__(buf)
        self.driver, self.dirty = driver, []

    def write(self, view: dict, y0: int, x0: int, c0: int, values: np.ndarray) -> None:
        start, end = _span(view, y0, x0, c0, values.shape)
        a, b = self.driver._words(start, end)
        if self.layer != "host":  # a host step's result: the engine wrote the tensors beside it
            r, c, n = values.shape
            whole_pixels = (n == view["c"] == view["pixel_stride"] and c0 == 0 and view.get("channel_stride", 1) == 1
                            and (c == view["w"] or r == 1))
            if not whole_pixels:  # other tensors' channels between its pixels: every word it touches
                self.driver._fetch(a, b)
            else:  # one run of bytes: only the words at its ends hold anything else
                self.driver._fetch(a, min(a + WORD, b))
                if b - WORD > a:
                    self.driver._fetch(b - WORD, b)
        super().write(view, y0, x0, c0, values)
        self.dirty.append((a, b))


def check_registers(ip: dict) -> dict[str, int]:
    """The engine's register offsets from ``manifest["scripts"]["ip"]``, refused unless they are the
    names of :func:`~fpga_accel.tiled.interface.register_map` at word offsets inside the engine's
    control block (0x10 up to its address width): a wrong offset would write another register."""
    from ...tiled.interface import TOP, control_addr_bits, register_map

    regs = ip.get("registers") if isinstance(ip, dict) else None
    top = 1 << control_addr_bits()
    if (ip.get("name") if isinstance(ip, dict) else None) != TOP or not isinstance(regs, dict) \
            or set(regs) != set(register_map()) \
            or not all(type(v) is int and 0x10 <= v <= top - 8 and v % 4 == 0 for v in regs.values()):
        raise SessionError(f"the manifest's engine IP description (scripts.ip) is not the register map of {TOP} "
                           f"(names {sorted(register_map())}, word offsets in 0x10..{top - 8:#x}); recompile the "
                           "bundle for aws-f2 and rebuild its AFI")
    return dict(regs)


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
        self.acts = HostArena(self.acts.buf, self)
        self.reads_after = self._reads_after()
        self.moved = {"written": 0, "read": 0}  # arena bytes through BAR4, for the host cost

    def _reads_after(self) -> dict[int, list[dict]]:
        """Segment end → the views the host reads before the next engine call."""
        out, pending = {}, None
        for step in self.steps:
            if isinstance(step, Segment):
                pending = out.setdefault(step.end, [])
            elif isinstance(step, HostStep) and pending is not None:
                pending += [self.views[t]["view"] for t in step.layer.inputs]
        if pending is not None:
            pending += [self.views[t]["view"] for t in self.program.data["outputs"]]
        return out

    def _words(self, start: int, end: int) -> tuple[int, int]:
        """[start, end) of the arena widened to whole memory words (within the arena's padded size)."""
        return start // WORD * WORD, min(_pad(end, WORD), _pad(self.acts.buf.size, WORD))

    def _fetch(self, start: int, end: int) -> None:
        """Arena bytes [start, end) (whole words) from the card into the host's copy."""
        raw = np.frombuffer(self.dev.read(self.addr["acts"] + start, end - start), np.uint8)
        stop = min(end, self.acts.buf.size)
        self.acts.buf[start:stop] = raw[:stop - start]
        self.moved["read"] += end - start

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
        return self._desc_words

    @descriptors.setter
    def descriptors(self, words: np.ndarray) -> None:
        words = np.ascontiguousarray(words, dtype="<u4")
        self._check_fits("desc", words.nbytes)
        self._write(self.addr["desc"], words)
        self._desc_words = words

    def _flush(self) -> None:
        """The memory words the host wrote since the last engine call, to the card."""
        for start, end in _merged(self.acts.dirty):
            self._write(self.addr["acts"] + start, self.acts.buf[start:end])
            self.moved["written"] += _pad(end - start, WORD)
        self.acts.dirty = []

    # --- one engine call ---------------------------------------------------------------------------
    def _run_layers(self) -> None:
        if self.wedged:
            raise SessionError(self.wedged)
        ctrl = self.dev.peek(self.ctrl + CTRL)
        if not ctrl & AP_IDLE:
            raise SessionError(f"the tiled engine is busy before a run (CTRL={ctrl:#x}): another process may be driving "
                               "it, or a previous run was abandoned; reload the AFI with fpga-load-local-image")
        self._flush()
        sizes = {"desc_words": self._desc_words.size, "weights_bytes": self.weights.buf.size,
                 "act_bytes": self.acts.buf.size}
        for name in ("desc", "weights", "acts"):
            self.dev.poke(self.regs[name], self.addr[name] & 0xFFFFFFFF)
            self.dev.poke(self.regs[name] + 4, self.addr[name] >> 32)
        for name, value in sizes.items():
            self.dev.poke(self.regs[name], int(value))
        self.dev.poke(self.ctrl + CTRL, AP_START)
        self._wait()
        status = self.dev.peek(self.regs["ap_return"])
        if status:
            raise status_error(status, self.program, self.active[0])
        for start, end in _merged([self._words(*_span(v, 0, 0, 0, (v["h"], v["w"], v["c"])))
                                   for v in self.reads_after.get(self.active[1], [])]):
            self._fetch(start, end)

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


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Overlapping or touching [start, end) spans joined, in order."""
    out: list[list[int]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def status_error(status: int, program, first: int = 0) -> EngineStatusError:
    """The error of an engine ``status``; its layer index counts from ``first`` (the segment's start)."""
    code, layer = status & 0xFF, (status >> 8) + first
    layers = program.layers
    where = f"layer {layer} '{layers[layer]['name']}'" if code > 2 and layer < len(layers) else "the program"
    hint = (" — the AFI was built for another engine configuration than this bundle's program; build it from this "
            "bundle" if code == 2 else "")
    return EngineStatusError(f"tiled engine (F2): {where}: status {code}, {STATUS.get(code, 'unknown status')}{hint}",
                             code, layer)
