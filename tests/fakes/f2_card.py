"""An AWS F2 card at the level the f2 backend sees it, and a stand-in for ``libfpga_mgmt``.

:class:`F2Card`: ``fa_kernel`` in the custom logic. Its s_axilite registers (ap_ctrl_hs: CTRL bit 0
ap_start, bit 1 ap_done clear-on-read, bit 2 ap_idle; each buffer's 64-bit address as two words
at its offset, ``n_images``) and the card memory behind the PCIS window. At ap_start the kernel
reads its inputs from memory at the addresses written (memory words of 64 bytes, so an address
must be word-aligned), computes with :func:`fpga_accel.emulator.run_layers` and writes whole
words of output (the tail of the last word is junk, as the kernel writes the word completely).
It decodes the buffers itself, from the manifest, independently of the host code. Protocol
slips (a start while busy, unaligned or overlapping buffers, reads of a BAR not attached,
unaligned register access) are recorded as violations. A kernel with URAM weights (the manifest's
``uram_load``): ap_start with ``load`` = 1 reads ``uram_load.bytes`` from card memory at ``wmem``
(``uram_loaded``, ``loads``: (address, bytes) per load) and computes nothing; an image run before
the blob it was compiled with was loaded gives zeros (URAM is empty after the AFI is loaded).

:class:`FakeFpgaMgmt`: the library functions the backend calls, with the return codes and
out-parameters of aws-fpga's ``fpga_pci.h`` (arguments arrive as ctypes objects, ``byref`` ones
included), bounds-checked against the card.
"""
from __future__ import annotations

import ctypes
import hashlib
import itertools

import numpy as np

from fpga_accel.emulator import run_layers
from fpga_accel.runtime.f2_driver.libs import _SIGNATURES, BURST_CAPABLE

WORD = 64


