"""A tiled program in segments: engine calls with host steps between them (docs/tiled.md, "Host steps").

A layer the engine has no form for (LRN, say), or one the user sends to the host, does not end the
program: it becomes a *host step*. The program's descriptors are then cut into *segments*, each a
descriptor encoding of consecutive layers over the same two arenas, and ``program["steps"]`` lists
what runs in order::

    "steps": [{"engine": [0, 3]}, {"host": {...}}, {"engine": [3, 7]}]

A host step reads its input tensors from the activation arena (through their views), computes the
layer's integer reference (the op's ``run_int``, the emulator's integers; for a float op between
hardware nodes, such as a Softmax, dequantise, float reference, quantise: quant/host_float.py), and
writes its output into its view; the next segment reads it from there. A host step carries everything it needs: op,
JSON config, and constants as blocks of the weights arena, so the program stays self-contained. A
program without ``steps`` is one segment of all its layers.

Devices do not know about segments: :func:`run_steps` sets ``engine.descriptors`` to a segment's
words (and ``engine.active`` to its layer range) and calls ``engine._run_layers()`` once per
segment, so every subclass of :class:`~fpga_accel.tiled.engine.TiledEngine` that runs the program in
``self.descriptors`` in one call chains segments for free.

:func:`plan_steps` checks ``steps`` as untrusted input: the engine ranges cover every layer once, in
order; a host step names tensors of the program, its op is one this fpga-accel runs in integers, its
blocks lie inside the weights arena, and each of its inputs is written by an earlier step (a host
step reading what a later segment writes would be a cycle).
"""
from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..ops import lookup
from ..quant.host_float import KEY as HOST_FLOAT
from ..quant.host_float import is_host_float, parse_host_float, run_host_float
from ..quant.qmodel import QLayer
from .program import MAX_LAYERS, MAX_NAME, ProgramError

#: dtypes a host step's constant block may have (the integer references' tables and multipliers)
HOST_DTYPES = ("int8", "uint8", "int16", "uint16", "int32", "int64", "float32", "float64")
MAX_HOST_IO = 16
MAX_HOST_CONSTS = 64


class Segment:
    """Engine layers [first, end) of the program, and their descriptor words (set on first use)."""

    def __init__(self, first: int, end: int):
        self.first, self.end = first, end
        self.words: np.ndarray | None = None

    def __repr__(self) -> str:
        return f"Segment({self.first}, {self.end})"


class HostStep:
    """One layer run on the host between segments: its integer reference over the arena's tensors."""

    def __init__(self, layer: QLayer, op, why: str):
        self.layer, self.op, self.why = layer, op, why

    @property
    def name(self) -> str:
        return self.layer.name

    def run(self, engine) -> None:
        lay = self.layer
        ins = [engine.tensor(t)[None] for t in lay.inputs]  # batch of one, the layer's own dtypes
        run = run_host_float if is_host_float(lay) else self.op.run_int  # a float op: dequantise, float, quantise
        try:
            y = np.asarray(run(lay, ins))
        except (KeyError, TypeError, ValueError, IndexError) as e:  # a config that does not fit its op
            raise ProgramError(f"tiled program: host step '{lay.name}' ({lay.op_type}) cannot run on its record "
                               f"({type(e).__name__}: {str(e)[:120]})") from None
        v = engine.views[lay.outputs[0]]["view"]
        if y.size != v["h"] * v["w"] * v["c"]:
            raise ProgramError(f"tiled program: host step '{lay.name}' ({lay.op_type}) gave {y.size} values for its "
                               f"output '{lay.outputs[0]}' of {v['h']}x{v['w']}x{v['c']}")
        engine._set(f"host:{lay.name}", engine.weights, engine.acts)
        engine.acts.write(v, 0, 0, 0, y.reshape(v["h"], v["w"], v["c"]).astype(np.int64))

    def __repr__(self) -> str:
        return f"HostStep({self.name!r}, {self.layer.op_type})"


