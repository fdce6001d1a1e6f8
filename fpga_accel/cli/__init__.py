"""The ``fpga-accel`` command.

Each subcommand is one module in this package defining ``add_arguments(parser)`` and
``run(args) -> int``; the first line of its docstring is its help. Modules are found by name,
so a new command is a new file. Only the chosen command's module is imported (the list of
commands and their help is read from the modules' source), so ``fpga-accel run`` loads nothing
of the compiler. This is the only place that turns exceptions into exit codes:

- 0 success; 2 an :class:`~fpga_accel.errors.FpgaAccelError` (bad model, input or usage);
- 70 an unexpected exception (a bug), 130 interrupted (Ctrl-C), 143 terminated (SIGTERM).

SIGTERM is turned into an exception like Ctrl-C, so a command cleans up (kills the tools it
started, removes partial files) before it exits.
"""
from __future__ import annotations

import argparse
import ast
import importlib
import pkgutil
import signal
import sys
import threading
import traceback
import warnings

from .. import __version__
from ..errors import FpgaAccelError
from ..escape import terminal

EXIT_OK, EXIT_ERROR, EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_TERMINATED = 0, 2, 70, 130, 143

# packages some commands need that are not base dependencies, and the extra that installs them
_EXTRAS = {"onnx": "compile", "onnxruntime": "compile", "hls4ml": "compile",
           "rich": "compile", "tqdm": "compile", "pyopencl": "opencl", "pynq": "pynq",
           "ray": "ray", "pyarrow": "ray"}


def _commands() -> list[tuple[str, str]]:
    """(module name, docstring) of every command, in help order (``ORDER``, then name), read
    from the modules' source without importing them."""
    found = []
    for m in pkgutil.iter_modules(__path__):
        if m.name.startswith("_"):
            continue
        order, doc = _declared(m)
        found.append((order, m.name, doc))
    return [(name, doc) for _, name, doc in sorted(found)]


def _declared(info: pkgutil.ModuleInfo) -> tuple[int, str]:
    """A command module's ``ORDER`` (default 50) and docstring, from its source; from the module
    itself where there is no source (a build without .py files)."""
    spec = info.module_finder.find_spec(info.name)
    origin = getattr(spec, "origin", None) or ""
    if not origin.endswith(".py"):
        mod = importlib.import_module(f"{__name__}.{info.name}")
        return getattr(mod, "ORDER", 50), mod.__doc__ or ""
    with open(origin, encoding="utf-8") as f:
        tree = ast.parse(f.read(), origin)
    order = next((node.value.value for node in tree.body if isinstance(node, ast.Assign)
                  and isinstance(node.value, ast.Constant) and isinstance(node.value.value, int)
                  and any(isinstance(t, ast.Name) and t.id == "ORDER" for t in node.targets)), 50)
    return order, ast.get_docstring(tree, clean=False) or ""


def _chosen(argv: list[str]) -> str | None:
    """The command named on the command line: the first word that is not an option (the
    options before a command take no value)."""
    return next((a for a in argv if not a.startswith("-")), None)


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The ``fpga-accel`` parser: every command listed with its help, and the arguments of the
    command ``argv`` names (only that command's module is imported)."""
    parser = argparse.ArgumentParser(
        prog="fpga-accel",
        description="Turn trained ONNX networks into FPGA inference accelerators.")
    parser.add_argument("--version", action="version", version=f"fpga-accel {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the traceback of errors")
    # accepted after the subcommand too; SUPPRESS keeps a flag given before it
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show the traceback of errors")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    chosen = _chosen(sys.argv[1:] if argv is None else argv)
    for module, doc in _commands():
        name = module.replace("_", "-")
        doc = doc.strip()
        p = sub.add_parser(name, parents=[common], help=doc.splitlines()[0].rstrip(".") if doc else None,
                           description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
        if name == chosen:
            mod = importlib.import_module(f"{__name__}.{module}")
            mod.add_arguments(p)
            p.set_defaults(_run=mod.run)
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived: unwinds like Ctrl-C, so ``finally`` blocks and cleanup handlers run."""


def _on_sigterm(signum, frame):
    raise Terminated()


def main(argv: list[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``) and return the exit code."""
    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        return _main(argv)
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return _main(argv)
    finally:
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


def _format_warning(message, category, filename, lineno, line=None) -> str:
    """Python's warning text, its message shown safely: it may quote model names."""
    return _python_format_warning(terminal(str(message), keep_newlines=True), category, filename, lineno, line)


_python_format_warning = warnings.formatwarning


def _main(argv: list[str] | None) -> int:
    warnings.formatwarning = _format_warning
    try:
        return _run(argv)
    finally:
        warnings.formatwarning = _python_format_warning


def _run(argv: list[str] | None) -> int:
    parser = build_parser(argv)
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help, --version, or a usage error argparse already printed
        return e.code if isinstance(e.code, int) else EXIT_ERROR
    if not hasattr(args, "_run"):
        parser.print_help(sys.stderr)
        return EXIT_ERROR
    try:
        return int(args._run(args) or EXIT_OK)
    except FpgaAccelError as e:
        if args.debug:
            traceback.print_exc()
        print(f"error: {terminal(str(e), keep_newlines=True)}", file=sys.stderr)
        return EXIT_ERROR
    except Terminated:
        print("terminated", file=sys.stderr)
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. `fpga-accel ops | head`: the reader left, nothing is wrong
        sys.stdout = None  # stop the interpreter from flushing into the closed pipe at exit
        return EXIT_OK
    except ModuleNotFoundError as e:
        top = (e.name or "").split(".")[0]
        if top not in _EXTRAS:
            return _internal_error(e, args.debug)
        if args.debug:
            traceback.print_exc()
        print(f"error: this command needs the Python package '{top}', which is not installed; "
              f"install it with: pip install 'fpga-accel[{_EXTRAS[top]}]'", file=sys.stderr)
        return EXIT_ERROR
    except Exception as e:
        return _internal_error(e, args.debug)


def _internal_error(e: BaseException, debug: bool) -> int:
    if debug:
        traceback.print_exc()
        hint = "The traceback is above."
    else:
        hint = "Run the same command with --debug to see the traceback."
    print(f"internal error: {type(e).__name__}: {terminal(str(e), keep_newlines=True)}. This is a bug in fpga-accel, not a problem with "
          f"your model or command line. {hint} Please report it with the command and the traceback.",
          file=sys.stderr)
    return EXIT_INTERNAL
