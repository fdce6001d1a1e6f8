"""The import layers of docs/architecture.md ("Import layers"), read from the source: every import
statement, inside functions included. A new edge a layer's rule does not allow fails here; the
edges that remain are listed in ALLOWED with the reason, and an entry that no longer occurs fails
too, so the list stays the truth."""
from __future__ import annotations

import importlib

import pytest
from import_util import NOT_NEEDED, PACKAGE, RUNTIME_LAYER, files, imports, module_name, within

#: what each layer may import of the package (itself included), by module prefix
RULES = {
    # the IR: graph, tensors, quantisation parameters, the op registry; nothing above it
    "ir": ("fpga_accel.ir", "fpga_accel.errors"),
    # the importer builds IR and looks ops up through ir's registry
    "frontend": ("fpga_accel.frontend", "fpga_accel.ir", "fpga_accel.errors", "fpga_accel.safe_fs"),
    # an op lowers into processing elements with the integer rules of quant and the emulator's
    # array kernels (which import no op); never codegen, fold, passes or the executor
    "ops": ("fpga_accel.ops", "fpga_accel.ir", "fpga_accel.errors", "fpga_accel.pe", "fpga_accel.quant",
            "fpga_accel.emulator.windows", "fpga_accel.emulator.fastint", "fpga_accel.emulator.fastconv"),
}

#: (file, module it imports) -> why the edge stays although its layer's rule does not allow it
ALLOWED = {
    # The frontend's entry point fills the op registry its modules look ops up in (ir/registry.py):
    # ops register by declaration when their package is imported, and someone above ir must do that.
    ("frontend/__init__.py", "fpga_accel.ops"):
        "importing the ops fills the registry the importer looks ops up in",
    # The QONNX Quant op defines how its bit width input is read and which integers each
    # signed/narrow setting allows; its float reference and the importer share that one definition.
    ("frontend/qonnx.py", "fpga_accel.ops.quant"):
        "the Quant op's bit width and integer range, one definition for the op and the importer",
    # exact_outputs finds a layer's given integer weights by value after folding (match_weights)
    # and sizes the type of its exact sum (weight_qtype): arithmetic, which stays in quant/; the
    # records it reads and writes are ir types.
    ("frontend/qonnx.py", "fpga_accel.quant.given"):
        "matching given weights to their integers and sizing an exact sum is quant arithmetic",
}


def _edges() -> dict[str, set[str]]:
    """module -> package modules it imports (anywhere in the file)."""
    return {module_name(f): {name for _, name in imports(f) if within(name, ("fpga_accel",))} for f in files("")}


def _violations(layer: str) -> set[tuple[str, str]]:
    return {(str(f.relative_to(PACKAGE)), name) for f in files(layer) for _, name in imports(f)
            if within(name, ("fpga_accel",)) and not within(name, RULES[layer])}


@pytest.mark.parametrize("layer", sorted(RULES))
def test_a_layer_imports_only_what_its_rule_allows(layer):
    assert len(files(layer)) >= 5
    found = _violations(layer)
    allowed = {edge for edge in ALLOWED if edge[0].startswith(layer + "/")}
    assert sorted(found - allowed) == [], "new upward edge(s): import through a lower layer, or justify in ALLOWED"
    assert sorted(allowed - found) == [], "ALLOWED lists edges that no longer occur: remove them"


def _closure(start: str, edges: dict[str, set[str]]) -> set[str]:
    """Every package module importing ``start`` runs: its imports, their parent packages, and on."""
    seen, todo = set(), [start]
    while todo:
        m = todo.pop()
        parts = m.split(".")
        for k in range(2, len(parts) + 1):
            p = ".".join(parts[:k])
            if p not in seen:
                seen.add(p)
                todo += sorted(edges.get(p, ()))
    return seen


def test_nothing_the_ops_import_imports_the_ops_back():
    """ops → pe, quant, emulator kernels is one way: no module an op file imports (or what that
    imports, in functions too) reaches fpga_accel.ops again, so there is no cycle to dodge."""
    edges = _edges()
    below = sorted({t for m, ts in edges.items() if within(m, ("fpga_accel.ops",))
                    for t in ts if not within(t, ("fpga_accel.ops",))})
    assert any(within(t, ("fpga_accel.pe",)) for t in below) and "fpga_accel.quant.qmodel" in below
    back = {t: sorted(m for m in _closure(t, edges) if within(m, ("fpga_accel.ops",))) for t in below}
    assert {t: ms for t, ms in back.items() if ms} == {}


def test_ir_reaches_no_module_above_it():
    """Importing any ir module runs ir and errors only (functions included)."""
    edges = _edges()
    for f in files("ir"):
        reached = _closure(module_name(f), edges) - {"fpga_accel"}
        assert sorted(m for m in reached if not within(m, RULES["ir"])) == [], f


def test_the_runtime_layer_names_no_compiler_module():
    """No runtime, emulator or bundle module imports the compiler, codegen, folding, the build
    flow, the frontend, the passes, onnx or onnxruntime, even inside a function."""
    found = files(*RUNTIME_LAYER)
    assert len(found) > 20 and PACKAGE / "runtime" / "session.py" in found
    upward = [f"{f.relative_to(PACKAGE)}:{line} imports {name}" for f in found for line, name in imports(f)
              if within(name, [n for n in NOT_NEEDED if n != "rich"])]
    assert upward == []


def test_a_lookup_before_the_ops_are_imported_says_so(monkeypatch):
    """The registry in ir/ is filled by importing fpga_accel.ops; before that a lookup is an error
    naming the missing import, never an empty answer."""
    registry = importlib.import_module("fpga_accel.ir.registry")
    monkeypatch.setattr(registry, "_complete", False)
    with pytest.raises(registry.RegistryNotLoaded, match="import fpga_accel.ops"):
        registry.lookup("Relu")
    monkeypatch.setattr(registry, "_complete", True)
    importlib.import_module("fpga_accel.ops")
    assert registry.lookup("Relu").op_type == "Relu"
