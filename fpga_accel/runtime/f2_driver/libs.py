"""ctypes bindings to the AWS FPGA management library (``libfpga_mgmt.so`` of aws-fpga's SDK).

Only the calls the f2 backend makes, with the signatures of ``sdk/userspace/include/fpga_pci.h``
and ``fpga_mgmt.h`` (aws-fpga, branch f2): ``fpga_mgmt_init``, ``fpga_pci_attach`` /
``fpga_pci_detach``, ``fpga_pci_peek`` / ``fpga_pci_poke`` (32-bit register access),
``fpga_pci_write_burst`` (writes on a BAR attached ``BURST_CAPABLE``, i.e. write-combining),
``fpga_pci_get_address`` (a bounds-checked pointer into the mapped BAR, for reads) and
``fpga_pci_get_resource_map`` (the slot's PCI IDs, the first fields of its result). Every call
returning non-zero raises :class:`FpgaLibError` naming the call.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os

from ..errors import SessionError

LIBRARY = "fpga_mgmt"
#: enums of hal/fpga_common.h
FPGA_APP_PF, APP_PF_BAR0, APP_PF_BAR4 = 0, 0, 4
BURST_CAPABLE = 0x1
#: bytes reserved for struct fpga_pci_resource_map (its first four fields are the uint16 PCI IDs;
#: the rest, a few BAR descriptors, is far smaller than this)
RESOURCE_MAP_BYTES = 1024

_SIGNATURES = {
    "fpga_mgmt_init": [],
    "fpga_pci_attach": [ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_uint32, ctypes.POINTER(ctypes.c_int)],
    "fpga_pci_detach": [ctypes.c_int],
    "fpga_pci_peek": [ctypes.c_int, ctypes.c_uint64, ctypes.POINTER(ctypes.c_uint32)],
    "fpga_pci_poke": [ctypes.c_int, ctypes.c_uint64, ctypes.c_uint32],
    "fpga_pci_write_burst": [ctypes.c_int, ctypes.c_uint64, ctypes.POINTER(ctypes.c_uint32), ctypes.c_uint64],
    "fpga_pci_get_address": [ctypes.c_int, ctypes.c_uint64, ctypes.c_uint64, ctypes.POINTER(ctypes.c_void_p)],
    "fpga_pci_get_resource_map": [ctypes.c_int, ctypes.c_int, ctypes.c_void_p],
}


class FpgaLibError(SessionError):
    """A libfpga_mgmt call failed."""


def library_path() -> str | None:
    """``$FA_FPGA_MGMT_LIB``, else the system's libfpga_mgmt (aws-fpga's sdk_setup.sh installs it)."""
    return os.environ.get("FA_FPGA_MGMT_LIB") or ctypes.util.find_library(LIBRARY)


def load(path: str | None = None):
    """The library with its argument and result types set."""
    path = path or library_path()
    if not path:
        raise FpgaLibError("libfpga_mgmt not found: run `source sdk_setup.sh` in aws-fpga (branch f2) on the F2 "
                           "instance, or set FA_FPGA_MGMT_LIB to the library's path")
    return bind(ctypes.CDLL(path))


def bind(lib):
    for name, args in _SIGNATURES.items():
        fn = getattr(lib, name)
        fn.argtypes, fn.restype = args, ctypes.c_int
    return lib


class FpgaPci:
    """One slot's BARs through the library: ``regs`` (AppPF BAR0, the OCL AXI-Lite) and ``mem``
    (AppPF BAR4, the PCIS window onto the card's memory)."""

    def __init__(self, lib, slot: int = 0):
        self.lib, self.slot = lib, int(slot)
        self._call("fpga_mgmt_init")
        self.regs = self._attach(APP_PF_BAR0, 0)
        self.mem = self._attach(APP_PF_BAR4, BURST_CAPABLE)

    def _call(self, name: str, *args) -> None:
        rc = getattr(self.lib, name)(*args)
        if rc != 0:
            raise FpgaLibError(f"{name} failed on slot {self.slot} (returned {rc}); is the AFI loaded "
                               f"(`sudo fpga-describe-local-image -S {self.slot} -H`) and the process root?")

    def _attach(self, bar: int, flags: int) -> int:
        h = ctypes.c_int(-1)
        self._call("fpga_pci_attach", self.slot, FPGA_APP_PF, bar, flags, ctypes.byref(h))
        return h.value

    def pci_ids(self) -> tuple[int, int]:
        """(vendor ID, device ID) of the slot's application PF: those of the loaded AFI's CL."""
        buf = (ctypes.c_uint16 * (RESOURCE_MAP_BYTES // 2))()
        self._call("fpga_pci_get_resource_map", self.slot, FPGA_APP_PF, ctypes.byref(buf))
        return int(buf[0]), int(buf[1])

    def peek(self, offset: int) -> int:
        v = ctypes.c_uint32()
        self._call("fpga_pci_peek", self.regs, offset, ctypes.byref(v))
        return v.value

    def poke(self, offset: int, value: int) -> None:
        self._call("fpga_pci_poke", self.regs, offset, value & 0xFFFFFFFF)

    def write(self, address: int, data: bytes) -> None:
        """``data`` (a multiple of 4 bytes) into card memory at ``address``."""
        buf = (ctypes.c_uint32 * (len(data) // 4)).from_buffer_copy(data)
        self._call("fpga_pci_write_burst", self.mem, address, buf, len(data) // 4)

    def read(self, address: int, nbytes: int) -> bytes:
        ptr = ctypes.c_void_p()
        self._call("fpga_pci_get_address", self.mem, address, -(-nbytes // 4), ctypes.byref(ptr))
        return ctypes.string_at(ptr.value, nbytes)

    def close(self) -> None:
        for h in (getattr(self, "regs", -1), getattr(self, "mem", -1)):
            if h >= 0:
                self.lib.fpga_pci_detach(h)
        self.regs = self.mem = -1
