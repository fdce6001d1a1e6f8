"""A printable, stable text form of the IR (for humans, logs and golden tests)."""
from __future__ import annotations

import numpy as np


def shape_text(shape, batch: str | None = None) -> str:
    """A shape as every table shows it, ``[N, 28, 28, 8]`` (a symbolic dimension by its name,
    without quotes); ``batch`` replaces the first dimension's name."""
    dims = [str(d) for d in shape]
    if batch and dims:
        dims[0] = batch
    return "[" + ", ".join(dims) + "]"


def _fmt_attr(v) -> str:
    if isinstance(v, np.ndarray):
        return f"tensor<{v.dtype}{list(v.shape)}>"
    if isinstance(v, float):
        return f"{v:g}"
    return repr(v)


def _fmt_info(g, name: str) -> str:
    if not name:
        return "_"
    if name in g.initializers:
        a = g.initializers[name]
        return f"%{name}: const {a.dtype}{list(a.shape)}"
    t = g.tensors.get(name)
    return f"%{name}: {t.dtype}{list(t.shape)}" if t else f"%{name}: ?"


def to_text(g) -> str:
    lines = [f"graph {g.name} (opset {g.opset})"]
    for t in g.inputs:
        lines.append(f"  input  %{t.name}: {t.dtype}{list(t.shape)}")
    for n in g.nodes:
        attrs = {k: v for k, v in n.attrs.items() if v is not None}
        at = ", ".join(f"{k}={_fmt_attr(v)}" for k, v in sorted(attrs.items()))
        dom = f"{n.domain}." if n.domain else ""
        outs = ", ".join(_fmt_info(g, o) for o in n.outputs)
        ins = ", ".join(_fmt_info(g, i) if i in g.initializers else (f"%{i}" if i else "_") for i in n.inputs)
        lines.append(f"  {outs} = {dom}{n.op_type}[{n.name}]({ins})" + (f" {{{at}}}" if at else ""))
    for t in g.outputs:
        lines.append(f"  output %{t.name}: {t.dtype}{list(t.shape)}")
    return "\n".join(lines)
