"""From a bundle to a bitstream: build scripts, the step runner, report parsing, the registry.

- :func:`generate_scripts` is a compile generator: it writes ``scripts/`` (Vivado Tcl for Zynq
  boards, v++ link configuration for Vitis platforms, the AFI script for aws-f1, ``build.sh``).
- :func:`build` runs the steps (``hls``, then ``vivado`` or ``link`` [, ``afi``]) with the vendor
  tools, resumable, logged under ``NAME.fpga/build/``, and leaves ``NAME.fpga/bitstream/``.
- :func:`check_bitstream` refuses a bitstream not built from the bundle it sits in.
- A bundle compiled for the tiled engine gets its own ``hls/`` and ``scripts/``
  (:mod:`.tiled_scripts`, :mod:`.tiled_aws` for aws-f1 and aws-f2): the engine for the board and
  engine configuration, built by the same steps; any model compiled for that configuration runs on
  the result.

No vendor tool is imported or run at import time; `fpga-accel build --dry-run` prints the commands.
"""
from ..bundle_bitstream import check_bitstream
from .errors import (
                     EXIT_TOOL_FAILED,
                     EXIT_TOOL_MISSING,
                     BitstreamMismatchError,
                     BuildError,
                     ToolFailedError,
                     ToolNotFoundError,
)
from .scripts import generate_scripts
from .step_runner import build

__all__ = [
                     "EXIT_TOOL_FAILED",
                     "EXIT_TOOL_MISSING",
                     "BitstreamMismatchError",
                     "BuildError",
                     "ToolFailedError",
                     "ToolNotFoundError",
                     "build",
                     "check_bitstream",
                     "generate_scripts",
]