def host_step_record(layer: QLayer, why: str, add_block) -> dict:
    """The program's record of ``layer`` run on the host; ``add_block(values, dtype)`` stores a
    constant in the weights arena and returns its block."""
    consts = {}
    for k, v in sorted(layer.consts.items()):
        a = np.asarray(v)
        dt = a.dtype.name if a.dtype.name in HOST_DTYPES else "int64"
        consts[k] = {**add_block(a, dt), "shape": [int(d) for d in a.shape]}
    return {"name": layer.name, "op": layer.op_type, "domain": layer.domain, "why": why,
            "inputs": list(layer.inputs), "outputs": list(layer.outputs), "config": layer.config, "consts": consts}


def segment_words(words: np.ndarray, first: int, end: int) -> np.ndarray:
    """The descriptor encoding of layers [first, end) of a whole program's encoding ``words``: the
    same header with its layer count changed, then those layers' records."""
    from .descriptors import HEADER, RECORD_WORDS

    rec = words.reshape(-1, RECORD_WORDS)
    head = rec[0].copy()
    head[HEADER["layers"]] = end - first
    return np.concatenate([head[None], rec[1 + first:1 + end]]).reshape(-1).astype(np.uint32)


# --- checking a program's steps ---------------------------------------------------------------------
def _fail(where: str, why: str) -> ProgramError:
    return ProgramError(f"tiled program: {where}: {why}")


def _names(h: dict, key: str, where: str, tensors: dict) -> list[str]:
    v = h.get(key)
    if not isinstance(v, list) or not 1 <= len(v) <= MAX_HOST_IO:
        raise _fail(where, f"field '{key}' must be a list of 1..{MAX_HOST_IO} tensor names")
    for t in v:
        if not isinstance(t, str) or t not in tensors:
            shown = repr(t)[:80]
            raise _fail(where, f"field '{key}' names {shown}, not a tensor of the program (the arena holds "
                               "only the program's tensors)")
    return v


def _host(h, k: int, data: dict, weights: np.ndarray) -> HostStep:
    where = f"step {k}"
    if not isinstance(h, dict):
        raise _fail(where, "field 'host' must be an object")
    for key in ("name", "op", "domain", "why"):
        if not isinstance(h.get(key), str) or len(h[key]) > MAX_NAME:
            raise _fail(where, f"field 'host.{key}' must be a string of at most {MAX_NAME} characters")
    where = f"host step {k} '{h['name'][:80]}' ({h['op'][:40]})"
    op = lookup(h["op"], h["domain"])
    if op is None or not (op.has_int() or isinstance(h.get("config"), dict) and HOST_FLOAT in h["config"]):
        raise _fail(where, "the op has no integer reference in this fpga-accel, so the host cannot run it")
    tensors = {t["name"]: t for t in data["tensors"]}
    ins, outs = _names(h, "inputs", where, tensors), _names(h, "outputs", where, tensors)
    if len(outs) != 1:
        raise _fail(where, "a host step writes exactly one tensor")
    if outs[0] in data["inputs"] or outs[0] in ins:
        raise _fail(where, f"its output '{outs[0][:80]}' is an input of the program or of the step itself")
    if not isinstance(h.get("config"), dict):
        raise _fail(where, "field 'config' must be an object")
    cs = h.get("consts")
    if not isinstance(cs, dict) or len(cs) > MAX_HOST_CONSTS:
        raise _fail(where, f"field 'consts' must be an object of at most {MAX_HOST_CONSTS} blocks")
    consts = {}
    for key, b in cs.items():
        bw = f"{where}: constant '{str(key)[:40]}'"
        if not isinstance(b, dict) or b.get("dtype") not in HOST_DTYPES:
            raise _fail(bw, f"must be a block with a dtype among {', '.join(HOST_DTYPES)}")
        shape = b.get("shape")
        ints = [b.get("offset"), b.get("count")] + (shape if isinstance(shape, list) else [None])
        if any(isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in ints) or len(shape) > 8:
            raise _fail(bw, "offset, count and shape must be non-negative integers (at most 8 dimensions)")
        size = np.dtype(b["dtype"]).itemsize
        if int(np.prod(shape, dtype=object)) != b["count"] or b["offset"] % size \
                or b["offset"] + b["count"] * size > weights.size:
            raise _fail(bw, f"[{b['offset']}, +{b['count']} x {b['dtype']}) of shape {shape} does not lie in "
                            f"the {weights.size}-byte weights arena")
        blob = weights[b["offset"]:b["offset"] + b["count"] * size]
        consts[key] = blob.view(b["dtype"]).reshape(shape).copy()
    layer = QLayer(h["name"], h["op"], list(ins), list(outs), h["config"], consts, h["domain"])
    if is_host_float(layer):
        try:
            parse_host_float(layer)
        except InputError as e:
            raise _fail(where, str(e)) from None
    return HostStep(layer, op, h["why"])


