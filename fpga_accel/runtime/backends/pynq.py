"""The pynq backend: the bundle's bitstream on a Zynq board (PYNQ-Z2, ZCU104, KV260, Ultra96-V2).

``Overlay(bitstream/NAME.bit)`` (with ``NAME.hwh`` beside it) downloads the design: the
streaming IP ``fa_axis_0`` and one AXI DMA per stream (``dma_in0``, ``dma_out0``, ...). The IP's
register map from the .hwh is checked against ``manifest["kernel"]["axis"]`` before anything
runs; transfers and the ap_ctrl_hs handshake are driven by :mod:`fpga_accel.runtime.pynq_driver`.
pynq is imported only when a session opens. On the board, run as root with ``XILINX_XRT`` set
(the PYNQ image's profile does both).

A bundle in dataflow segments runs on the one overlay its model's bundle holds (scripts of
fpga_accel/flow/segments_scripts.py): segment k's IP ``fa_axis_s<k>_0`` and DMAs ``dma_s<k>_in0``, ...
found by name in the .hwh and checked against the segment's own manifest, the PL programmed once;
:meth:`PynqBackend.open_segments` gives the chain (runtime/segments.py) one :class:`PynqSegment` per IP
and the host steps run between them.

A bundle compiled for the tiled engine runs on the engine IP ``fa_tiled_0`` of its own build
(``manifest["scripts"]["ip"]``: the register map, checked against the .hwh the same way; a split
engine, ``tiled.array.split``, with its two more pointer registers):
:class:`~fpga_accel.runtime.pynq_driver.tiled.TiledPynq` loads the program and weights into DDR
once and runs each image with one ``ap_start``.
"""
from __future__ import annotations

import functools
import importlib.util
import json
from pathlib import Path

import numpy as np

from ...bundle_bitstream import RECORD
from ...hwh_compat import check_overlay_release
from ...bundle_uram import has_uram_weights, read_uram_blob
from ..errors import BackendUnavailable
from ..pynq_driver.uram import load_uram_weights
from ..pynq_driver import (
    IP_INSTANCE,
    AxisRunner,
    DmaChannel,
    DmaConfig,
    StreamLayout,
    check_register_map,
    dma_instance,
    find_instance,
)
from ..pynq_driver.overlay import check_dma
from .base import Backend, bitstream_mismatch

DEFAULT_TIMEOUT_S = 60.0


def overlay_files(bundle) -> tuple[Path, Path] | str:
    """``(bit, hwh)`` of the bundle's ``bitstream/`` directory, or why there are none."""
    d = Path(bundle.path) / "bitstream"
    bits = sorted(d.glob("*.bit")) if d.is_dir() else []
    if not bits:
        return (f"no bitstream in {d} (expected NAME.bit and NAME.hwh from a Vivado build of this bundle; "
                "run the bundle's build scripts on a machine with Vivado, then copy both files there)")
    if len(bits) > 1:
        return f"several bitstreams in {d}: {[b.name for b in bits]}; keep exactly one NAME.bit with its NAME.hwh"
    hwh = bits[0].with_suffix(".hwh")
    if not hwh.is_file():
        return f"{bits[0]} has no hardware handoff {hwh.name} beside it; copy the .hwh Vivado wrote with the .bit"
    return bits[0], hwh


def _build_record(bundle) -> dict | None:
    """The bitstream record (checked against the bundle by :func:`bitstream_mismatch`), else the
    manifest's build section, for the Vivado release that wrote the .hwh."""
    try:
        rec = json.loads((Path(bundle.path) / RECORD).read_text())
    except (OSError, ValueError):
        rec = None
    return rec if isinstance(rec, dict) else bundle.manifest.get("build")


