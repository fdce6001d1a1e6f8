"""Checks of an ONNX file's structure, made before anything is computed from it.

A model may come from anyone: these checks stop what a malformed or hostile file could use to
crash the importer, exhaust memory or read files outside its folder, each with an error naming
the tensor or node and what to do. Sizes are bounded before anything is allocated.
"""
from __future__ import annotations

import math
import os
import warnings

import numpy as np

from ..errors import ModelError, ShapeError
from ..ir.graph import MAX_ELEMENTS

#: the newest opset whose changes the op files follow (19-21 only widen types or add attributes
#: the importer refuses); a newer model imports with a warning
KNOWN_OPSET = 21

#: ONNX data types no tensor of fpga-accel may have: undefined, string, complex
REFUSED_TYPES = {0, 8, 14, 15}


class ModelWarning(UserWarning):
    """The model imports, but something in it may not mean what the importer assumes."""


def type_name(elem: int) -> str:
    from onnx import TensorProto

    try:
        return TensorProto.DataType.Name(elem)
    except ValueError:
        return f"unknown ({elem})"


def check_opset(opset: int, where: str) -> None:
    if opset > KNOWN_OPSET:
        warnings.warn(f"{where}: the model uses opset {opset}, newer than opset {KNOWN_OPSET}, the newest this "
                      f"importer knows; an op whose meaning changed after opset {KNOWN_OPSET} is read with its "
                      f"older meaning. Compare the results with the float model (`fpga-accel check`) or "
                      f"re-export with opset {KNOWN_OPSET}", ModelWarning, stacklevel=3)


def check_elements(shape, what: str) -> int:
    """The element count of ``shape``; a :class:`ShapeError` naming ``what`` when a dimension is
    negative or the count is above :data:`MAX_ELEMENTS`."""
    dims = [int(d) for d in shape]
    if any(d < 0 for d in dims):
        raise ShapeError(f"{what}: shape {dims} has a negative dimension")
    n = math.prod(dims)
    if n > MAX_ELEMENTS:
        raise ShapeError(f"{what}: shape {dims} has {n:,} elements, more than the {MAX_ELEMENTS:,} "
                         f"(2^{MAX_ELEMENTS.bit_length() - 1}) fpga-accel handles in one tensor")
    return n


def check_graph(proto, where: str) -> list:
    """The graph's nodes in an order where each reads only what is defined before it.

    Refused: no outputs, an input declared twice, a graph output that is a graph input, a
    tensor produced twice (by two nodes, or by a node and an input or initializer), a cycle.
    """
    g = proto.graph
    if not g.output:
        raise ModelError(f"{where}: the graph declares no outputs; nothing to compute")
    inits = {t.name for t in g.initializer}
    seen: set[str] = set()
    for vi in g.input:
        if vi.name in seen:
            raise ModelError(f"{where}: graph input '{vi.name}' is declared twice")
        seen.add(vi.name)
    inputs = {vi.name for vi in g.input} - inits
    for vo in g.output:
        if vo.name in inputs:
            raise ModelError(f"{where}: graph output '{vo.name}' is a graph input itself; nothing to compute")
    made = {name: f"graph input '{name}'" for name in inputs}
    made.update({name: f"initializer '{name}'" for name in inits})
    for i, n in enumerate(g.node):
        for o in n.output:
            if not o:
                continue
            if o in made:
                raise ModelError(f"{where}: tensor '{o}' is produced twice: by {made[o]} and by node "
                                 f"'{n.name or i}' ({n.op_type}); every tensor needs exactly one producer")
            made[o] = f"node '{n.name or i}' ({n.op_type})"
    return _ordered(g.node, set(made) - {o for n in g.node for o in n.output}, where)


def _ordered(nodes, ready: set[str], where: str) -> list:
    """Nodes sorted so that producers come first (stable: a sorted model keeps its order)."""
    produced = {o for n in nodes for o in n.output if o}
    done, out, pending = set(ready), [], list(nodes)
    while pending:
        rest = []
        for n in pending:  # an input nobody produces is reported later, with its node
            if all(i in done or i not in produced for i in n.input if i):
                out.append(n)
                done.update(n.output)
            else:
                rest.append(n)
        if len(rest) == len(pending):
            names = ", ".join(f"'{n.name}' ({n.op_type})" for n in rest[:6])
            raise ModelError(f"{where}: the graph has a cycle: node(s) {names}{' ...' if len(rest) > 6 else ''} "
                             f"each wait for another's output; an ONNX graph must be acyclic")
        pending = rest
    return out