class F2Card:
    def __init__(self, manifest: dict, qmodel, mem_bytes: int = 64 << 20, ids=(0x1D0F, 0xF0FA), hang: bool = False,
                 mem_base: int = 0):
        self.kernel, self.qmodel = manifest["kernel"], qmodel
        self.mem = ctypes.create_string_buffer(mem_bytes)  # the card's memory from address mem_base
        self.mem_base = mem_base
        self.ids, self.hang = ids, hang
        self.regs: dict[int, int] = {}
        self.running = self.done = False
        self.starts: list[int] = []
        self.violations: list[str] = []
        self.reg_reads = self.reg_writes = 0
        self.tensors = {t.name: t for t in list(qmodel.inputs) + list(qmodel.outputs)}
        self.uram = manifest.get("uram_load")
        self.uram_loaded: bytes | None = None
        self.loads: list[tuple[int, int]] = []

    # --- registers ------------------------------------------------------------------------------
    def read(self, off: int) -> int:
        self.reg_reads += 1
        if off == 0:
            v = int(self.running) | int(self.done) << 1 | int(not self.running) << 2
            self.done = False  # clear-on-read
            return v
        return self.regs.get(off, 0)

    def write(self, off: int, value: int) -> None:
        self.reg_writes += 1
        if off == 0:
            if value & 1:
                self._start()
            return
        if self.running:
            self.violations.append(f"register {off:#x} written while the kernel runs")
        self.regs[off] = value & 0xFFFFFFFF

    # --- the kernel -----------------------------------------------------------------------------
    def _buffer(self, a: dict, n: int) -> tuple[int, int]:
        addr = self.regs.get(a["offset"], 0) | self.regs.get(a["offset"] + 4, 0) << 32
        t = self.tensors[a["tensor"]]
        nbytes = n * int(np.prod(t.shape[1:])) * np.dtype(a["dtype"]).itemsize
        if addr % WORD:
            self.violations.append(f"buffer {a['name']} at {addr:#x} is not on a {WORD}-byte memory word")
        if not 0 <= addr - self.mem_base <= len(self.mem) - nbytes:
            self.violations.append(f"buffer {a['name']} at {addr:#x} + {nbytes} is outside the card's modelled memory")
        return addr - self.mem_base, nbytes

    def _start(self) -> None:
        if self.running:
            self.violations.append("ap_start while the kernel runs")
            return
        n = self.regs.get(next(a["offset"] for a in self.kernel["args"] if a["name"] == "n_images"), 0)
        self.running = True
        if self.hang:
            self.starts.append(n)
            return
        load = next((a for a in self.kernel["args"] if a["name"] == "load" and a.get("role") == "uram_load"), None)
        if load is not None and self.regs.get(load["offset"], 0) == 1:
            self._load_weights()
            return
        self.starts.append(n)
        bufs = {a["name"]: (a, *self._buffer(a, n)) for a in self.kernel["args"]
                if a["kind"] == "m_axi" and a.get("role") != "uram_load"}
        spans = sorted((addr, addr + -(-size // WORD) * WORD, name) for name, (_, addr, size) in bufs.items())
        for (_, end, x), (start, _, y) in itertools.pairwise(spans):
            if start < end:
                self.violations.append(f"buffers {x} and {y} overlap")
        if self.violations:
            return  # a kernel given bad addresses never finishes
        feeds = {}
        for a, addr, size in bufs.values():
            if a["direction"] == "in":
                t = self.tensors[a["tensor"]]
                raw = ctypes.string_at(ctypes.addressof(self.mem) + addr, size)
                feeds[t.name] = np.frombuffer(raw, a["dtype"]).reshape((n, *t.shape[1:]))
        outs = run_layers(self.qmodel, feeds)
        if self.uram is not None and (self.uram_loaded is None
                                      or hashlib.sha256(self.uram_loaded).hexdigest() != self.uram["sha256"]):
            outs = {k: np.zeros_like(v) for k, v in outs.items()}  # weights never (or wrongly) loaded
        for a, addr, size in bufs.values():
            if a["direction"] == "out":
                data = np.ascontiguousarray(outs[a["tensor"]], a["dtype"]).tobytes()
                data += b"\xee" * (-(-size // WORD) * WORD - size)  # the rest of the last word
                ctypes.memmove(ctypes.addressof(self.mem) + addr, data, len(data))
        self.running, self.done = False, True


    def _load_weights(self) -> None:
        """load = 1: the wmem master reads the blob's bytes from card memory into the URAM."""
        if self.uram is None:
            self.violations.append("load = 1 on a kernel that keeps no weights in URAM")
            return
        off = next(a["offset"] for a in self.kernel["args"] if a["name"] == "wmem")
        addr = self.regs.get(off, 0) | self.regs.get(off + 4, 0) << 32
        n = int(self.uram["bytes"])
        if addr % WORD or not 0 <= addr - self.mem_base <= len(self.mem) - n:
            self.violations.append(f"wmem at {addr:#x} + {n} is unaligned or outside the card's modelled memory")
            return
        self.uram_loaded = ctypes.string_at(ctypes.addressof(self.mem) + addr - self.mem_base, n)
        self.loads.append((addr, n))
        self.running, self.done = False, True


class _Fn:
    """A library function: callable, and takes ``argtypes``/``restype`` like a ctypes function."""

    def __init__(self, fn):
        self.fn = fn

    def __call__(self, *args):
        return self.fn(*args)


def _addr(obj) -> int:
    return obj if isinstance(obj, int) else ctypes.addressof(obj)


class FakeFpgaMgmt:
    def __init__(self, card: F2Card):
        self.card, self.inited, self.handles, self.calls = card, False, {}, []
        for name in _SIGNATURES:
            setattr(self, name, _Fn(self._counted(name, getattr(self, "_" + name))))

    def _counted(self, name, fn):
        def call(*args):
            self.calls.append(name)
            return fn(*args)
        return call

    def _fpga_mgmt_init(self):
        self.inited = True
        return 0

    def _fpga_pci_attach(self, slot, pf, bar, flags, handle_ref):
        if not self.inited or slot != 0 or pf != 0 or bar not in (0, 4):
            return -22
        h = len(self.handles) + 3
        self.handles[h] = (bar, flags)
        handle_ref._obj.value = h
        return 0

    def _fpga_pci_detach(self, h):
        return 0 if self.handles.pop(h, None) else -22

    def _bar(self, h, want: int):
        bar = self.handles.get(h, (None, 0))
        if bar[0] != want:
            self.card.violations.append(f"BAR{want} access through handle {h}, which is {bar[0]}")
            return None
        return bar

    def _fpga_pci_peek(self, h, off, value_ref):
        if self._bar(h, 0) is None or off % 4:
            return -22
        value_ref._obj.value = self.card.read(off)
        return 0

    def _fpga_pci_poke(self, h, off, value):
        if self._bar(h, 0) is None or off % 4 or not 0 <= value < 1 << 32:
            return -22
        self.card.write(off, value)
        return 0

    def _in_memory(self, off, nbytes) -> int | None:
        """The offset into the modelled memory of card address ``off``, or None when outside it."""
        o = off - self.card.mem_base
        return o if 0 <= o <= len(self.card.mem) - nbytes else None

    def _fpga_pci_write_burst(self, h, off, datap, dword_len):
        bar = self._bar(h, 4)
        off = self._in_memory(off, 4 * dword_len)
        if bar is None or not bar[1] & BURST_CAPABLE or off is None:
            return -22
        ctypes.memmove(ctypes.addressof(self.card.mem) + off, _addr(datap), 4 * dword_len)
        return 0

    def _fpga_pci_get_address(self, h, off, dword_len, ptr_ref):
        off = self._in_memory(off, 4 * dword_len)
        if self._bar(h, 4) is None or off is None:
            return -22
        ptr_ref._obj.value = ctypes.addressof(self.card.mem) + off
        return 0

    def _fpga_pci_get_resource_map(self, slot, pf, map_ref):
        if slot != 0 or pf != 0:
            return -22
        m = map_ref._obj
        m[0], m[1] = self.card.ids
        return 0


#: the address map of a CL holding several kernels (docs/f2.md): kernel k's registers at k · 0x1000 of OCL
CONTROL_WINDOW = 0x1000


class F2SegmentsCard:
    """The custom logic of a bundle in dataflow segments: one :class:`F2Card` kernel per segment
    (``segments``: [(segment manifest, its QModel)]), all on one card memory, kernel k's registers in
    the OCL window from ``k · 0x1000``. ``hang``: the index of a kernel that never finishes. Records the
    order kernels start in (``order``); a start while another kernel runs, or an access outside every
    kernel's window, is a violation."""

    def __init__(self, segments: list, mem_bytes: int = 64 << 20, ids=(0x1D0F, 0xF0FA), hang: int | None = None,
                 mem_base: int = 0):
        self.mem, self.mem_base, self.ids = ctypes.create_string_buffer(mem_bytes), mem_base, ids
        self.violations: list[str] = []
        self.order: list[int] = []
        self.kernels = [F2Card(m, q, mem_bytes=0, ids=ids, hang=k == hang, mem_base=mem_base)
                        for k, (m, q) in enumerate(segments)]
        for kern in self.kernels:  # one memory, one list of violations
            kern.mem, kern.violations = self.mem, self.violations

    def _kernel(self, off: int):
        k = off // CONTROL_WINDOW
        if k >= len(self.kernels):
            self.violations.append(f"register {off:#x} is outside every kernel's control window")
            return None
        return self.kernels[k]

    def read(self, off: int) -> int:
        kern = self._kernel(off)
        return 0 if kern is None else kern.read(off % CONTROL_WINDOW)

    def write(self, off: int, value: int) -> None:
        kern = self._kernel(off)
        if kern is None:
            return
        if off % CONTROL_WINDOW == 0 and value & 1:
            busy = [j for j, other in enumerate(self.kernels) if other.running and other is not kern]
            if busy:
                self.violations.append(f"kernel {off // CONTROL_WINDOW} started while kernel {busy[0]} runs")
            self.order.append(off // CONTROL_WINDOW)
        kern.write(off % CONTROL_WINDOW, value)
