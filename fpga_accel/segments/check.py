"""The manifest's ``segments`` section, checked as untrusted input, and the segments it opens.

:func:`check_segments_section` runs with the manifest checks on every load (JSON only): at most
:data:`~.split.MAX_SEGMENTS` segments, each at exactly ``segments/<its index>`` (a path is never
taken from the manifest as written: anything else is refused), whose manifest the bundle lists;
segment and host-step layer names cover the quantised model's layers once each; the steps run
every segment once, in index order, and read each tensor only after a model input, an earlier
segment or an earlier host step wrote it.

:func:`open_segments` loads each segment's bundle (seal and hashes) and its quantised model, and
refuses one whose layers (op, tensors, config, constants) or boundary tensors (name, shape,
quantisation) differ from the model's: the chain computes the integers of the model's own QModel.
"""
from __future__ import annotations

from ..bundle_check import BundleError, Checker
from .split import MAX_SEGMENTS


def segment_path(k: int) -> str:
    return f"segments/{k}"


def check_segments_section(c: Checker, sec, m: dict) -> None:
    c.obj(sec, "segments")
    items = c.lst(sec.get("list"), "segments.list")
    if not 1 <= len(items) <= MAX_SEGMENTS:
        c.fail("segments.list", f"has {len(items)} segments, not 1..{MAX_SEGMENTS}")
    c.names(items, "segments.list")
    q = c.obj(m.get("qmodel"), "qmodel")
    layers = {lay.get("name"): lay for lay in c.lst(q.get("layers"), "qmodel.layers") if isinstance(lay, dict)}
    files = m.get("files") or {}
    owner: dict[str, str] = {}
    for k, s in enumerate(items):
        key = f"segments.list[{k}]"
        if s.get("path") != segment_path(k):
            c.fail(f"{key}.path", f"is {str(s.get('path'))[:80]!r}; segment {k} lives at {segment_path(k)!r}")
        if f"{segment_path(k)}/manifest.json" not in files:
            c.fail(f"{key}.path", "names a folder whose manifest the bundle does not list")
        for name in c.str_list(s.get("layers"), f"{key}.layers", layers):
            if name in owner:
                c.fail(f"{key}.layers", f"names layer {name[:80]!r}, which {owner[name]} runs too")
            owner[name] = f"segment {k}"
        for side in ("inputs", "outputs"):
            c.str_list(s.get(side), f"{key}.{side}")
    steps = c.lst(sec.get("steps"), "segments.steps")
    if len(steps) > len(layers) + len(items):
        c.fail("segments.steps", f"has {len(steps)} steps, more than the layers and segments")
    ready = set(c.str_list(q.get("inputs"), "qmodel.inputs"))
    nxt = 0
    for i, st in enumerate(steps):
        key = f"segments.steps[{i}]"
        if not isinstance(st, dict) or len(st) != 1 or next(iter(st)) not in ("segment", "host"):
            c.fail(key, 'must be {"segment": index} or {"host": layer name}')
        if "segment" in st:
            k = c.integer(st["segment"], f"{key}.segment", nxt, nxt)  # each segment once, in order
            nxt += 1
            reads, writes = items[k]["inputs"], items[k]["outputs"]
        else:
            name = c.ref(st["host"], f"{key}.host", layers)
            if name in owner:
                c.fail(f"{key}.host", f"names layer {name[:80]!r}, which {owner[name]} runs too")
            owner[name] = f"host step {i}"
            reads, writes = layers[name].get("inputs") or [], layers[name].get("outputs") or []
        late = [t for t in reads if t not in ready]
        if late:
            c.fail(key, f"reads {[t[:80] for t in late[:4]]} before any earlier step writes it")
        ready.update(writes)
    if nxt != len(items):
        c.fail("segments.steps", f"runs {nxt} of the {len(items)} segments")
    left = [n for n in layers if n not in owner]
    if left:
        c.fail("segments", f"runs neither in a segment nor as a host step the layers {[str(n)[:80] for n in left[:4]]}")
    lost = [t for t in q.get("outputs") or [] if t not in ready]
    if lost:
        c.fail("segments.steps", f"never write the hardware outputs {lost[:4]}")


def open_segments(bundle, qm) -> list:
    """[(segment bundle, its QModel)] for the model ``bundle`` (already loaded) and its QModel ``qm``."""
    from ..bundle import load_bundle
    from ..bundle_model import load_qmodel

    out = []
    for k, s in enumerate(bundle.manifest["segments"]["list"]):
        where = f"{bundle.path}: segment {k} ({str(s['name'])[:80]!r})"
        sub = load_bundle(bundle.path / segment_path(k))
        sq = load_qmodel(sub)
        if [lay.name for lay in sq.layers] != s["layers"] or [t.name for t in sq.inputs] != s["inputs"] \
                or [t.name for t in sq.outputs] != s["outputs"]:
            raise BundleError(f"{where}: its bundle holds other layers or tensors than the model's manifest lists; "
                              "recompile the model")
        changed = [lay.name for lay in sq.layers if not _same_layer(lay, qm.layer(lay.name))]
        if changed:
            raise BundleError(f"{where}: its layers {[n[:80] for n in changed[:4]]} differ from the model's layers of "
                              "those names (op, tensors, config or constants); recompile the model")
        for t in (*sq.inputs, *sq.outputs):
            mine = qm.tensors.get(t.name)
            if mine is None or tuple(mine.shape[1:]) != tuple(t.shape[1:]) or mine.qparams != t.qparams:
                raise BundleError(f"{where}: tensor {t.name[:80]!r} differs from the model's tensor of that name "
                                  "(shape or quantisation); recompile the model")
        out.append((sub, sq))
    return out


def _same_layer(a, b) -> bool:
    import numpy as np

    return (a.op_type == b.op_type and a.domain == b.domain and a.inputs == b.inputs and a.outputs == b.outputs
            and a.config == b.config and a.consts.keys() == b.consts.keys()
            and all(np.asarray(a.consts[k]).dtype == np.asarray(b.consts[k]).dtype
                    and np.array_equal(a.consts[k], b.consts[k]) for k in a.consts))
