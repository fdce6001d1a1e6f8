"""ONNX → IR.

Steps: load and check the file, upgrade opsets older than 7, pin the batch dimension to 1,
turn Constant nodes and initializers into IR constants, then walk the nodes in order:
unsupported ops and attributes are collected (never stopping at the first), supported ones
get their shapes from our own op rules, and nodes whose inputs are all constant are folded
on the spot so shape-computing subgraphs (Shape → Gather → Concat → Reshape) disappear.
"""
from __future__ import annotations

import hashlib
import os
from typing import Any, Mapping

import numpy as np

from ..errors import ModelError, Problem, ShapeError, UnsupportedModelError
from ..ir.graph import Graph, Node, TensorInfo
from ..ir.registry import lookup
from . import model_checks as checks
from .quantisers import absorb_quantisers

MIN_OPSET = 7
UPGRADE_TO = 13


def load_onnx(model) -> "onnx.ModelProto":  # noqa: F821
    """Load a model from a path, bytes or a ModelProto, with a clear error for bad files."""
    import onnx

    if isinstance(model, onnx.ModelProto):
        return model
    if isinstance(model, (bytes, bytearray)):
        data, where = bytes(model), "<bytes>"
    elif not isinstance(model, (str, os.PathLike)):
        raise ModelError(f"model must be a path, bytes or an onnx.ModelProto, got {type(model).__name__}")
    else:
        where = os.fspath(model)
        if not os.path.isfile(where):
            raise ModelError(f"{where}: no such model file")
        with open(where, "rb") as f:
            data = f.read()
    try:
        proto = onnx.load_from_string(data)
    except Exception as e:  # protobuf raises DecodeError or RuntimeWarning-derived errors
        raise ModelError(f"{where}: not a valid ONNX file ({type(e).__name__}: {e}); check that the file "
                         f"is complete (not truncated by a copy or download) or export the model again") from None
    if not proto.HasField("graph") or not proto.graph.node:
        raise ModelError(f"{where}: the ONNX file holds no graph nodes")
    checks.load_external_data(proto, os.path.dirname(os.path.abspath(where)) if os.path.isfile(where) else None,
                              where)
    proto.ClearField("metadata_props")
    return proto


def _opset(proto) -> int:
    for o in proto.opset_import:
        if o.domain in ("", "ai.onnx"):
            return int(o.version)
    return 1


def _upgrade(proto, where: str):
    from onnx import version_converter

    try:
        return version_converter.convert_version(proto, UPGRADE_TO)
    except Exception as e:
        raise ModelError(f"{where}: opset {_opset(proto)} is older than {MIN_OPSET} and could not be "
                         f"upgraded ({e}); re-export the model with opset ≥ {MIN_OPSET}") from None


def _attr_value(attr, what: str) -> Any:
    from onnx import helper

    v = helper.get_attribute_value(attr)
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if hasattr(v, "dims") and hasattr(v, "data_type"):
        return checks.tensor_array(v, f"{what}, attribute '{attr.name}'")
    if isinstance(v, list):
        return [x.decode("utf-8", "replace") if isinstance(x, bytes) else x for x in v]
    return v


def _constant_node_value(node, attrs) -> np.ndarray:
    for key, conv in (("value", np.asarray), ("value_float", lambda v: np.array(v, np.float32)),
                      ("value_floats", lambda v: np.array(v, np.float32)),
                      ("value_int", lambda v: np.array(v, np.int64)),
                      ("value_ints", lambda v: np.array(v, np.int64))):
        if key in attrs:
            return conv(attrs[key])
    raise ModelError(str(Problem(node.name, "Constant", f"unsupported Constant form {sorted(attrs)}")))


def _dims(vi) -> list[int | str | None]:
    t = vi.type.tensor_type
    if not t.HasField("shape"):
        return []
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in t.shape.dim]


