"""The tiled engine: one Tm × Tn conv/GEMM array that runs a model layer by layer through DDR
(DESIGN.md §8), computing the integer contract's integers exactly (docs/tiled.md).

- ``program.py``: the program format (per-layer descriptors, one weights and one activation
  arena), checked on load;
- ``build.py``: a quantised model → a program;
- ``engine.py``: the reference executor over numpy arenas, counting every DDR access;
- ``cost.py``: cycles and DDR bytes per layer at a board's memory bandwidth (estimates);
- ``descriptors.py``: the binary records the HLS engine reads;
- ``csim.py``: the HLS engine (``hls/include/fpga_accel/tiled_engine.h``) in C simulation;
- ``opencl.py``: the engine on an OpenCL device, its twin (``opencl_*.cl``) or its xclbin;
- ``target.py``: Tm × Tn and buffers chosen for a board, and compile's dataflow / tiled / auto choice
  (the program goes into the bundle through ``fpga_accel/bundle_tiled.py``).
"""
from __future__ import annotations

from .build import TiledUnsupportedError, build_program
from .engine import TiledEngine, run_program
from .program import Program, ProgramError

__all__ = ["Program", "ProgramError", "TiledEngine", "TiledUnsupportedError", "build_program", "run_program"]
