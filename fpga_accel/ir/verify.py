"""The IR verifier: structural invariants every pass must keep."""
from __future__ import annotations

from ..errors import GraphError
from .registry import lookup


def verify(g) -> None:
    """Raise :class:`GraphError` listing every broken invariant of ``g``.

    Checks: unique node names; each tensor produced once; nodes in topological order; every
    input defined; every graph output produced; each op registered, its attributes accepted and
    its shape rule agreeing with the recorded tensor shapes.
    """
    errors: list[str] = []
    names = [n.name for n in g.nodes]
    dups = sorted({x for x in names if names.count(x) > 1})
    if dups:
        errors.append(f"duplicate node names {dups}")
    defined = set(g.input_names) | set(g.initializers)
    clash = set(g.input_names) & set(g.initializers)
    if clash:
        errors.append(f"tensors {sorted(clash)} are both graph inputs and constants")
    for n in g.nodes:
        for i in n.inputs:
            if i and i not in defined:
                errors.append(f"node '{n.name}' reads '{i}' before it is defined")
        for o in n.outputs:
            if o and o in defined:
                errors.append(f"tensor '{o}' is produced twice (again by '{n.name}')")
            defined.add(o)
        op = lookup(n.op_type, n.domain)
        if op is None:
            errors.append(f"node '{n.name}': op {n.op_type} is not registered")
            continue
        known = set(op.attrs) | set(op.ignored_attrs)
        extra = set(n.attrs) - known
        if extra:
            errors.append(f"node '{n.name}' ({n.op_type}): unknown attributes {sorted(extra)}")
        if any(o and o not in g.tensors for o in n.outputs):
            errors.append(f"node '{n.name}': output without shape information")
            continue
        if errors:
            continue  # shapes of a broken graph are not worth checking
        try:
            infos = op.infer(n, g)
        except Exception as e:  # the verifier reports, it does not crash
            errors.append(f"node '{n.name}' ({n.op_type}): shape rule failed: {e}")
            continue
        for o, (shape, dtype) in zip(n.outputs, infos):
            t = g.tensors.get(o)
            if o and t is not None and (tuple(t.shape) != tuple(shape) or t.dtype != dtype):
                errors.append(f"node '{n.name}': '{o}' recorded as {t.dtype}{list(t.shape)} "
                              f"but the rule gives {dtype}{list(shape)}")
    for o in g.output_names:
        if o not in defined or o in g.initializers:
            errors.append(f"graph output '{o}' is not produced by any node")
    if errors:
        raise GraphError(f"IR verification failed for graph '{g.name}':\n  " + "\n  ".join(errors))
