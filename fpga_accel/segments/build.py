"""compile's branch for a model in dataflow segments: fold each, write each as a bundle of its own.

**Budget.** The segments share the board: segment k folds within ``ceiling · share_k`` of every
resource, ``share_k = (macs_k / macs + 1 / n) / 2`` — half the budget split by the segments' MACs,
half evenly, so a segment with few MACs (a classifier) still has room for its weight memories. When
a segment does not fit its share, the split is searched once: each segment's least parallel design
(the folder's first design that fits) gives its *floor*, the largest fraction of one resource it
needs; the floors come first, the rest of the budget is shared by the same rule. The shares sum to
1, so the segments together stay within the ceiling, as one design would. Every figure is the
folder's estimate (fpga_accel/fold), not a synthesis result.

**Bundle.** Segment k is a complete bundle at ``segments/<k>/`` of the model's bundle (its own
manifest, weights, ``hls/`` and ``opencl/`` projects), written by the same generators as a one-part
design, except the build scripts: a segment is not built alone. The model's bundle gets them
instead (fpga_accel/flow/segments_scripts.py): one bitstream holding every segment's IP or kernel,
each named with its index (fpga_accel/segments/names.py). The model's bundle lists every segment
file among its own, so its seal covers them; its manifest's ``segments`` section names each
segment, its layers, tensors, share and estimate, and the order of the steps.
"""
from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from ..fold import apply_to_manifest, fold_model
from ..fold.folder import FoldError
from ..fold.summary import apply_generated_fifos
from .split import SegmentPlan

#: the generators a segment runs (build scripts left out: see the module docstring)
SEGMENT_GENERATORS = ("generate_hls", "generate_opencl")


def shares(plan: SegmentPlan, macs: dict[str, int], floors: list[float] | None = None) -> list[float]:
    """Each segment's share of the board (see the module docstring); with ``floors`` (each segment's
    smallest design as a fraction of the budget, summing to at most 1), each gets its floor and the
    rest of the budget by the same rule."""
    n = len(plan.segments)
    per = [sum(macs.get(lay.name, 0) for lay in s.layers) for s in plan.segments]
    total = sum(per)
    base = [(p / total + 1 / n) / 2 if total else 1 / n for p in per]
    if floors is None:
        return base
    spare = 1.0 - sum(floors)
    return [f + spare * b for f, b in zip(floors, base)]


def fold_segments(plan: SegmentPlan, macs: dict[str, int], board, ceiling: float, target_fps=None,
                  overrides=None, clock_mhz=None) -> list:
    """One FoldResult per segment, each within its share (``result.ceiling``); a FoldError names the
    segment that does not fit. When a segment does not fit its share, the split is searched: each
    segment's least parallel design is its floor, the rest shared as before."""
    try:
        return _fold_with(plan, shares(plan, macs), board, ceiling, target_fps, overrides, clock_mhz)
    except FoldError:
        floors = [_floor(s, board, ceiling, overrides, clock_mhz, len(plan.segments)) for s in plan.segments]
        if sum(floors) > 1.0:
            raise FoldError(f"the dataflow segments' least parallel designs need {sum(floors):.0%} of the "
                            f"{ceiling:.0%} budget together ({', '.join(f'{f:.0%}' for f in floors)})") from None
        return _fold_with(plan, shares(plan, macs, floors), board, ceiling, target_fps, overrides, clock_mhz)


def _mine(s, overrides) -> dict:
    return {k: v for k, v in (overrides or {}).items() if any(lay.name == k for lay in s.layers)}


def _fold_with(plan, share, board, ceiling, target_fps, overrides, clock_mhz) -> list:
    out = []
    for s, sh in zip(plan.segments, share):
        try:
            out.append(fold_model(s, board, ceiling=ceiling * sh, target_fps=target_fps, overrides=_mine(s, overrides),
                                  clock_mhz=clock_mhz))
        except FoldError as e:
            raise _named(e, s, f"{sh:.0%} of the {ceiling:.0%} budget for {len(plan.segments)} segments") from None
    return out


