"""The ONNX backend node tests, for every op we register: import + float reference == stored outputs.

The cases come with the onnx package: ``onnx/backend/test/data/node/test_*`` when the wheel ships
the data files, else the same cases generated in memory by ``onnx.backend.test.loader`` (onnx ≥ 1.20
ships the generators only). A case counts when its model is one node of a registered op.

Node tests feed weights, parameters and shapes as graph inputs, where a compiled model has constants.
When the importer refuses a case, it is tried again with every input after the first turned into an
initializer holding the stored value, then with all of them (the node computes the same thing); a
case refused every way is skipped with the importer's reasons, so ``pytest -rs`` lists every
excluded case and why.
"""
from __future__ import annotations

import functools
import os
import warnings

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from fpga_accel.errors import UnsupportedModelError
from fpga_accel.frontend import import_onnx
from fpga_accel.ir import run_graph, verify
from fpga_accel.ops import all_ops, lookup

NODE_DATA = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "node")
RTOL = 1e-5  # of max|reference|, for float outputs; other types must be equal

FROM_FILES = os.path.isdir(NODE_DATA)

# Cases whose stored data is wrong or that do not apply to an inference compiler. Keep it short.
EXCLUDED: dict[str, str] = {
    "test_identity_sequence": "a sequence input; the IR holds tensors only",
    "test_identity_opt": "an optional input; the IR holds tensors only",
}
if FROM_FILES:  # the generators of onnx 1.23 give the saturated result, which onnxruntime agrees with
    EXCLUDED.update({f"test_qlinearmatmul_{d}_int8_{t}": "the data file stores a wrapped instead of a saturated "
                     "int8 result (onnx/onnx#6169)" for d in ("2D", "3D") for t in ("float16", "float32")})
# Cases whose stored output is written by hand with few digits: absolute tolerance, and why.
ATOL: dict[str, tuple[float, str]] = {
    "test_averagepool_2d_ceil_last_window_starts_on_pad": (1e-4, "reference given to 4 decimals"),
}


def _array(t) -> np.ndarray:
    return numpy_helper.to_array(t) if isinstance(t, onnx.TensorProto) else np.asarray(t)


def _tensors(folder: str, kind: str) -> list[onnx.TensorProto]:
    """``kind``_0.pb, ``kind``_1.pb, ... of one data set folder, in index order."""
    files = sorted((f for f in os.listdir(folder) if f.startswith(kind + "_")), key=lambda f: int(f[len(kind) + 1:-3]))
    return [onnx.load_tensor(os.path.join(folder, f)) for f in files]


def _from_disk() -> list[tuple[str, onnx.ModelProto, list]]:
    cases = []
    for name in sorted(os.listdir(NODE_DATA)):
        path = os.path.join(NODE_DATA, name)
        if not os.path.isfile(os.path.join(path, "model.onnx")):
            continue
        sets = [(_tensors(os.path.join(path, ds), "input"), _tensors(os.path.join(path, ds), "output"))
                for ds in sorted(d for d in os.listdir(path) if d.startswith("test_data_set_"))]
        cases.append((name, onnx.load(os.path.join(path, "model.onnx")), sets))
    return cases


def _generated() -> list[tuple[str, onnx.ModelProto, list]]:
    from onnx.backend.test.loader import load_model_tests

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")  # the generators divide by zero on purpose (inf cases)
        return [(c.name, c.model, list(c.data_sets)) for c in load_model_tests(kind="node")]


def _registered(model: onnx.ModelProto) -> bool:
    nodes = model.graph.node
    return len(nodes) == 1 and lookup(nodes[0].op_type, nodes[0].domain) is not None


def _collect():
    all_cases = _from_disk() if FROM_FILES else _generated()
    return sorted((c for c in all_cases if _registered(c[1])), key=lambda c: c[0])


CASES = _collect()


def _op_type(model) -> str:
    return model.graph.node[0].op_type


def _feeds_and_refs(model, data_set):
    inputs, outputs = data_set
    names = [vi.name for vi in model.graph.input if vi.name not in {t.name for t in model.graph.initializer}]
    return ({n: _array(x) for n, x in zip(names, inputs)},
            {vo.name: _array(y) for vo, y in zip(model.graph.output, outputs)})