def plan_steps(program) -> list:
    """The checked steps of ``program``: :class:`Segment` and :class:`HostStep` objects in order
    (one segment of every layer when the program has no ``steps``)."""
    data, n = program.data, len(program.data["layers"])
    steps = data.get("steps")
    if steps is None:
        return [Segment(0, n)]
    if not isinstance(steps, list) or len(steps) > 2 * MAX_LAYERS + 1:
        raise _fail("program", f"field 'steps' must be a list of at most {2 * MAX_LAYERS + 1} steps")
    out, at = [], 0
    written = set(data["inputs"])  # tensor names known to be written before the next step
    regions = set()  # regions an earlier segment wrote
    region_of = {t["name"]: t["view"]["region"] for t in data["tensors"]}
    for k, s in enumerate(steps):
        if not isinstance(s, dict) or len(s) != 1 or next(iter(s)) not in ("engine", "host"):
            raise _fail(f"step {k}", "must be {\"engine\": [first, end]} or {\"host\": {...}}")
        if "engine" in s:
            r = s["engine"]
            if (not isinstance(r, list) or len(r) != 2 or any(isinstance(v, bool) or not isinstance(v, int) for v in r)
                    or r[0] != at or not at < r[1] <= n):
                raise _fail(f"step {k}", f"engine range {str(r)[:40]} must be [{at}, end] with {at} < end <= {n}: "
                                         "segments cover the layers once, in order")
            out.append(Segment(*r))
            regions.update(data["layers"][i]["output"]["region"] for i in range(*r))
            at = r[1]
            continue
        step = _host(s["host"], k, data, program.weights)
        late = [t for t in step.layer.inputs if t not in written and region_of[t] not in regions]
        if late:
            raise _fail(f"host step {k} '{step.name[:80]}' ({step.layer.op_type})",
                        f"reads {late[:4]} before any earlier step writes it (a cycle between segments, or steps "
                        "out of order)")
        written.add(step.layer.outputs[0])
        out.append(step)
    if at != n:
        raise _fail("program", f"field 'steps' runs engine layers 0..{at - 1} of {n}: every layer must be in a segment")
    return out


def run_steps(engine) -> None:
    """Every step of ``engine``'s program over its arenas (the image's inputs already written)."""
    steps = engine.steps
    if len(steps) == 1 and isinstance(steps[0], Segment):
        engine.active = (steps[0].first, steps[0].end)
        engine._run_layers()  # the descriptors as the device holds them
        return
    for step in steps:
        if isinstance(step, HostStep):
            step.run(engine)
            continue
        if step.words is None:
            from .descriptors import encode

            whole = encode(engine.program)
            for s in steps:
                if isinstance(s, Segment):
                    s.words = segment_words(whole, s.first, s.end)
        engine.descriptors, engine.active = step.words, (step.first, step.end)
        engine._run_layers()
