"""Processing elements are found by declaration: every module of fpga_accel/pe/ declares the PEs it
holds, and every stage an op lowers to has a cycle and resource model and a function in its header."""
from __future__ import annotations

import pkgutil
import re
from pathlib import Path

import numpy as np
from codegen_util import make_model, quantise
from test_csim_parity_ops import KINDS

import fpga_accel
from fpga_accel import pe
from fpga_accel.codegen.top import HEADERS
from fpga_accel.fold import get_board
from fpga_accel.ops import lookup
from fpga_accel.pe import PES, RENAME, LowerContext, ProcessingElement
from fpga_accel.pe.cost import Cost

HLS_INCLUDE = Path(fpga_accel.__file__).parent / "hls_library" / "include" / "fpga_accel"
#: modules of fpga_accel/pe/ shared by the PEs (the stage, the registry, resource arithmetic, packing)
HELPERS = {"base", "stage", "cost", "packing", "weight_memory"}


def lowered_stages():
    """The stages of a model with one branch of every lowered op kind, at PE = SIMD = 1."""
    r = np.random.default_rng(0)
    nodes, ins, inits, outs = [], {}, {}, []
    for i, kind in enumerate(sorted(KINDS)):
        n, x, w, o, _ = KINDS[kind](r, f"b{i}_", kind)
        nodes, outs = nodes + n, outs + [o]
        ins.update(x)
        inits.update(w)
    qm = quantise(make_model(nodes, ins, inits, outs))
    ctx = LowerContext(qm, {"pe": 1, "simd": 1})
    stages = [s for lay in qm.layers for s in lookup(lay.op_type, lay.domain).lower(lay, ctx) if s.kind != RENAME]
    for lay in qm.layers:  # a convolution taking whole windows per word (SIMD = KH·KW·C)
        taps = int(np.prod(lay.config.get("kernel", [1])))
        if lay.op_type == "Conv" and lay.config["group"] == 1 and taps > 1:
            whole = LowerContext(qm, {"pe": 1, "simd": taps * int(qm.tensors[lay.inputs[0]].shape[-1])})
            stages += lookup(lay.op_type, lay.domain).lower(lay, whole)
    # a convolution at several pixels per cycle (PX > 1 needs PE = M and PX dividing both widths): mvau_mmv
    for lay in qm.layers:
        x, y = qm.tensors[lay.inputs[0]].shape, qm.tensors[lay.outputs[0]].shape
        px = next((d for d in range(2, 9) if int(x[-2]) % d == 0 and int(y[-2]) % d == 0), None)
        if lay.op_type == "Conv" and lay.config["group"] == 1 and px:
            stages += lookup("Conv").lower(lay, LowerContext(qm, {"pe": int(y[-1]), "simd": int(x[-1]), "px": px}))
            break
    # a Concat at a PE that divides its output's channels but not every input's: channel_concat
    for lay in qm.layers:
        c = [int(qm.tensors[t].shape[-1]) for t in (*lay.inputs, lay.outputs[0])]
        if lay.op_type == "Concat" and any(ci % c[-1] for ci in c[:-1]):
            stages += lookup("Concat").lower(lay, LowerContext(qm, {"pe": c[-1]}))
    return stages


def test_every_pe_module_declares_its_processing_elements():
    modules = {m.name for m in pkgutil.iter_modules(pe.__path__)} - HELPERS
    declared = {type(p).__module__.rsplit(".", 1)[1] for p in PES.values() if type(p).__module__.startswith("fpga_accel.pe.")}
    assert modules == declared


def test_every_pe_has_a_cycle_and_resource_model_and_its_headers():
    for kind, p in PES.items():
        assert type(p).cycles is not ProcessingElement.cycles, kind
        assert type(p).cost is not ProcessingElement.cost, kind
        for h in p.headers:
            assert (HLS_INCLUDE / h).is_file(), (kind, h)


def test_every_library_header_is_a_base_header_or_declared_by_a_pe():
    # tiled_engine.h is the tiled engine's (its units in tiled/), not a dataflow PE's; weight_load.h the
    # tops' (included where URAM weights are loaded at start)
    from fpga_accel.codegen.uram_load import HEADER as LOAD_HEADER

    assert set(HEADERS) | {"tiled_engine.h", LOAD_HEADER} == {p.name for p in HLS_INCLUDE.glob("*.h")}


def test_every_lowered_stage_is_priced_and_emitted():
    stages = lowered_stages()
    board = get_board("zcu104")
    for s in stages:
        assert s.kind in PES, f"{s.name}: no processing element declares kind '{s.kind}'"
        assert s.cycles() > 0 and isinstance(s.cost(board), Cost), s.name
        # the HLS writer emits a config struct (or explicit template arguments) and one call of fa::<kind>
        assert s.config or s.template is not None, s.name
        text = "".join((HLS_INCLUDE / h).read_text() for h in PES[s.kind].headers)
        assert re.search(rf"\bvoid\s+{s.kind}\s*\(", text), f"{s.name}: no fa::{s.kind} in {PES[s.kind].headers}"
    # and every PE the ops can reach is reached (adapters and stream plumbing come from the writer)
    assert {s.kind for s in stages} == set(PES) - {"input", "output", "width_convert", "duplicate", "reorder"}
