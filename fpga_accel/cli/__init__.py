"""The ``fpga-accel`` command.

Each subcommand is one module in this package defining ``add_arguments(parser)`` and
``run(args) -> int``; the first line of its docstring is its help. Modules are found by name,
so a new command is a new file. This is the only place that turns exceptions into exit codes:

- 0 success; 2 an :class:`~fpga_accel.errors.FpgaAccelError` (bad model, input or usage);
- 70 an unexpected exception (a bug), 130 interrupted (Ctrl-C), 143 terminated (SIGTERM).

SIGTERM is turned into an exception like Ctrl-C, so a command cleans up (kills the tools it
started, removes partial files) before it exits.
"""
from __future__ import annotations

import argparse
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


def _commands() -> list:
    mods = [importlib.import_module(f"{__name__}.{m.name}")
            for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")]
    return sorted(mods, key=lambda m: (getattr(m, "ORDER", 50), m.__name__))


def build_parser() -> argparse.ArgumentParser:
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
    for mod in _commands():
        name = mod.__name__.rsplit(".", 1)[-1].replace("_", "-")
        doc = (mod.__doc__ or "").strip()
        p = sub.add_parser(name, parents=[common], help=doc.splitlines()[0].rstrip(".") if doc else None,
                           description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
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
    parser = build_parser()
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
