"""Float reference executor: runs the IR node by node with each op's numpy reference."""
from __future__ import annotations

from typing import Callable, Mapping

import numpy as np

from ..errors import InputError
from .registry import get_op


def check_feeds(g, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Validate user inputs against the graph: names, rank, non-batch dims, dtype kind."""
    missing = [n for n in g.input_names if n not in feeds]
    extra = [n for n in feeds if n not in g.input_names]
    if missing or extra:
        raise InputError(f"inputs must be {g.input_names}; missing {missing}, unexpected {extra}")
    out = {}
    for t in g.inputs:
        x = np.asarray(feeds[t.name])
        if x.ndim != len(t.shape) or tuple(x.shape[1:]) != tuple(t.shape[1:]):
            want = ("N",) + tuple(t.shape[1:])
            raise InputError(f"input '{t.name}' has shape {x.shape}; expected {want} (N = batch)")
        if x.dtype.kind != t.dtype.kind and not (x.dtype.kind in "iuf" and t.dtype.kind == "f"):
            raise InputError(f"input '{t.name}' has dtype {x.dtype}; expected {t.dtype}")
        out[t.name] = x.astype(t.dtype, copy=False)
    return out


def run_graph(g, feeds: Mapping[str, np.ndarray], keep: bool = False,
              after: Callable[[str, np.ndarray], np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Execute ``g`` on ``feeds``; returns the graph outputs (every tensor when ``keep``).

    ``after(name, value)``, when given, sees every tensor a node computes and returns the value
    its readers get (e.g. the tensor fake-quantised as a QDQ model defines it)."""
    env: dict[str, np.ndarray] = dict(g.initializers)
    env.update(check_feeds(g, feeds))
    refcount: dict[str, int] = {}
    for n in g.nodes:
        for i in n.inputs:
            refcount[i] = refcount.get(i, 0) + 1
    outputs = set(g.output_names)
    for n in g.nodes:
        args = [env[i] if i else None for i in n.inputs]
        results = get_op(n).run(n, args)
        for name, val in zip(n.outputs, results):
            if name:
                env[name] = val if after is None else after(name, val)
        if not keep:  # free intermediates as soon as their last reader ran
            for i in n.inputs:
                refcount[i] -= 1
                if refcount[i] == 0 and i not in outputs and i not in g.initializers:
                    env.pop(i, None)
    if keep:
        return env
    return {o: env[o] for o in g.output_names}
