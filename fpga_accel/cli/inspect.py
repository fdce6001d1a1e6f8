"""Summarise an ONNX model: inputs, outputs, and per layer its shape, MACs, parameters and placement.

The layers are shown after the compiler passes of the chosen flow; placement says which nodes
the FPGA runs and which stay on the host.
"""
from __future__ import annotations

import argparse

from ..errors import InputError
from ._output import Column, fmt_int, fmt_shape, print_table

ORDER = 20


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ..passes import FLOWS

    p.add_argument("model", help="the .onnx file")
    p.add_argument("--input-shape", action="append", default=[], metavar="NAME=D0,D1,...",
                   help="shape of an input whose dimensions the model leaves open, e.g. x=1,3,32,32 "
                        "(repeat for several inputs)")
    p.add_argument("--flow", choices=sorted(FLOWS), default="cleanup",
                   help="passes to run before listing the layers (default: cleanup)")


def parse_input_shapes(specs: list[str]) -> dict[str, tuple[int, ...]]:
    """``["x=1,3,32,32"]`` → ``{"x": (1, 3, 32, 32)}``, with a clear error for a bad spec."""
    shapes: dict[str, tuple[int, ...]] = {}
    for spec in specs:
        name, sep, dims = spec.rpartition("=")
        try:
            shape = tuple(int(d) for d in dims.replace("x", ",").split(","))
        except ValueError:
            shape = ()
        if not sep or not name or not shape or min(shape) < 1:
            raise InputError(f"--input-shape '{spec}' is not NAME=D0,D1,... with positive integer "
                             f"dimensions (e.g. input=1,3,32,32)")
        if name in shapes:
            raise InputError(f"--input-shape gives input '{name}' twice")
        shapes[name] = shape
    return shapes


def run(args) -> int:
    from ..frontend import import_onnx
    from ..ops import REMOVED, get_op
    from ..partition import partition
    from ..passes import run_flow

    g = import_onnx(args.model, input_shapes=parse_input_shapes(args.input_shape))
    applied = run_flow(g, args.flow)
    batch = g.batch_symbol

    meta = g.meta
    opset = f"{meta.get('source_opset', g.opset)}"
    if g.opset != meta.get("source_opset", g.opset):
        opset += f" (upgraded to {g.opset})"
    print(f"model     {meta.get('source', g.name)}")
    print(f"producer  {meta.get('producer') or 'unknown'}")
    print(f"opset     {opset}")
    if batch:
        print(f"batch     {batch} (symbolic); the shapes below are at batch 1")
    else:
        print(f"batch     fixed by the model at {g.inputs[0].shape[0] if g.inputs and g.inputs[0].shape else 1}")
    for kind, infos in (("input", g.inputs), ("output", g.outputs)):
        for t in infos:
            print(f"{kind:<9} {t.name}  {t.dtype}  {fmt_shape(t.shape, batch)}")
    passes = ", ".join(dict.fromkeys(applied)) or "none changed the graph"
    print(f"flow      {args.flow}: {passes}")
    print()

    part = partition(g)
    split_ids = {id(n) for n in part.splitting}
    hw_ids = {id(n) for n in part.hardware}
    if part.ok:  # as compile places them: layout-only nodes at the edges go to the host
        from ..quant.quantizer import split_edges

        hw_ids = {id(n) for n in split_edges(g)[1]}
    rows, total_macs, total_params = [], 0, 0
    for i, n in enumerate(g.nodes):
        op = get_op(n)
        macs, params = op.macs(n, g), op.params(n, g)
        total_macs += macs
        total_params += params
        if id(n) in split_ids:
            where = "host: splits the accelerated part"
        elif op.placement_of(n, g) == REMOVED:
            where = "removed by passes"
        else:
            where = "hardware" if id(n) in hw_ids else "host"
        shapes = "; ".join(fmt_shape(g.shape(o)) for o in n.outputs if o)
        rows.append([str(i), n.name, n.op_type, shapes, fmt_int(macs), fmt_int(params), where])
    cols = [Column("#", "right"), Column("node"), Column("op"), Column("output shape"),
            Column("MACs", "right"), Column("params", "right"), Column("placement")]
    totals = ["", f"{len(g.nodes)} nodes", "", "", fmt_int(total_macs), fmt_int(total_params),
              f"{len(part.hardware)} hardware, {len(g.nodes) - len(part.hardware)} host"]
    print_table(cols, rows, title=f"layers after flow '{args.flow}'", totals=totals)

    def names(nodes):
        return ", ".join(f"{n.name} ({n.op_type})" for n in nodes)

    if part.host_before:
        print(f"host before the accelerator: {names(part.host_before)}")
    if part.host_after:
        print(f"host after the accelerator: {names(part.host_after)}")
    if part.splitting:
        print(f"problem: host op(s) {names(part.splitting)} sit between hardware nodes and split the "
              f"accelerated part; the model cannot be compiled as one accelerator. Move them to the "
              f"start or end of the model, or replace them with ops the hardware supports "
              f"(see `fpga-accel ops`).")
    return 0
