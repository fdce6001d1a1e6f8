"""The package's import graph read from its source (ast), imports inside functions included; the
layer lists the import tests share."""
from __future__ import annotations

import ast
from pathlib import Path

import fpga_accel

PACKAGE = Path(fpga_accel.__file__).parent

#: module names (and their submodules) the runtime never needs: a Session must not load them and
#: no module of the runtime's layer names them
NOT_NEEDED = ("fpga_accel.compiler", "fpga_accel.codegen", "fpga_accel.fold", "fpga_accel.flow", "fpga_accel.frontend",
              "fpga_accel.passes", "fpga_accel.analysis", "fpga_accel.cli", "onnx", "onnxruntime", "rich")
#: the runtime's layer: what a Session may execute (the ops and quant it runs are below it)
RUNTIME_LAYER = ("runtime", "emulator", "bundle.py", "bundle_*.py", "toolchain.py", "cache.py", "procs.py",
                 "safe_fs.py", "errors.py", "arrays.py")


def module_name(path: Path) -> str:
    """``fpga_accel.ir.graph`` for ``.../fpga_accel/ir/graph.py`` (a package for its ``__init__.py``)."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(name: str) -> bool:
    rel = Path(*name.split(".")[1:]) if name.startswith("fpga_accel.") else None
    return rel is not None and ((PACKAGE / rel).with_suffix(".py").is_file() or (PACKAGE / rel / "__init__.py").is_file())


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import statement in ``path``, functions included.

    ``from .. import ops`` and ``from ..emulator import fastconv`` give the submodule
    (``fpga_accel.ops``, ``fpga_accel.emulator.fastconv``); ``from ..ops import lookup`` gives the
    module the name comes from (``fpga_accel.ops``)."""
    package = ".".join(path.relative_to(PACKAGE.parent).parts[:-1])  # "." of an __init__.py is its folder
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[:len(package.split(".")) - node.level + 1] if node.level else []
            mod = ".".join([*base, node.module] if node.module else base)
            for a in node.names:
                sub = f"{mod}.{a.name}"
                found.append((node.lineno, sub if _is_module(sub) or not node.module else mod))
    return found


def files(*patterns: str) -> list[Path]:
    """The package's .py files under the folders or matching the file patterns given."""
    return sorted({p for pattern in patterns for p in
                   (PACKAGE.glob(pattern) if pattern.endswith(".py") else (PACKAGE / pattern).rglob("*.py"))})


def within(name: str, prefixes) -> bool:
    """Whether module ``name`` is one of ``prefixes`` or inside one of them."""
    return any(name == p or name.startswith(p + ".") for p in prefixes)