def import_onnx(model, input_shapes: Mapping[str, tuple[int, ...]] | None = None) -> Graph:
    """Import an ONNX model (path, bytes or ModelProto) into the IR.

    ``input_shapes`` overrides or resolves input shapes (without the batch dimension pinned, give
    the full shape). Raises :class:`UnsupportedModelError` listing every unsupported node.
    """
    where = os.fspath(model) if isinstance(model, (str, os.PathLike)) else "model"
    proto = load_onnx(model)
    sha = hashlib.sha256(proto.SerializeToString()).hexdigest()
    src_opset = _opset(proto)
    checks.check_opset(src_opset, where)
    nodes = checks.check_graph(proto, where)
    if src_opset < MIN_OPSET:
        proto = _upgrade(proto, where)
    g = Graph(name=proto.graph.name or "model", opset=_opset(proto))
    g.meta = {"source": where, "producer": f"{proto.producer_name} {proto.producer_version}".strip(),
              "source_opset": src_opset, "sha256": sha}

    for t in proto.graph.initializer:
        g.initializers[t.name] = checks.initializer_array(t, where)
    _import_inputs(g, proto, input_shapes or {}, where)

    problems: list[Problem] = []
    unknown: set[str] = set()
    fallback = _onnx_inferred(proto, g)
    seen_names: set[str] = set()
    pending = nodes if src_opset >= MIN_OPSET else checks.check_graph(proto, where)  # (upgraded: new protos)
    graph_outputs = {vo.name for vo in proto.graph.output}
    for i, pn in enumerate(pending):
        name = pn.name or f"{pn.op_type}_{i}"
        while name in seen_names:
            name = f"{name}_{i}"
        seen_names.add(name)
        form = checks.node_form_problems(pn, g.opset)
        attrs = {} if form else {a.name: _attr_value(a, f"{where}: node '{name}' ({pn.op_type})")
                                 for a in pn.attribute}
        if pn.op_type == "Constant" and pn.domain in ("", "ai.onnx") and not form:
            if len(pn.output) != 1 or not pn.output[0]:
                raise ModelError(str(Problem(name, "Constant", "must have exactly one named output")))
            g.initializers[pn.output[0]] = _constant_node_value(pn, attrs)
            continue
        node = Node(name, pn.op_type, list(pn.input), list(pn.output), attrs, pn.domain)
        _add_node(g, node, problems, unknown, fallback, graph_outputs, form)
    if problems:
        raise UnsupportedModelError(problems, where)

    outs = []
    for vo in proto.graph.output:
        if vo.name in g.initializers:
            raise ModelError(f"{where}: graph output '{vo.name}' is a constant; nothing to compute")
        if vo.name not in g.tensors:
            raise ModelError(f"{where}: graph output '{vo.name}' is produced by no node")
        outs.append(g.tensors[vo.name])
    g.outputs = outs
    absorb_quantisers(g, where)  # QDQ / QONNX models: their parameters into g.meta, quantisers out
    _batch_generic_reshapes(g)
    g.prune()
    return g


def _import_inputs(g: Graph, proto, input_shapes, where: str) -> None:
    from onnx import helper

    if not isinstance(input_shapes, Mapping):
        raise ShapeError(f"{where}: input_shapes must map input names to shapes, got {type(input_shapes).__name__}")
    unknown = set(input_shapes) - {v.name for v in proto.graph.input}
    if unknown:
        raise ShapeError(f"{where}: input_shapes names unknown input(s) {sorted(unknown)}; "
                         f"inputs are {[v.name for v in proto.graph.input if v.name not in g.initializers]}")
    for vi in proto.graph.input:
        if vi.name in g.initializers:  # old exporters list initializers as inputs too
            continue
        elem = vi.type.tensor_type.elem_type
        if not elem:
            raise ModelError(f"{where}: input '{vi.name}' is not a tensor")
        checks.check_tensor_type(elem, f"{where}: input '{vi.name}'")
        dtype = np.dtype(helper.tensor_dtype_to_np_dtype(elem))
        if vi.name in input_shapes:
            shape = _given_shape(vi.name, input_shapes[vi.name], where)
            _check_given_shape(vi.name, shape, _dims(vi), where)
            dims = _dims(vi)
            if dims and not (isinstance(dims[0], int) and dims[0] > 0):
                g.batch_symbol = str(dims[0] or "N")  # still symbolic in the model, whatever was given
        else:
            dims = _dims(vi)
            if not vi.type.tensor_type.HasField("shape"):  # (a shape without dims is a scalar)
                raise ShapeError(f"{where}: input '{vi.name}' has no shape; pass input_shapes={{'{vi.name}': (...)}}")
            if dims and (not isinstance(dims[0], int) or dims[0] <= 0):
                g.batch_symbol = str(dims[0] or "N")
                dims[0] = 1
            empty = [j for j, d in enumerate(dims) if d == 0]
            if empty:
                raise UnsupportedModelError([Problem(vi.name, "graph input", f"dimension 0 at axis {empty}: "
                                                     "an empty tensor has nothing to compute")], where)
            bad = [j for j, d in enumerate(dims) if not isinstance(d, int) or d <= 0]
            if bad:
                raise ShapeError(f"{where}: input '{vi.name}' has dynamic dimension(s) {[dims[j] for j in bad]} "
                                 f"at axis {bad} that cannot be resolved; pass input_shapes="
                                 f"{{'{vi.name}': (...)}} (CLI: --input-shape {vi.name}=1,...)")
            shape = tuple(dims)
        checks.check_elements(shape, f"{where}: input '{vi.name}'")
        info = TensorInfo(vi.name, shape, dtype)
        g.inputs.append(info)
        g.tensors[vi.name] = info


def _given_shape(name: str, given, where: str) -> tuple[int, ...]:
    """A shape from ``input_shapes``: a sequence of integers (numpy integers too), nothing else."""
    try:
        dims = list(given)
        if all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) for d in dims):
            return tuple(int(d) for d in dims)
    except TypeError:  # not iterable
        pass
    raise ShapeError(f"{where}: input_shapes gives input '{name}' the shape {given!r}; give a tuple of "
                     f"integers such as (1, 3, 32, 32)")


