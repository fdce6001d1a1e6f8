"""The dataflow network: lowered stages joined by streams.

Every layer is lowered by its op (``Op.lower``); renames (Flatten, Reshape, ...) alias their
output to their input's stream. Each tensor gets one stream from its producer; a tensor read by
several consumers (a residual fork, or a hardware output also used inside) goes through a chain
of ``duplicate`` PEs, and a consumer wanting a different lane count gets a ``width_convert``. All
problems (layers without a PE, folding factors that do not fit) are collected and raised at once.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..errors import InputError, Problem, UnsupportedModelError
from ..escape import ident
from ..fold.boards import port_bits
from ..fold.fifos import DEFAULT_DEPTH, branch_backlog, burst_depth, fork_depths
from ..ops import lookup
from ..pe import RENAME, FoldingProblem, LowerContext, LoweringError, Port, Stage
from ..pe.io import io_lanes
from ..pe.mvau import MUL_CHOICES
from ..pe.stream_utils import duplicate_stage, width_convert_stage

#: the deepest FIFO a depth setting may ask for (2^20 words; far beyond any on-chip memory)
MAX_FIFO_DEPTH = 1 << 20
SET_DEPTH = ("depth from the manifest's fifo_depths (compile --fifo-depth, the config's fifo_depths, or the sizes "
             "`fpga-accel simulate --size` found)")
SIZED_DEPTH = ("the smallest depth at which the timed simulation keeps the network's interval "
               "(compile --fifo-sizing sim; the cost model gave {model})")


@dataclass
class Call:
    """A stage placed in the region: its streams (variable names) and its identifier prefix."""

    stage: Stage
    ins: list[str]
    outs: list[str]
    prefix: str  # C++ identifier prefix of its config struct / arrays
    layer_index: int | None = None


@dataclass
class Network:
    calls: list[Call]
    streams: dict[str, tuple[Port, int, str]]  # variable -> (port, depth, why this depth)
    inputs: list[tuple[object, Port, str]]  # (QTensor, port, variable) per hardware input
    outputs: list[tuple[object, Port, str]]
    layer_stages: dict[str, list[Stage]] = field(default_factory=dict)


def folding_of(manifest: dict, layer_name: str, index: int) -> dict:
    """{"pe", "simd", "px", "mul"} of a layer from manifest["layers"]; missing or empty means 1/1/1/"dsp"."""
    layers = manifest.get("layers") or []
    entry = layers[index] if index < len(layers) and layers[index].get("name") == layer_name else \
        next((e for e in layers if e.get("name") == layer_name), {})
    fold = entry.get("folding") or {}
    out = {}
    for key in ("pe", "simd", "px"):
        v = fold.get(key, 1)
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise FoldingProblem(f"folding {key}={v!r} must be a positive integer")
        out[key] = v
    mul = fold.get("mul", "dsp")
    if mul not in MUL_CHOICES:
        raise FoldingProblem(f"folding mul={mul!r} must be one of {list(MUL_CHOICES)}")
    out["mul"] = mul
    return out


def dsp_port_bits(manifest: dict) -> int:
    """The wide DSP port of the manifest's board, as the folder priced it (0 without a board)."""
    dsp_type = (manifest.get("board") or {}).get("dsp_type")
    return port_bits(dsp_type) if isinstance(dsp_type, str) else 0


def lower_model(qmodel, manifest: dict) -> dict[str, list[Stage]]:
    """Stages per layer; raises UnsupportedModelError (layers without a PE) or InputError (foldings)
    listing every problem."""
    unsupported, folding, out = [], [], {}
    port = dsp_port_bits(manifest)
    for i, layer in enumerate(qmodel.layers):
        op = lookup(layer.op_type, layer.domain)
        try:
            if op is None:
                raise LoweringError(f"op {layer.op_type} is not known to this fpga-accel")
            ctx = LowerContext(qmodel, folding_of(manifest, layer.name, i), port)
            out[layer.name] = op.lower(layer, ctx)
        except FoldingProblem as e:
            folding.append(Problem(layer.name, layer.op_type, str(e)))
        except LoweringError as e:
            unsupported.append(Problem(layer.name, layer.op_type, str(e)))
    if unsupported:
        raise UnsupportedModelError(unsupported, f"{qmodel.name} (HLS code generation)")
    if folding:
        lines = "\n".join(f"  - {p}" for p in folding)
        raise InputError(f"{qmodel.name}: {len(folding)} layer(s) have a folding that does not fit "
                         f"(manifest['layers'][i]['folding']):\n{lines}")
    return out