class PynqBackend(Backend):
    name = "pynq"
    priority = 30  # real hardware first when ``auto`` finds it

    @classmethod
    def unavailable(cls, bundle) -> str | None:
        if "segments" in bundle.manifest:  # one overlay, every segment's IP (flow/segments_scripts.py)
            listed = (bundle.manifest.get("scripts") or {}).get("segments")
            if not isinstance(listed, list) or len(listed) != len(bundle.manifest["segments"]["list"]):
                return ("the bundle's dataflow segments have no Zynq block design (manifest scripts.segments): it was "
                        "compiled before one bitstream could hold them, or for a board that is no Zynq board; "
                        "recompile it for a Zynq board")
        elif "tiled" in bundle.manifest:
            if not isinstance((bundle.manifest.get("scripts") or {}).get("ip"), dict):
                return ("the tiled bundle describes no engine IP (manifest scripts.ip): it was compiled before the "
                        "engine's build scripts were generated, or for a board without them; recompile it for a "
                        "Zynq board")
        elif not (bundle.manifest.get("kernel") or {}).get("axis"):
            return "the manifest has no kernel.axis section (the bundle has no Zynq streaming IP); recompile it"
        files = overlay_files(bundle)
        if isinstance(files, str):
            return files
        mismatch = bitstream_mismatch(bundle)
        if mismatch:
            return mismatch
        try:
            found = importlib.util.find_spec("pynq") is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            return "pynq is not installed: this backend runs on a Zynq board with the PYNQ image (pynq >= 3.0)"
        return None

    @classmethod
    def segments_from_bitstream(cls, bundle) -> bool:
        """A bundle in dataflow segments runs from the one overlay of its model's bundle."""
        return "segments" in bundle.manifest

    def __init__(self, bundle, qmodel, timeout: float | None = None):
        super().__init__(bundle, qmodel, timeout)
        try:
            import pynq

            self.pynq = pynq
        except Exception as e:  # pynq fails in many ways off-board (numpy 2, no XRT, no root)
            raise BackendUnavailable(f"cannot import pynq ({type(e).__name__}: {e}); run on the board as root "
                                     "with the PYNQ environment sourced") from e
        files = overlay_files(bundle)
        if isinstance(files, str):
            raise BackendUnavailable(files)
        bit, hwh = files
        try:  # parse the .hwh first: a design that does not match is refused before the PL is touched
            self.overlay = pynq.Overlay(str(bit), download=False)
        except (OSError, RuntimeError, ValueError) as e:  # no root, no XRT, unreadable .hwh, ...
            raise BackendUnavailable(f"pynq could not load {bit} ({type(e).__name__}: {e}); on the board run as "
                                     "root with the PYNQ environment sourced, with the .bit and .hwh of one build") from e
        # a .hwh from a Vivado newer than this pynq was built for may have parsed wrongly: say so
        self.hwh_warning = check_overlay_release(_build_record(bundle), bundle.manifest.get("board"),
                                                 getattr(pynq, "__version__", None))
        ip_dict = self.overlay.ip_dict
        where = str(hwh)
        self.tiled = None
        if "tiled" in bundle.manifest:
            self._open_tiled(pynq, ip_dict, where)
            return
        if "segments" in bundle.manifest:  # the segments' IPs: the chain runs them (open_segments)
            self.ip_dict, self.where = ip_dict, where
            return
        axis = bundle.manifest["kernel"]["axis"]
        found = check_axis(ip_dict, where, axis, qmodel, IP_INSTANCE, dma_instance)
        self.overlay.download()  # programs the PL clocks and the bitstream
        if has_uram_weights(bundle):  # URAM is empty after configuration: fill it before any image
            load_uram_weights(self._driver(found[0]), axis["registers"], read_uram_blob(bundle),
                              lambda n: pynq.allocate(shape=(n,), dtype=np.uint8),
                              self.device_timeout(DEFAULT_TIMEOUT_S))
        self.runner = self._runner(axis, *found)

    def _load_uram(self, bundle, axis: dict, ip_key: str) -> None:
        """Fill the URAM weights of the IP ``ip_key`` from ``bundle``'s blob (after the download: URAM is
        empty after configuration), before any image; nothing when the design keeps none in URAM."""
        if has_uram_weights(bundle):
            load_uram_weights(self._driver(ip_key), axis["registers"], read_uram_blob(bundle),
                              lambda n: self.pynq.allocate(shape=(n,), dtype=np.uint8),
                              self.device_timeout(DEFAULT_TIMEOUT_S))

    def _runner(self, axis: dict, ip_key: str, plan: list) -> AxisRunner:
        """The driver of one streaming IP (after the download): its DMA channels started."""
        pynq = self.pynq
        channels = {lay.name: DmaChannel(self._driver(key).mmio, cfg, lay.direction) for lay, key, cfg in plan}
        for ch in channels.values():
            ch.start()
        return AxisRunner(self._driver(ip_key), axis["registers"]["n_images"], [lay for lay, _, _ in plan], channels,
                          allocate=lambda n: pynq.allocate(shape=(n,), dtype=np.uint8))

    def open_segments(self, opened: list) -> list:
        """One :class:`PynqSegment` per segment of a segmented bundle (``opened``: [(segment bundle, its
        QModel)]): every IP and DMA found by name in the .hwh and checked against its segment's manifest
        before the PL is programmed, once; then each segment's URAM weights loaded from its own blob."""
        from ...segments.names import dma_instance as seg_dma
        from ...segments.names import ip_instance

        found = []
        for k, (sub, sq) in enumerate(opened):
            axis = sub.manifest["kernel"]["axis"]
            found.append(check_axis(self.ip_dict, self.where, axis, sq, ip_instance(k),
                                    lambda stream, k=k: seg_dma(k, stream), f"segment {k}'s"))
        self.overlay.download()
        for (sub, _), (ip_key, _) in zip(opened, found):
            self._load_uram(sub, sub.manifest["kernel"]["axis"], ip_key)
        self.runners = [self._runner(sub.manifest["kernel"]["axis"], *f) for (sub, _), f in zip(opened, found)]
        return [PynqSegment(sub, sq, self, r, self.timeout) for (sub, sq), r in zip(opened, self.runners)]

    def _open_tiled(self, pynq, ip_dict: dict, where: str) -> None:
        from ...bundle_tiled import load_program
        from ...tiled.interface import split_of
        from ..pynq_driver.tiled import TiledPynq, check_tiled_registers

        ip = self.bundle.manifest["scripts"]["ip"]
        split = split_of(self.bundle.manifest)  # the engine's form as the bundle records it, checked
        key = find_instance(ip_dict, ip["instance"], where, "the tiled engine")
        check_tiled_registers(ip_dict[key], key, ip, where, split)
        program, words = load_program(self.bundle)
        self.overlay.download()
        self.tiled = TiledPynq(program, self._driver(key), ip["registers"],
                               allocate=lambda n: pynq.allocate(shape=(n,), dtype=np.uint8),
                               timeout=self.device_timeout(DEFAULT_TIMEOUT_S), descriptors=words, split=split)

    def _driver(self, key: str):
        """The overlay's driver object of ``ip_dict`` key ``key`` (DefaultIP, pynq's DMA, ...)."""
        return functools.reduce(getattr, key.split("/"), self.overlay)

    def run_raw(self, q_inputs):
        if self.tiled is not None:
            return self.tiled.run(q_inputs)
        # a little under the session's timeout, so the driver's own diagnosis and DMA clean-up
        # happen before the session gives up waiting
        return self.runner.run(q_inputs, self.device_timeout(DEFAULT_TIMEOUT_S))

    def close(self) -> None:
        for driver in (getattr(self, "runner", None), getattr(self, "tiled", None), *getattr(self, "runners", [])):
            if driver is not None:
                driver.free()