def check_tensor_type(elem: int, what: str) -> None:
    from onnx import TensorProto

    if elem in REFUSED_TYPES or elem not in TensorProto.DataType.values():
        raise ModelError(f"{what} has ONNX data type {type_name(elem)}; fpga-accel computes with real numbers "
                         f"and bool only (floats, integers)")


def tensor_array(t, what: str) -> np.ndarray:
    """A TensorProto (initializer or attribute) as an array, after checking its type, shape and
    data length; ``what`` names it in errors."""
    from onnx import numpy_helper

    check_tensor_type(t.data_type, what)
    check_elements(t.dims, what)
    try:
        a = numpy_helper.to_array(t)
    except Exception as e:  # noqa: BLE001 - numpy_helper raises ValueError / TypeError, and more
        raise ModelError(f"{what}: its data does not fit its declared shape {list(t.dims)} "
                         f"({type(e).__name__}: {e}); the file is corrupt, export the model again") from None
    return a


def initializer_array(t, where: str) -> np.ndarray:
    return tensor_array(t, f"{where}: initializer '{t.name}'")


def load_external_data(proto, folder: str | None, where: str) -> None:
    """Read initializers kept in external files, only from regular files inside ``folder``."""
    import onnx

    from ..safe_fs import UnsafePathError, inside

    external = [t for t in proto.graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL]
    for t in external:
        info = {e.key: e.value for e in t.external_data}
        what = f"{where}: initializer '{t.name}'"
        loc = info.get("location", "")
        if folder is None:
            raise ModelError(f"{what} keeps its data in the external file {loc!r}; load the model from its "
                             f"file path so the file can be found beside it")
        check_tensor_type(t.data_type, what)
        try:
            path = inside(folder, loc, what=f"initializer '{t.name}' external data location")
        except UnsafePathError as e:
            raise ModelError(f"{where}: {e}; external data must sit in the model's folder") from None
        if not path.is_file():
            raise ModelError(f"{what}: its external data file {loc!r} is missing (looked for {path}); copy it "
                             f"beside the model")
        try:
            offset, length = int(info.get("offset", 0)), int(info.get("length", -1))
        except ValueError:
            raise ModelError(f"{what}: external data offset/length {info.get('offset')!r}/{info.get('length')!r} "
                             f"are not integers") from None
        need = check_elements(t.dims, what) * np.dtype(onnx.helper.tensor_dtype_to_np_dtype(t.data_type)).itemsize
        have = path.stat().st_size - offset if length < 0 else length
        if offset < 0 or have != need or offset + have > path.stat().st_size:
            raise ModelError(f"{what}: external data {loc!r} (offset {offset}, length {have}) does not hold the "
                             f"{need} bytes of shape {list(t.dims)}; the file is corrupt or belongs to another model")
    if external:
        try:
            onnx.load_external_data_for_model(proto, os.fspath(folder))
        except Exception as e:  # noqa: BLE001 - onnx raises ValidationError / OSError
            raise ModelError(f"{where}: cannot read external data ({type(e).__name__}: {e})") from None


def node_form_problems(pn, opset: int) -> list[str]:
    """What in a node's form its ONNX schema forbids: the number of inputs, a required input
    left empty, an attribute of the wrong type (an op of another domain is left to its op file)."""
    from onnx import AttributeProto, defs

    try:
        schema = defs.get_schema(pn.op_type, opset, pn.domain or "")
    except Exception:  # noqa: BLE001 - SchemaError: no ONNX schema for this op and domain
        return []
    out = []
    n = len(pn.input)
    while n and not pn.input[n - 1]:  # trailing empty names are absent optional inputs
        n -= 1
    if n < schema.min_input or n > schema.max_input:
        want = (f"{schema.min_input}" if schema.min_input == schema.max_input else
                f"{schema.min_input} to {schema.max_input}" if schema.max_input < 1 << 30 else
                f"at least {schema.min_input}")
        out.append(f"has {n} input(s); {pn.op_type} takes {want}")
    single = defs.OpSchema.FormalParameterOption.Single
    for i, (name, formal) in enumerate(zip(pn.input, schema.inputs)):
        if not name and formal.option == single:
            out.append(f"required input {i} ('{formal.name}') is empty")
    for a in pn.attribute:
        want = schema.attributes.get(a.name)
        if want is not None and a.type != want.type:
            got = AttributeProto.AttributeType.Name(a.type) if a.type in AttributeProto.AttributeType.values() \
                else str(a.type)
            out.append(f"attribute '{a.name}' is of type {got}; {pn.op_type} expects {want.type.name}")
    return out