def build_network(qmodel, manifest: dict) -> Network:
    per_layer = lower_model(qmodel, manifest)
    placed: list[tuple[Stage, int]] = []  # stages in layer order, renames resolved below
    alias: dict[str, str] = {}
    for i, layer in enumerate(qmodel.layers):
        for st in per_layer[layer.name]:
            if st.kind == RENAME:
                alias[st.outputs[0].tensor] = st.inputs[0].tensor
            else:
                placed.append((st, i))

    def root(t: str) -> str:
        while t in alias:
            t = alias[t]
        return t

    # producers: tensor root -> (port, index in placed or -1 for a hardware input)
    producer: dict[str, tuple[Port, int]] = {}
    consumers: dict[str, list[tuple[int, int, int]]] = {}  # root -> [(placed idx, port idx, lanes)]
    for j, (st, _) in enumerate(placed):
        for k, p in enumerate(st.inputs):
            consumers.setdefault(root(p.tensor), []).append((j, k, p.lanes))
        for p in st.outputs:
            producer[p.tensor] = (p, j)
    ins = []
    for t in qmodel.inputs:
        first = consumers.get(t.name, [])
        q = t.qparams.qtype
        lanes = io_lanes(first[0][2] if first else 1, q.bits)
        producer[t.name] = (Port(t.name, lanes, q.bits, q.signed), -1)
        ins.append(t)

    streams: dict[str, tuple[Port, int, str]] = {}
    counter = [0]

    def new_var(port: Port, depth: int = DEFAULT_DEPTH, why: str = "") -> str:
        counter[0] += 1
        v = f"s{counter[0]}_{ident(port.tensor.split('#')[0])}"
        streams[v] = (port, depth, why)
        return v

    def words(tensor: str, lanes: int) -> int:
        return math.prod(int(d) for d in qmodel.tensors[tensor].shape[1:]) // lanes

    in_vars: dict[tuple[int, int], str] = {}
    out_vars: dict[tuple[int, int], str] = {}
    before: dict[int, list[Call]] = {}  # converters in front of placed stage j (or -1: the outputs)
    after: dict[int, list[Call]] = {}  # duplicates behind placed stage j (-1: the inputs)
    sinks: dict[int, str] = {}  # hardware output index -> variable

    def connect(src_var: str, src: Port, want: int, where: int, name: str) -> str:
        """A stream of ``want`` lanes fed from src_var: itself, or through a width converter."""
        if want in (0, src.lanes):
            return src_var
        dst = Port(src.tensor, want, src.bits, src.signed)
        v = new_var(dst)
        st = width_convert_stage(name, src, dst, words(root(src.tensor), src.lanes))
        before.setdefault(where, []).append(Call(st, [src_var], [v], ""))
        return v

    out_roots = [root(t.name) for t in qmodel.outputs]
    for t_root, (port, j) in producer.items():
        if t_root not in qmodel.tensors and t_root not in consumers:
            continue
        users = [(c, k, lanes) for c, k, lanes in consumers.get(t_root, [])]
        user_sinks = [o for o, r in enumerate(out_roots) if r == t_root]
        if j == -1:
            src_var = f"in{[t.name for t in ins].index(t_root)}"
            streams[src_var] = (port, DEFAULT_DEPTH, "")
        else:
            src_var = new_var(port)
            out_vars[(j, placed[j][0].outputs.index(port))] = src_var
        n_dest = len(users) + len(user_sinks)
        dests: list[str] = []
        if n_dest <= 1:
            dests = [src_var]
        else:  # fork: a chain of duplicates, each branch as deep as the other branches' latency needs
            depths = branch_depths(placed, consumers, root, qmodel, t_root, port, users, len(user_sinks))
            cur = src_var
            for d in range(n_dest - 1):
                a = new_var(port, depths[d][0], depths[d][1])
                b = new_var(port, *(depths[d + 1] if d == n_dest - 2 else (DEFAULT_DEPTH, "")))
                st = duplicate_stage(f"{t_root}", port, port, port, words(t_root, port.lanes))
                after.setdefault(j, []).append(Call(st, [cur], [a, b], ""))
                dests.append(a)
                cur = b
            dests.append(cur)
        for (c, k, lanes), v in zip(users, dests):
            # a converter per input: the second and later inputs' get their own names
            in_vars[(c, k)] = connect(v, port, lanes, c, placed[c][0].layer + (f"@in{k}" if k else ""))
        for o, v in zip(user_sinks, dests[len(users):]):
            sinks[o] = connect(v, port, io_lanes(port.lanes, port.bits), -1, t_root)
    outs = []
    for o, t in enumerate(qmodel.outputs):
        port = producer[root(t.name)][0]
        outs.append((t, Port(t.name, io_lanes(port.lanes, port.bits), port.bits, port.signed), f"out{o}"))
    ren = {v: f"out{o}" for o, v in sinks.items()}
    for v, name in ren.items():
        streams[name] = streams.pop(v)

    calls: list[Call] = [*after.get(-1, [])]
    seen: dict[str, int] = {}
    for j, (st, li) in enumerate(placed):
        calls += before.get(j, [])
        base = ident(st.layer, li)
        n = seen.get(f"{base}_{st.kind}", 0)
        seen[f"{base}_{st.kind}"] = n + 1
        ins_ = [in_vars[(j, k)] for k in range(len(st.inputs))]
        outs_ = [out_vars.get((j, k), "") for k in range(len(st.outputs))]
        calls.append(Call(st, ins_, outs_, f"{base}_{st.kind}{n if n else ''}", li))
        calls += after.get(j, [])
    calls += before.get(-1, [])  # converters in front of the outputs
    for c in calls:
        c.ins = [ren.get(v, v) for v in c.ins]
        c.outs = [ren.get(v, v) for v in c.outs]
    for k, c in enumerate(calls):
        if not c.prefix:
            c.prefix = f"X{k:02d}_{c.stage.kind}"
    inputs = [(t, producer[t.name][0], f"in{i}") for i, t in enumerate(ins)]
    burst_depths(calls, streams)
    for v, d in resolve_fifo_depths(sized_depths(manifest), streams).items():
        if d != streams[v][1]:
            streams[v] = (streams[v][0], d, SIZED_DEPTH.format(model=streams[v][1]))
    for v, d in resolve_fifo_depths(manifest.get("fifo_depths"), streams).items():  # by hand: over the sizing
        streams[v] = (streams[v][0], d, SET_DEPTH)
    return Network(calls, streams, inputs, outs, per_layer)