class PynqSegment(Backend):
    """Segment k of a segmented bundle on the overlay its model's bundle holds: IP ``fa_axis_s<k>_0``
    and its DMAs, driven as a one-part design's IP; the overlay's backend frees the buffers."""

    name = "pynq"

    def __init__(self, bundle, qmodel, overlay: PynqBackend, runner: AxisRunner, timeout: float | None = None):
        super().__init__(bundle, qmodel, timeout)
        self.overlay, self.runner = overlay, runner

    def run_raw(self, q_inputs):
        return self.runner.run(q_inputs, self.device_timeout(DEFAULT_TIMEOUT_S))


def check_axis(ip_dict: dict, where: str, axis: dict, qmodel, instance: str, dma_of,
               whose: str = "") -> tuple[str, list]:
    """``(ip key, [(stream layout, DMA key, DMA config)])`` of the streaming IP ``instance`` (its
    register map checked against ``axis``, the manifest's ``kernel.axis``) and of its DMAs
    ``dma_of(stream name)``; ``whose`` names the design in messages (a dataflow segment's)."""
    ip_key = find_instance(ip_dict, instance, where, f"{whose} streaming IP" if whose else "")
    check_register_map(ip_dict[ip_key], ip_key, axis, where)
    tensors = {t.name: t for t in list(qmodel.inputs) + list(qmodel.outputs)}
    plan = []
    for s in axis["streams"]:
        lay = StreamLayout.from_manifest(s, tensors[s["tensor"]])
        key = find_instance(ip_dict, dma_of(lay.name), where, f"{whose} DMA of stream {lay.name}" if whose else "")
        check_dma(ip_dict[key], key, where)
        plan.append((lay, key, DmaConfig.from_description(key, ip_dict[key], lay.direction)))
    return ip_key, plan


BACKEND = PynqBackend
