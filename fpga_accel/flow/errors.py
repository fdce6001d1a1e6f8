"""Errors of the build flow. Each names the step, the tool or file, and what to do next.

The CLI maps them to exit codes: :class:`ToolNotFoundError` → 3, :class:`ToolFailedError` → 4,
anything else (:class:`BuildError`, :class:`BitstreamMismatchError`) → 2.
"""
from __future__ import annotations

from ..bundle_bitstream import BitstreamMismatchError  # raised by the runtime's check too
from ..errors import FpgaAccelError

__all__ = ["EXIT_TOOL_FAILED", "EXIT_TOOL_MISSING", "BitstreamMismatchError", "BuildError", "ToolFailedError",
           "ToolNotFoundError"]

EXIT_TOOL_MISSING = 3
EXIT_TOOL_FAILED = 4


class BuildError(FpgaAccelError):
    """The build cannot go on: bad step names, a board without the data the flow needs, a missing
    output of an earlier step."""


class ToolNotFoundError(BuildError):
    """A vendor tool the selected steps need is not installed or not on PATH."""

    exit_code = EXIT_TOOL_MISSING

    def __init__(self, tool: str, step: str, how: str, commands: list[str]):
        self.tool, self.step, self.commands = tool, step, list(commands)
        lines = [f"step '{step}' needs '{tool}', which is not on PATH.", f"How to get it: {how}",
                 ("Once it is installed, run `fpga-accel build` again, or run the steps by hand from the bundle "
                 "directory:")]
        lines += [f"  {c}" for c in self.commands]
        super().__init__("\n".join(lines))


class ToolFailedError(BuildError):
    """A vendor tool ran and exited with a failure status (or did not produce its outputs)."""

    exit_code = EXIT_TOOL_FAILED

    def __init__(self, step: str, command: str, log: str, tail: str, status: int | None, why: str = ""):
        self.step, self.command, self.log, self.tail, self.status = step, command, log, tail, status
        what = why or (f"exited with status {status}" if status is not None else "failed")
        super().__init__(f"step '{step}' failed: {what}\n  command: {command}\n  log: {log}\n"
                         f"--- last lines of the log ---\n{tail}\n--- end of log ---\n"
                         f"Fix the cause and run `fpga-accel build` again; finished steps are not rerun.")