def sized_depths(manifest: dict) -> dict | None:
    """The depths compile's FIFO sizing found (``manifest["fifo_sizing"]``, method "sim"), or None."""
    rec = manifest.get("fifo_sizing")
    if isinstance(rec, dict) and rec.get("method") == "sim":
        return rec.get("depths")
    return None


def resolve_fifo_depths(given, streams) -> dict[str, int]:
    """``manifest["fifo_depths"]`` ({stream: depth}) by full stream name or its ``s<k>`` prefix (as
    ``fpga-accel simulate`` names them), checked: an InputError names a stream the network does not
    have (listing those it has) or a depth that is not a positive integer up to MAX_FIFO_DEPTH."""
    if not given:
        return {}
    if not isinstance(given, dict):
        raise InputError(f"fifo_depths must map stream names to depths, got {type(given).__name__}")
    own = [v for v in streams if v.startswith("s")]  # in<i> / out<i> are the network's ports, not FIFOs
    out = {}
    for key, depth in given.items():
        if isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= MAX_FIFO_DEPTH:
            raise InputError(f"FIFO depth of stream '{key}' must be an integer from 1 to {MAX_FIFO_DEPTH}, "
                             f"got {depth!r}")
        hits = [v for v in own if v == key] or [v for v in own if v.split("_", 1)[0] == key]
        if len(hits) != 1:
            raise InputError(f"no stream named '{key}' in this network (a FIFO depth names a stream as "
                             f"`fpga-accel simulate` and fa_top.cpp do: its full name or its s<k> prefix); "
                             f"its streams: {', '.join(own) or 'none'}")
        out[hits[0]] = depth
    return out