def _floor(s, board, ceiling, overrides, clock_mhz, n) -> float:
    """The largest fraction of the budget (one resource) that segment ``s``'s least parallel design uses."""
    from ..fold.design import budget

    try:  # a frame rate any design meets: the folder stops at its first design that fits
        f = fold_model(s, board, ceiling=ceiling, target_fps=1e-9, overrides=_mine(s, overrides), clock_mhz=clock_mhz)
    except FoldError as e:
        raise _named(e, s, f"the whole {ceiling:.0%} budget, alone") from None
    limits, used = budget(f.board, ceiling), f.design.usage.as_dict()
    return max((used[k] + 1) / limits[k] for k in limits if limits[k] and used[k])


def _named(e: FoldError, s, within: str) -> FoldError:
    lines = str(e).splitlines()
    head = f"dataflow segment '{s.name}' ({len(s.layers)} layers, {within}) does not fit"
    return FoldError("\n".join([f"{head}: {lines[0]}", *lines[1:]]))


def check_no_fifo_depths(names) -> None:
    """FIFO depths given by stream name belong to one dataflow design; each segment has its own streams."""
    if names:
        raise InputError(f"fifo_depths {sorted(names)[:4]} name streams of one dataflow design; this model compiles "
                         "into several segments, each with its own streams: leave fifo_depths out")


def segment_section(plan: SegmentPlan, folds: list, ceiling: float) -> dict:
    """The model manifest's ``segments`` section (every figure the folder's estimate)."""
    share = [f.ceiling / ceiling for f in folds]
    listed = []
    for k, (s, f, sh) in enumerate(zip(plan.segments, folds, share)):
        listed.append({"name": s.name, "path": f"segments/{k}", "layers": [lay.name for lay in s.layers],
                       "inputs": [t.name for t in s.inputs], "outputs": [t.name for t in s.outputs],
                       "share": sh, "ceiling": ceiling * sh, "cycles_per_image": int(f.cycles),
                       "frames_per_s": f.fps})
    steps = [{"segment": v} if kind == "segment" else {"host": v} for kind, v in plan.steps]
    busy = sum(f.cycles / f.clock_mhz for f in folds)  # µs per image with the segments one after the other
    return {"list": listed, "steps": steps, "estimate": True,
            "note": ("the segments run one after the other for each batch, host steps between them: the FPGA time "
                     "per image is the sum of the segments' (host steps and transfers not counted); estimates from "
                     "fpga_accel.fold's model"),
            "fpga_us_per_image": busy, "frames_per_s": 1e6 / busy if busy else None}


def write_segments(stage: Path, plan: SegmentPlan, folds: list, make_manifest, gens, sizing,
                   model_manifest: dict | None = None) -> None:
    """Each segment's bundle under ``stage/segments/<k>``. ``make_manifest(segment qmodel)`` gives
    its manifest before folding; ``gens`` are compile's generators (those in
    :data:`SEGMENT_GENERATORS` run); ``sizing(qmodel, manifest)`` sizes its FIFOs. With the script
    generator among ``gens``, the build scripts of one bitstream for every segment go to
    ``stage/scripts`` and their record to ``model_manifest["scripts"]``."""
    from ..bundle import write_bundle

    mine = [gen for gen in gens if getattr(gen, "__name__", "") in SEGMENT_GENERATORS]
    written = []
    for k, (s, f) in enumerate(zip(plan.segments, folds)):
        m = make_manifest(s)
        apply_to_manifest(m, f)
        section, arrays = s.to_dict()
        m["qmodel"] = section
        m["segment"] = {"index": k, "name": s.name}
        if any(getattr(gen, "__name__", "") == "generate_hls" for gen in mine):
            sizing(s, m)

        def files(where: Path, s=s, m=m) -> None:
            for gen in mine:
                gen(where, s, m)
            apply_generated_fifos(m)

        write_bundle(stage / "segments" / str(k), m, arrays, files)
        written.append(m)
    if model_manifest is not None and any(getattr(gen, "__name__", "") == "generate_scripts" for gen in gens):
        from ..flow.segments_scripts import generate_segment_scripts

        generate_segment_scripts(stage, model_manifest, written)
