"""The f2 backend: the bundle's AFI on an AWS F2 instance (``fa_kernel`` in the HDK custom logic).

The AFI is made by ``fpga-accel build`` (steps hls, hdk, afi; ``bitstream/afi.json`` holds its ids)
and loaded on the instance beforehand with ``sudo fpga-load-local-image -S SLOT -I AGFI``. The
backend attaches to the slot through ``libfpga_mgmt`` (aws-fpga's SDK, loaded with ctypes only
when a session opens), checks that the slot's PCI IDs are the bundle's CL's, then writes the
batches into card memory through the PCIS window (AppPF BAR4), starts the kernel on its
registers (AppPF BAR0) and reads the results back (:mod:`fpga_accel.runtime.f2_driver`). A design
that keeps weights in URAM gets them first: ``weights/uram.bin`` copied into card memory, one run
with ``load`` = 1 (its ``wmem`` master reads the DDR4 through the CL's crossbar). Run as root on the
instance. ``FA_F2_SLOT`` picks the FPGA slot (default 0).

A bundle compiled for the tiled engine runs on the engine IP ``fa_tiled_top`` in its own AFI
(``manifest["scripts"]["ip"]``: the register map): :class:`~fpga_accel.runtime.f2_driver.tiled.TiledF2`
loads the weights into card memory once and runs each image (each segment between host steps) with
one ``ap_start``.

A bundle in dataflow segments runs on the one AFI of its model's bundle, whose CL holds every segment's
kernel ``fa_kernel_s<k>`` with its registers at k · 0x1000 of BAR0
(:mod:`fpga_accel.runtime.f2_driver.segments`): :meth:`F2Backend.open_segments` gives the chain of
runtime/segments.py one backend per kernel, and the host steps run between them.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from ...bundle_uram import has_uram_weights, read_uram_blob
from ..errors import BackendUnavailable
from ..f2_driver import FpgaLibError, FpgaPci, KernelRunner, library_path
from ..f2_driver import libs as f2_libs
from .base import Backend, bitstream_mismatch

DEFAULT_TIMEOUT_S = 60.0
AFI_RECORD = "bitstream/afi.json"


def afi_ids(bundle) -> dict | str:
    """The AFI record of the bundle's F2 build, or why there is none."""
    p = Path(bundle.path) / AFI_RECORD
    try:
        rec = json.loads(p.read_text())
    except (OSError, ValueError):
        return (f"no AFI record {p}: build the bundle for aws-f2 with `fpga-accel build` (steps hls, hdk, afi), "
                "then load the AFI on the F2 instance with `sudo fpga-load-local-image -S 0 -I AGFI`")
    if not isinstance(rec, dict) or not str(rec.get("agfi_id", "")).startswith("agfi-"):
        return f"{p} names no AGFI; rebuild the afi step"
    return rec


class F2Backend(Backend):
    name = "f2"
    priority = 30  # real hardware first when ``auto`` finds it

    @classmethod
    def unavailable(cls, bundle) -> str | None:
        m = bundle.manifest
        if (m.get("board") or {}).get("family") != "hdk":
            return "the bundle is not compiled for AWS F2 (board aws-f2, the HDK custom-logic flow)"
        if "tiled" in m:
            if not isinstance((m.get("scripts") or {}).get("ip"), dict):
                return ("the tiled bundle describes no engine IP (manifest scripts.ip): it was compiled before the "
                        "engine's F2 build scripts were generated; recompile it for aws-f2")
        elif "segments" in m:
            from ..f2_driver.segments import segments_problem

            why = segments_problem(m)
            if why:
                return why
        elif not (m.get("kernel") or {}).get("args"):
            return "the bundle is not compiled for AWS F2 (board aws-f2, the HDK custom-logic flow)"
        rec = afi_ids(bundle)
        if isinstance(rec, str):
            return rec
        mismatch = bitstream_mismatch(bundle)
        if mismatch:
            return mismatch
        if not sys.platform.startswith("linux"):
            return "the F2 host libraries run on Linux only (an EC2 F2 instance)"
        if not library_path():
            return ("libfpga_mgmt is not installed: on the F2 instance run `source sdk_setup.sh` in aws-fpga "
                    "(branch f2), or set FA_FPGA_MGMT_LIB")
        return None

    def __init__(self, bundle, qmodel, timeout: float | None = None):
        super().__init__(bundle, qmodel, timeout)
        why = self.unavailable(bundle)
        if why:
            raise BackendUnavailable(why)
        slot = int(os.environ.get("FA_F2_SLOT", "0"))
        try:
            self.dev = FpgaPci(f2_libs.load(), slot)
        except (OSError, FpgaLibError) as e:
            raise BackendUnavailable(f"cannot open F2 slot {slot} ({e})") from e
        want = (bundle.manifest.get("scripts") or {}).get("pci_ids")
        if want:
            have = self.dev.pci_ids()
            if have != (int(want["vendor"]), int(want["device"])):
                self.dev.close()
                raise BackendUnavailable(
                    f"slot {slot} holds PCI IDs {have[0]:04x}:{have[1]:04x}, not the bundle's CL "
                    f"({int(want['vendor']):04x}:{int(want['device']):04x}): load its AFI with "
                    f"`sudo fpga-load-local-image -S {slot} -I {afi_ids(bundle)['agfi_id']}`")
        self.tiled = None
        if "segments" in bundle.manifest:  # the kernels are the segments' (open_segments)
            return
        if "tiled" in bundle.manifest:
            self._open_tiled()
            return
        kernel = bundle.manifest["kernel"]
        shapes = {t.name: tuple(t.shape[1:]) for t in list(qmodel.inputs) + list(qmodel.outputs)}
        self.runner = KernelRunner(self.dev, kernel["args"], shapes, word=int(kernel.get("mem_word_bytes") or 64))
        self.max_batch = self.runner.max_images
        if has_uram_weights(bundle):  # URAM is empty after the AFI is loaded: fill it before any image
            try:
                self.runner.load_uram(read_uram_blob(bundle), self._timeout())
            except BaseException:
                self.dev.close()
                raise

    @classmethod
    def segments_from_bitstream(cls, bundle) -> bool:
        """A bundle in dataflow segments runs from its one AFI, which holds every segment's kernel."""
        return "segments" in bundle.manifest

    def open_segments(self, opened: list) -> list:
        """One backend per segment (``opened``: [(segment bundle, its QModel)]) on its kernel in this AFI."""
        from ..f2_driver.segments import SegmentKernel

        return [SegmentKernel(sub, sq, self.dev, k, self.timeout, DEFAULT_TIMEOUT_S)
                for k, (sub, sq) in enumerate(opened)]

    def _open_tiled(self) -> None:
        from ...bundle_tiled import load_program
        from ...tiled.interface import CONTROL_BASE
        from ..f2_driver.tiled import TiledF2, check_registers

        try:
            regs = check_registers(self.bundle.manifest["scripts"]["ip"])
            program, words = load_program(self.bundle)
            self.tiled = TiledF2(program, self.dev, regs, timeout=self._timeout(), descriptors=words,
                                 control_base=CONTROL_BASE)
        except BaseException:
            self.dev.close()
            raise

    def _timeout(self) -> float:
        return self.device_timeout(DEFAULT_TIMEOUT_S)

    def run_raw(self, q_inputs):
        if self.tiled is not None:
            return self.tiled.run(q_inputs)
        return self.runner.run(q_inputs, self._timeout())

    def close(self) -> None:
        dev = getattr(self, "dev", None)
        if dev is not None:
            dev.close()


BACKEND = F2Backend