def burst_depths(calls: list[Call], streams: dict) -> None:
    """Deepen each stream feeding a PE that reads in bursts (a window's prologue rows, an MVAU's
    vector before its replayed folds) by the words its producer writes meanwhile at the network's
    interval, the slowest stage's cycles per image (the fold model's figure unless an I/O adapter is
    slower, which only makes the depth larger than needed): the PE's cost model gives them
    (``Stage.input_slack``); or, where more, by the burst its writer writes back to back
    (``Stage.output_burst``: a global pool's result words)."""
    interval = max((c.stage.cycles() for c in calls), default=0)
    writer = {v: c for c in calls for v in c.outs}
    for c in calls:
        for v in c.ins:
            if v not in streams or not v.startswith("s"):
                continue
            slack = c.stage.input_slack(interval)
            burst = writer[v].stage.output_burst() if v in writer else 0
            port, depth, _ = streams[v]
            if burst_depth(depth, max(slack, burst)) <= depth:
                continue
            # the kind only: layer names are the model's text and never reach a comment
            if slack >= burst:
                why = (f"the {c.stage.kind} it feeds reads in bursts: {slack} words written meanwhile at "
                       f"{interval} cycles per image, beyond the default {DEFAULT_DEPTH}")
            else:
                why = (f"the {writer[v].stage.kind} writing it writes {burst} words back to back, beyond the "
                       f"default {DEFAULT_DEPTH}")
            streams[v] = (port, DEFAULT_DEPTH + max(slack, burst), why)


def branch_depths(placed, consumers, root, qmodel, t_root, port, users, n_sinks):
    """(FIFO depth, why) per branch of a fork of ``t_root`` (``users``, then ``n_sinks`` hardware
    outputs) by the fold's rule (``fold.fifos.fork_depths``): the words of the fork tensor that pile
    up in a branch while the other branches fill their line buffers before their first output,
    capped at one image; a hardware output's branch at the default depth."""
    shape = qmodel.tensors[t_root].shape
    image = math.prod(int(d) for d in shape[1:]) // port.lanes

    def chain(j: int) -> list[Stage]:  # the branch's stages from stage j up to a join or another fork
        stages, seen = [], set()
        while j not in seen:
            seen.add(j)
            st = placed[j][0]
            stages.append(st)
            if len(st.outputs) != 1:
                break
            nxt = consumers.get(root(st.outputs[0].tensor), [])
            if len(nxt) != 1 or len(placed[nxt[0][0]][0].inputs) != 1:
                break  # the join (or another fork) ends the branch
            j = nxt[0][0]
        return stages

    lat = [branch_backlog(chain(c), shape, port.lanes) for c, _, _ in users]
    n = len(lat) + n_sinks
    return [(d, f"fork of {n} branches: the other branches hold back up to {others} words (their line buffers "
                f"fill first); capped at one image ({image} words)" if b < len(lat) else
             f"fork of {n} branches: this one into a hardware output, whose adapter drains it")
            for b, (d, others) in enumerate(fork_depths(lat, image, n_sinks))]