def _with_constant_inputs(model, feeds, keep: int):
    """The model with every graph input after the first ``keep`` made an initializer holding its
    fed value."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    moved = [vi.name for vi in m.graph.input][keep:]
    del m.graph.input[keep:]
    m.graph.initializer.extend(numpy_helper.from_array(feeds[n], n) for n in moved)
    return m


@functools.cache
def _imported(index: int):
    """The IR of case ``index``, or the importer's error.

    Tried as stored, then with the inputs after the first constant, then with all inputs
    constant (shape-computing ops such as Range or ConstantOfShape need that). Constants take
    the first data set's values."""
    _, model, sets = CASES[index]
    feeds, _ = _feeds_and_refs(model, sets[0])
    n_in = len(model.graph.input)
    error = None
    for keep in sorted({n_in, min(1, n_in), 0}, reverse=True):
        try:
            return import_onnx(_with_constant_inputs(model, feeds, keep) if keep < n_in else model)
        except UnsupportedModelError as e:
            error = e
    return error


def assert_matches(got: np.ndarray, want: np.ndarray, what: str, atol: float = 0.0) -> None:
    """Equal for non-float types; floats within RTOL x max|want| (or ``atol``, or the format's
    resolution, when larger), with NaN and inf at the same places."""
    got = np.asarray(got)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype} != {want.dtype}"
    if want.dtype.kind not in "fc":
        np.testing.assert_array_equal(got, want, err_msg=what)
        return
    assert np.array_equal(np.isnan(got), np.isnan(want)), f"{what}: NaN at other positions"
    finite = np.isfinite(want)
    assert np.array_equal(got[~finite & ~np.isnan(want)], want[~finite & ~np.isnan(want)]), f"{what}: inf differs"
    if not finite.any():
        return
    g, w = got[finite].astype(np.float64), want[finite].astype(np.float64)
    scale = max(float(np.max(np.abs(w))), 1e-30)
    tol = max(max(RTOL, float(np.finfo(want.dtype).eps)) * scale, atol)
    err = float(np.max(np.abs(g - w)))
    assert err <= tol, f"{what}: max abs error {err:g} > {tol:g} (max|ref| {scale:g})"


@pytest.mark.parametrize("index", range(len(CASES)), ids=[c[0] for c in CASES])
def test_node_case(index):
    name, model, sets = CASES[index]
    if name in EXCLUDED:
        pytest.skip(f"{name}: excluded, {EXCLUDED[name]}")
    imported = _imported(index)
    if isinstance(imported, UnsupportedModelError):
        pytest.skip(f"{name}: " + "; ".join(str(p) for p in imported.problems))
    g = imported
    verify(g)
    for out, want in _feeds_and_refs(model, sets[0])[1].items():  # the shape rules, at the stored batch
        t = g.info(out)
        assert (t.shape, t.dtype) == (want.shape, want.dtype), f"{name}: '{out}' inferred as {t}"
    for k, data_set in enumerate(sets):
        feeds, refs = _feeds_and_refs(model, data_set)
        for n in set(feeds) - set(g.input_names):  # made constants from the first data set
            if g.const(n) is not None and not np.array_equal(g.const(n), feeds[n]):
                pytest.skip(f"{name}: data set {k} changes input '{n}', which the importer needs constant")
        feeds = {n: feeds[n] for n in g.input_names}
        got = run_graph(g, feeds)
        for out, want in refs.items():
            atol, why = ATOL.get(name, (0.0, ""))
            assert_matches(got[out], want, f"{name} data set {k}, output '{out}' {why}".strip(), atol)


# Registered ops that run no node test although upstream has cases for them, and why.
NOT_RUN: dict[str, str] = {}


def test_every_op_with_upstream_cases_runs_some():
    """A registered op whose upstream node tests are all skipped or excluded needs a stated reason
    in NOT_RUN; ops that have no upstream single-node case at all need none."""
    ran: dict[str, int] = {}
    upstream: dict[str, int] = {}
    for i, (name, model, _) in enumerate(CASES):
        op = _op_type(model)
        upstream[op] = upstream.get(op, 0) + 1
        if name not in EXCLUDED and not isinstance(_imported(i), UnsupportedModelError):
            ran[op] = ran.get(op, 0) + 1
    registered = {op.op_type for op in all_ops()}
    unexplained = sorted(op for op in registered if upstream.get(op) and not ran.get(op) and op not in NOT_RUN)
    stale = sorted(op for op in NOT_RUN if ran.get(op))
    assert not unexplained, f"ops with upstream node tests of which none runs: {unexplained}"
    assert not stale, f"NOT_RUN lists ops that do run node tests now: {stale}"
