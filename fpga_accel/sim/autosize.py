"""compile's FIFO sizing: ``manifest["fifo_sizing"]``, which the code generator's depths follow.

``sim`` (the default): the HLS project is generated once into a scratch folder at the cost model's
depths, its traced C simulation is built and run on a few images, and :func:`sizing.size_fifos`
finds per stream the smallest depth at which the network runs at its unbounded-FIFO interval
(tolerance 0: not a cycle lost) without deadlock; the depths go into ``fifo_sizing["depths"]``,
the intervals at both sets of depths beside the cost model's. It gives up, keeping the model's
depths with a note saying why, when there is no C++ compiler, the trace would be too large
(``MAX_EVENTS`` stream accesses), or the build and search run past ``seconds``. ``model``: the
cost model's depths (burst slack, fork branches; ``codegen/network.py``), no simulation.

Streams whose depth is set by hand (compile's ``fifo_depths``) keep it and are not sized. Nothing
machine-dependent is recorded when the search completes, so the bundle stays reproducible.
"""
from __future__ import annotations

import copy
import math
import tempfile
import time
from pathlib import Path

from ..errors import FpgaAccelError, InputError
from ..fold.fifos import fifo_usage, generated_fifos
from . import sizing

MODES = ("sim", "model")
DEFAULT_SECONDS = 120.0
IMAGES = 6  # at least: 3 to fill the pipeline, 3 to measure the steady state over (more when it settles late)
MAX_EVENTS = sizing.MAX_EVENTS


def check_mode(mode: str, seconds: float) -> None:
    if mode not in MODES:
        raise InputError(f"fifo_sizing must be one of {', '.join(MODES)}, got {mode!r}")
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 < seconds < math.inf:
        raise InputError(f"the FIFO sizing time limit must be a positive number of seconds, got {seconds!r}")


def trace_events(qmodel, streams: list[dict], images: int) -> int:
    """Stream accesses one traced run makes: every word of every stream written and read once."""
    words = 0
    for s in streams:
        t = qmodel.tensors.get(s.get("tensor"))
        if t is not None:
            words += math.prod(int(d) for d in t.shape[1:]) // max(1, int(s.get("lanes", 1)))
    return 2 * words * images


def size_in_compile(qmodel, manifest: dict, mode: str = "sim", seconds: float = DEFAULT_SECONDS) -> dict:
    """Decide the FIFO depths for ``manifest`` (before the generators run) and record how in
    ``manifest["fifo_sizing"]``; returns that record."""
    check_mode(mode, seconds)
    if mode == "model":
        rec = {"method": "model", "note": "depths from the cost model (burst slack, fork branches); not simulated"}
    else:
        rec = _simulate(qmodel, manifest, seconds)
    rec["model_cycles"] = (manifest.get("fold") or {}).get("cycles_per_image")
    manifest["fifo_sizing"] = rec
    return rec


def _fallback(why: str) -> dict:
    return {"method": "model", "requested": "sim", "note": f"kept the cost model's depths: {why}"}


def _simulate(qmodel, manifest: dict, seconds: float) -> dict:
    from ..codegen.hls_project import generate_hls
    from .simulate import Simulator
    from .sizing import SizingTimeout, size_fifos

    deadline = time.monotonic() + seconds
    scratch = copy.deepcopy(manifest)
    scratch.pop("fifo_sizing", None)
    with tempfile.TemporaryDirectory(prefix="fa-fifo-sizing-") as tmp:
        generate_hls(Path(tmp), qmodel, scratch)
        events = trace_events(qmodel, scratch["hls"]["streams"], IMAGES)
        if events > MAX_EVENTS:
            return _fallback(f"the timed simulation of {IMAGES} images would record {events:,} stream accesses "
                             f"(limit {MAX_EVENTS:,}); size them with `fpga-accel simulate --size`")
        try:
            sim = Simulator(Path(tmp) / "hls", qmodel, scratch, build_timeout=max(1.0, deadline - time.monotonic()))
            z = size_fifos(sim, images=IMAGES, tolerance=0.0, fixed=set(scratch.get("fifo_depths") or {}),
                           deadline=deadline, settle=True)
        except SizingTimeout:
            return _fallback(f"the search ran past its time limit of {seconds:g} s (compile --fifo-sizing-seconds)")
        except FpgaAccelError as e:  # no compiler, a failed build or run: the model's depths stand
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            return _fallback(f"the timed simulation could not run ({first})")
    at_model = fifo_usage(generated_fifos(scratch["hls"]["streams"], (scratch.get("fold") or {}).get("fifo_bram"))).as_dict()
    if z.after is None or z.after > z.target:
        return _fallback(f"the sized depths ran at {z.after} cycles per image, above {z.target}")
    return {"method": "sim", "images": z.images, "unbounded_cycles": z.target, "cycles_at_model_depths": z.before,
            "cycles": z.after, "replays": z.replays, "model_depths": dict(sorted(z.generated.items())),
            "depths": dict(sorted(z.sized.items())),
            "fifos_at_model_depths": {k: at_model[k] for k in ("bram18", "lut")},
            "note": "the smallest depth per stream at which the timed simulation keeps the unbounded-FIFO interval"}
