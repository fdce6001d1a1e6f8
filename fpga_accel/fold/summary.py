"""What a :class:`FoldResult` writes into the manifest (every figure labelled an estimate).

- ``manifest["layers"][i]["folding"]``: ``{"pe", "simd"}`` (MVAU layers), ``{"pe"}`` (channel
  lanes) or ``{}`` (not folded);
- ``manifest["layers"][i]["estimate"]``: cycles, dsp, bram18, uram, lut, ff of the layer's PEs, and
  ``memory_bits`` (what its arrays hold) against ``memory_block_bits`` (the bits of the BRAM18 /
  URAM / LUTRAM blocks they occupy as placed: the packing waste is the difference);
- ``manifest["fold"]``: totals against the board (``memory_bits`` / ``memory_block_bits`` summed), cycles per image (the slowest stage), frames/s
  and latency at the clock, the DSP-roofline efficiency, the stages with their parameters.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..pe.cost import dsp_packs, lut_multiplier
from ..pe.mvau import packed_pairs
from .boards import RESOURCES
from .folder import FoldResult

ESTIMATE_NOTE = ("estimates from fpga_accel.fold's cycle and resource model (docs/fold-model.md); cycles follow "
                 "the HLS headers' loop counts at II = 1, resources are not synthesis results")


def packing(result: FoldResult) -> int:
    """MACs one DSP can do per cycle for this model on this board (the roofline's peak): 2 when
    every MVAU's widths pack two products per DSP on the board's port (or use LUT multipliers),
    else 1. A property of the widths and the device: a layer with one PE packs nothing itself."""
    port = result.board.dsp_port_bits
    mv = [s.params for s in result.design.stages if s.kind == "mvau"]
    ok = mv and all(lut_multiplier(p["W_BITS"], p["IN_BITS"])
                    or dsp_packs(p["W_BITS"], p["IN_BITS"], port, bool(p.get("IN_SIGNED", True))) for p in mv)
    return 2 if ok else 1


def dsp_without_packing(result: FoldResult) -> int:
    """The DSP total if no two products shared a DSP: each PE pair mvau.h packs (PACK = 2) would
    take a DSP per lane more."""
    extra = sum(packed_pairs(s.params) * s.params["SIMD"] for s in result.design.stages if s.kind == "mvau")
    return result.design.usage.dsp + extra


def fold_summary(result: FoldResult, layer_macs: Mapping[str, int] | None = None) -> dict[str, Any]:
    """The ``fold`` section. ``layer_macs`` are the layers' MACs per image as the manifest's layer
    rows give them (the op's own count, ``Op.macs``: the one definition every table uses); without
    them the MAC figures (MACs per image, MAC/s, DSP roofline) are None."""
    d, board = result.design, result.board
    macs = sum(int(v) for v in layer_macs.values()) if layer_macs is not None else None
    fps = result.fps
    clock_hz = result.clock_mhz * 1e6
    latency = sum(s.first_out() for s in d.stages) + d.cycles
    pack = packing(result)
    used = d.usage.as_dict()
    peak = board.dsp * pack * clock_hz
    peak_used = max(used["dsp"], 1) * pack * clock_hz
    slowest = max(d.stages, key=lambda s: s.cycles())
    return {
        "estimate": True,
        "note": ESTIMATE_NOTE,
        "board": board.name, "clock_mhz": result.clock_mhz, "ceiling": result.ceiling,
        "target_fps": result.target_fps,
        "target_met": None if result.target_fps is None else fps >= result.target_fps,
        "stop_reason": result.stop_reason,
        "overrides": sorted(result.overrides),
        "totals": used,
        "memory_bits": sum(lay.memory_bits for lay in d.layers),
        "memory_block_bits": sum(lay.memory_block_bits for lay in d.layers),
        "board_totals": {k: board.total(k) for k in RESOURCES},
        "available": {k: board.available(k) for k in RESOURCES},
        "budget": dict(d.budget),
        "utilisation": {k: (used[k] / board.total(k) if board.total(k) else 0.0) for k in RESOURCES},
        "cycles_per_image": d.cycles,
        "slowest_stage": slowest.name,
        "frames_per_s": fps,
        "latency_cycles": latency,
        "latency_us": latency / result.clock_mhz,
        "macs_per_image": macs,
        "mac_per_s": None if macs is None else macs * fps,
        "dsp_packing": pack,
        "dsp_without_packing": dsp_without_packing(result),
        "dsp_roofline_efficiency": None if macs is None else (macs * fps / peak if peak else 0.0),
        "dsp_efficiency_used": None if macs is None else macs * fps / peak_used,
        "stages": [{"name": s.name, "kind": s.kind, "cycles": s.cycles(), "setup_cycles": s.setup(),
                    "params": dict(s.params)} for s in d.stages],
    }


def memory_use(e: Mapping) -> str:
    """The share of its blocks' bits a layer's estimate (or the ``fold`` section) says its arrays fill;
    "-" without memories, or for a manifest written before the figure existed."""
    held, blocks = e.get("memory_bits"), e.get("memory_block_bits")
    return f"{held / blocks:.0%}" if held and blocks else "-"


def apply_to_manifest(manifest: dict, result: FoldResult) -> None:
    """Write the folding, per-layer estimates, the ``fold`` summary and the board into ``manifest``."""
    by_name = {lay.name: lay for lay in result.design.layers}
    for entry in manifest["layers"]:
        lay = by_name[entry["name"]]
        entry["folding"] = dict(lay.fold)
        entry["estimate"] = {"cycles": int(lay.cycles), **lay.usage.as_dict(), "memory_bits": lay.memory_bits,
                             "memory_block_bits": lay.memory_block_bits}
        if lay.plan.note:
            entry["estimate_note"] = lay.plan.note
    manifest["fold"] = fold_summary(result, {e["name"]: e.get("macs", 0) for e in manifest["layers"]})
    manifest["board"] = {**result.board.to_dict(), "clock_mhz": result.clock_mhz,
                         "clock_is_default": result.clock_mhz == result.board.clock_mhz}
