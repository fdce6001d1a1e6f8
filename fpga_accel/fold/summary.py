"""What a :class:`FoldResult` writes into the manifest (every figure labelled an estimate).

- ``manifest["layers"][i]["folding"]``: ``{"pe", "simd"}`` (MVAU layers), ``{"pe"}`` (channel
  lanes) or ``{}`` (not folded);
- ``manifest["layers"][i]["estimate"]``: cycles, dsp, bram18, uram, lut, ff of the layer's PEs, and
  ``memory_bits`` (what its arrays hold) against ``memory_block_bits`` (the bits of the BRAM18 /
  URAM / LUTRAM blocks they occupy as placed: the packing waste is the difference);
- ``manifest["fold"]``: totals against the board (stream FIFOs included: ``fifos``, and ``fifo_bram``,
  those the placement bound to BRAM18, by shape; ``memory_bits`` /
  ``memory_block_bits`` summed), cycles per image (the slowest stage), frames/s and latency at the
  clock, the DSP-roofline efficiency, the stages with their parameters.
"""
from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

from ..pe.cost import dsp_packs, lut_multiplier
from ..pe.depthwise import packed_pixel_dsps
from ..pe.mvau import packed_pairs
from .boards import RESOURCES
from .fifos import fifo_placement, fifo_summary, generated_fifos
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
    take a DSP per lane more, as would each pixel pair depthwise.h packs."""
    extra = sum(packed_pairs(s.params) * s.params["SIMD"] for s in result.design.stages if s.kind == "mvau") + \
        sum(packed_pixel_dsps(s.params) for s in result.design.stages if s.kind == "depthwise")
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
        "fifos": fifo_summary(d.fifos, "estimate"),
        # the stream FIFOs bound to BRAM18 while LUTs are over budget, by shape (fifos.bram_streams)
        "fifo_bram": fifo_placement(d.fifos),
        # the m_axi adapters' data FIFOs (in the totals; fold/resources.py maxi_cost)
        "m_axi_adapters": d.ports.as_dict(),
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
        if lay.uram_arrays:  # the code generator binds these (codegen/top.py)
            entry["estimate"]["uram_arrays"] = sorted(set(lay.uram_arrays))
        if lay.bram_arrays:  # LUTRAM-sized, bound to BRAM18 while LUTs are over budget (codegen/top.py)
            entry["estimate"]["bram_arrays"] = sorted(set(lay.bram_arrays))
        if lay.plan.note:
            entry["estimate_note"] = lay.plan.note
    manifest["fold"] = fold_summary(result, {e["name"]: e.get("macs", 0) for e in manifest["layers"]})
    manifest["board"] = {**result.board.to_dict(), "clock_mhz": result.clock_mhz,
                         "clock_is_default": result.clock_mhz == result.board.clock_mhz}


class OverBudgetWarning(UserWarning):
    """The generated design needs more of a resource than the fold's budget allows."""


def apply_generated_fifos(manifest: dict) -> None:
    """Once the HLS project is generated: ``fold.fifos`` from its streams at their final depths, those
    the top binds to BRAM18 priced there (the fold's estimate kept under ``estimate``), the totals and utilisation with them in place of the
    estimate, and ``fold.over_budget``: each resource the design now needs more of than its budget
    (the simulation's or hand-set depths may exceed the fold's), which also raises an
    :class:`OverBudgetWarning`."""
    fold, hls = manifest.get("fold"), manifest.get("hls")
    if not fold or not hls or "fifos" not in fold:
        return
    est = fold["fifos"]
    sized = (manifest.get("fifo_sizing") or {}).get("method") == "sim"
    # placed as the top binds them: the fold's FIFOs in BRAM18 by shape (fifos.bram_streams)
    new = fifo_summary(generated_fifos(hls.get("streams", []), fold.get("fifo_bram")),
                       "the generated streams, at the depths the timed simulation found" if sized
                       else "the generated streams, at the cost model's depths")
    if manifest.get("fifo_depths"):
        new["source"] += " (some set by hand: fifo_depths)"
    for k in RESOURCES:
        fold["totals"][k] += new[k] - est.get(k, 0)
        total = fold["board_totals"].get(k, 0)
        fold["utilisation"][k] = fold["totals"][k] / total if total else 0.0
    new["estimate"] = {k: v for k, v in est.items() if k != "source"}
    fold["fifos"] = new
    fold["over_budget"] = [{"resource": k, "need": fold["totals"][k], "budget": fold["budget"][k]}
                           for k in RESOURCES if k in fold.get("budget", {}) and fold["totals"][k] > fold["budget"][k]]
    if fold["over_budget"]:
        warnings.warn(f"{budget_text(manifest)}, with the stream FIFOs as {new['source']}: the design may not "
                      f"place and route", OverBudgetWarning, stacklevel=2)


def budget_text(m: dict) -> str | None:
    """One line naming each resource the generated design needs beyond its budget (``fold.over_budget``),
    or None when it fits (or the manifest holds no such record)."""
    over = [o for o in _dict(m.get("fold")).get("over_budget") or [] if isinstance(o, dict)]
    if not over:
        return None
    return "over budget: " + ", ".join(f"{o.get('resource', '-')!s} needs {_num(o.get('need'))} of a budget of "
                                       f"{_num(o.get('budget'))}" for o in over)


def fifo_text(m: dict) -> str:
    """One line: what the stream FIFOs cost, how their depths were chosen, and the simulated cycles per
    image beside the model's when the timed simulation sized them."""
    rec, fifos = _dict(m.get("fifo_sizing")), _dict(_dict(m.get("fold")).get("fifos"))
    cost = (f"{_num(fifos.get('count'))} streams, BRAM18 {_num(fifos.get('bram18'))}, LUT {_num(fifos.get('lut'))}"
            if fifos else "no HLS project")
    if rec.get("method") != "sim":
        return f"{cost}; {rec.get('note') or 'depths from the cost model'}"
    was, before = _dict(rec.get("fifos_at_model_depths")), rec.get("cycles_at_model_depths")
    return (f"{cost}, sized by the timed simulation (at the cost model's depths: BRAM18 {_num(was.get('bram18'))}, "
            f"LUT {_num(was.get('lut'))}); simulated {_num(rec.get('cycles'))} cycles per image (model "
            f"{_num(rec.get('model_cycles'))}), "
            + (f"{_num(before)} at the cost model's depths" if before is not None else "deadlock at the cost model's depths"))


def _dict(v) -> dict:
    return v if isinstance(v, dict) else {}


def _num(v) -> str:
    """A count as text; anything else (a bundle from elsewhere may hold anything) as '-'."""
    return f"{v:,.0f}" if isinstance(v, (int, float)) and not isinstance(v, bool) else "-"