def _check_given_shape(name: str, shape: tuple[int, ...], dims: list, where: str) -> None:
    """A shape from ``input_shapes`` must fit what the model declares (rank, fixed dimensions)."""
    if any(d < 1 for d in shape):
        raise ShapeError(f"{where}: input_shapes gives input '{name}' the shape {shape}; "
                         f"every dimension must be at least 1")
    if not dims:
        return
    shown = [d if d is not None else "?" for d in dims]
    if len(dims) != len(shape):
        raise ShapeError(f"{where}: input_shapes gives input '{name}' the shape {shape} (rank {len(shape)}) "
                         f"but the model declares {shown} (rank {len(dims)})")
    fixed = [j for j in range(1, len(dims)) if isinstance(dims[j], int) and dims[j] > 0 and dims[j] != shape[j]]
    if fixed:
        raise ShapeError(f"{where}: input_shapes gives input '{name}' the shape {shape} but the model fixes "
                         f"axis {fixed} to {[dims[j] for j in fixed]} (declared {shown})")


def _onnx_inferred(proto, g: Graph) -> dict[str, TensorInfo]:
    """onnx's own shape inference with the inputs pinned: a fallback that lets the walk go on past
    a node we reject, so the nodes after it are checked too."""
    import onnx
    from onnx import helper, shape_inference

    p = onnx.ModelProto()
    p.CopyFrom(proto)
    pinned = {t.name: t.shape for t in g.inputs}
    for vi in p.graph.input:
        if vi.name in pinned:
            dims = vi.type.tensor_type.shape.dim
            for d, v in zip(dims, pinned[vi.name]):
                d.Clear()
                d.dim_value = v
    try:
        p = shape_inference.infer_shapes(p, data_prop=True)
    except Exception:
        return {}
    out = {}
    for vi in list(p.graph.value_info) + list(p.graph.output):
        dims = _dims(vi)
        elem = vi.type.tensor_type.elem_type
        if dims and elem and all(isinstance(d, int) and d > 0 for d in dims):
            out[vi.name] = TensorInfo(vi.name, tuple(dims), helper.tensor_dtype_to_np_dtype(elem))
    return out


def _add_node(g: Graph, node: Node, problems: list[Problem], unknown: set[str],
              fallback: dict[str, TensorInfo], graph_outputs: set[str] = frozenset(),
              form: list[str] = ()) -> None:
    """Check, shape and (when constant) fold one node; record problems instead of raising.

    A node we cannot take leaves its outputs in ``unknown`` (or shaped by ``fallback``) so the
    walk continues and every problem in the model is found in one pass. ``form`` lists what the
    node's ONNX schema forbids in it (see :func:`model_checks.node_form_problems`).
    """
    op = lookup(node.op_type, node.domain)

    def reject(reason: str | None) -> None:
        if reason:
            problems.append(Problem(node.name, node.op_type, reason))
        for out in node.outputs:
            if out in fallback:
                g.tensors[out] = fallback[out]
            else:
                unknown.add(out)

    if op is None:
        dom = f" in domain '{node.domain}'" if node.domain not in ("", "ai.onnx") else ""
        return reject(f"op is not supported{dom}")
    if form:
        problems.extend(Problem(node.name, node.op_type, r) for r in form)
        return reject(None)
    if any(i in unknown for i in node.inputs):
        return reject(None)  # its input comes from a rejected node; already reported there
    missing = [i for i in node.inputs if i and i not in g.tensors and i not in g.initializers]
    if missing:
        return reject(f"input(s) {missing} are defined nowhere (missing initializer or graph input?)")
    try:
        op.upgrade(node, g.opset)
        node.attrs = {**op.attrs, **node.attrs}
        reasons = op.check(node, g)
        if reasons:
            problems.extend(Problem(node.name, node.op_type, r) for r in reasons)
            return reject(None)
        infos = op.infer(node, g)  # shapes first: sizes are bounded before a constant is computed
        for out, (shape, _) in zip(node.outputs, infos):
            op.bounded(node, shape)
        # a graph output stays computed by its node: Shape of an input must follow the batch
        value = None if graph_outputs & set(node.outputs) else op.const_value(node, g)
        if value is not None:
            for out, v in zip(node.outputs, value):
                if out:
                    g.initializers[out] = np.asarray(v)
            return
    except ModelError as e:
        return reject(str(e).split("): ", 1)[-1])
    except MemoryError:
        return reject("its output does not fit in memory")
    except Exception as e:  # an op rule meeting a form it never expected: report, do not crash
        return reject(f"malformed node: its inputs or attributes do not fit the op ({type(e).__name__}: {e})")
    g.nodes.append(node)
    for out, (shape, dtype) in zip(node.outputs, infos):
        if out:
            g.tensors[out] = TensorInfo(out, shape, dtype)


def _batch_generic_reshapes(g: Graph) -> None:
    """A Reshape to a constant shape whose leading 1 is the batch reads ``0`` (copy) instead,
    so the graph, built for batch 1, runs on any batch."""
    for n in g.nodes:
        if n.op_type != "Reshape":
            continue
        shape = g.const(n.inputs[1])
        if shape is not None and shape.size and shape[0] == 1 and g.shape(n.inputs[0])[0] == 1:
            new = shape.copy()
            new[0] = 0
            n.inputs[1] = g.add_const(n.inputs[1] + "_batch", new)
