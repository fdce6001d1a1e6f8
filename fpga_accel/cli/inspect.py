"""Summarise an ONNX model: inputs, outputs, and per layer its shape, MACs, parameters and placement.

The layers are shown after the compiler passes of the chosen flow; placement says which nodes
the FPGA runs and which stay on the host. Compile's own lowering checks run too (without
calibration data, nothing written): every problem is printed by node and op, and the exit code
is 2 when there is one.
"""
from __future__ import annotations

import argparse

from ..errors import InputError
from ._output import Column, echo, fmt_int, fmt_shape, print_table

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
    from ..analysis.inspection import inspect

    ins = inspect(args.model, input_shapes=parse_input_shapes(args.input_shape), flow=args.flow)
    g, applied = ins.graph, ins.passes
    batch = g.batch_symbol

    meta = g.meta
    opset = f"{meta.get('source_opset', g.opset)}"
    if g.opset != meta.get("source_opset", g.opset):
        opset += f" (upgraded to {g.opset})"
    echo(f"model     {meta.get('source', g.name)}")
    echo(f"producer  {meta.get('producer') or 'unknown'}")
    print(f"opset     {opset}")
    if batch:
        print(f"batch     {batch} (symbolic); the shapes below are at batch 1")
    else:
        print(f"batch     fixed by the model at {g.inputs[0].shape[0] if g.inputs and g.inputs[0].shape else 1}")
    for kind, infos in (("input", g.inputs), ("output", g.outputs)):
        for t in infos:
            echo(f"{kind:<9} {t.name}  {t.dtype}  {fmt_shape(t.shape, batch)}")
    passes = ", ".join(applied) or "none changed the graph"
    print(f"flow      {args.flow}: {passes}")
    print()

    rows = [[str(n.index), n.name, n.op_type, "; ".join(fmt_shape(s) for s in n.output_shapes), fmt_int(n.macs),
             fmt_int(n.params), n.placement] for n in ins.nodes]
    cols = [Column("#", "right"), Column("node"), Column("op"), Column("output shape"),
            Column("MACs", "right"), Column("params", "right"), Column("placement")]
    totals = ["", f"{len(ins.nodes)} nodes", "", "", fmt_int(sum(n.macs for n in ins.nodes)),
              fmt_int(sum(n.params for n in ins.nodes)), f"{len(ins.hardware)} hardware, {len(ins.host)} host"]
    print_table(cols, rows, title=f"layers after flow '{args.flow}'", totals=totals)

    def names(nodes):
        return ", ".join(f"{n.name} ({n.op_type})" for n in nodes)

    if ins.host_before:
        echo(f"host before the accelerator: {names(ins.host_before)}")
    if ins.host_after:
        echo(f"host after the accelerator: {names(ins.host_after)}")
    if ins.splitting:  # not a problem: compile runs them on the host between segments
        echo(f"host between hardware nodes: {names(ins.splitting)}; they split the accelerated part into "
             f"segments (separate dataflow designs, or the tiled engine's), with these ops on the host between them")
    split = {n.name for n in ins.splitting}
    for p in ins.problems:
        if p.node not in split:
            echo(f"problem: {p}; compile would stop here. See `fpga-accel ops` for what each op lowers to.")
    return 2 if any(p.node not in split for p in ins.problems) else 0
