"""The csim backend: the generated HLS C++ compiled with g++ (C simulation), no FPGA needed.

Opening compiles ``hls/`` of the bundle into a cached shared library (see
:func:`fpga_accel.emulator.csim_library.build_csim`; later opens reuse it) and loads it. Every batch
goes through ``fa_csim_run`` with the buffers laid out as for the ``fa_kernel`` of the FPGA:
NHWC, the storage dtype of each hardware tensor, in manifest order. A design with weights in URAM
first has them loaded from the bundle's ``weights/uram.bin`` (checked against its hash), through the
same load call a board's host makes.

A bundle compiled for the tiled engine runs its program's descriptors (``tiled/descriptors.bin``)
in the C simulation of the HLS tiled engine (:class:`fpga_accel.tiled.csim.TiledCsim`), compiled
once per engine configuration, split or not as the manifest records (``tiled.array.split``).

The processing elements run with C-simulation fast paths (native integers, same words and cycle
counts); ``FPGA_ACCEL_CSIM_LOOPS=1`` runs the loops synthesis sees instead (much slower).
"""
from __future__ import annotations

import os

import numpy as np

from ... import toolchain
from ...bundle_uram import has_uram_weights, read_uram_blob
from .base import ThreadedBackend

#: set to 1 to simulate the synthesis loops rather than the fast paths
LOOPS_ENV = "FPGA_ACCEL_CSIM_LOOPS"


class CsimBackend(ThreadedBackend):
    name = "csim"
    # a verification tool, slower than the emulator: ``auto`` never prefers it
    priority = -10
    # the simulated streams hold a whole call's data: bound it (and the time one wait may take)
    max_batch = 256

    @classmethod
    def unavailable(cls, bundle) -> str | None:
        hls = bundle.path / "hls"
        if "tiled" not in getattr(bundle, "manifest", {}) and not (hls / "csim" / "build.json").is_file():
            return (f"the bundle has no C simulation ({hls / 'csim' / 'build.json'} missing); compile the model "
                    "with the HLS generator")
        try:
            toolchain.compiler()
            toolchain.ap_types_dir()
        except toolchain.ToolchainError as e:
            return str(e)
        return None

    def __init__(self, bundle, qmodel, timeout: float | None = None):
        from ...emulator.csim_library import CsimLibrary, build_csim

        super().__init__(bundle, qmodel, timeout)
        self.last_images = 0
        self.tiled = None
        if "tiled" in bundle.manifest:
            from ...bundle_tiled import load_program
            from ...tiled.csim import TiledCsim, units_of
            from ...tiled.interface import split_of

            program, words = load_program(bundle)  # the engine as the bundle builds it: its program's units
            self.tiled = TiledCsim(program, split=int(split_of(bundle.manifest)), units=units_of(program))
            self.tiled.descriptors = words  # the bundle's own descriptors (== encode(program), checked)
            return
        loops = _loops_requested()
        self.library = CsimLibrary(build_csim(bundle, progress=True))
        if loops:
            self.library.set_fast_paths(False)
        if has_uram_weights(bundle):  # URAM holds nothing until the load call fills it (as on the board)
            self.library.load(read_uram_blob(bundle))
        hw = bundle.manifest["hardware"]
        self._in_order = [t["name"] for t in hw["inputs"]]
        self._outputs = {t.name: t for t in qmodel.outputs}
        self._out_order = [t["name"] for t in hw["outputs"]]

    def run_raw(self, q_inputs):
        n = next(iter(q_inputs.values())).shape[0]
        if self.tiled is not None:
            self.last_images = n
            return self.tiled.run(q_inputs)
        ins = {t.name: np.ascontiguousarray(q_inputs[t.name], dtype=t.qparams.qtype.dtype)
               for t in self.qmodel.inputs}
        outs = {name: np.empty((n, *t.shape[1:]), t.qparams.qtype.dtype) for name, t in self._outputs.items()}
        self.library.run([ins[k] for k in self._in_order], [outs[k] for k in self._out_order], n)
        self.last_images = n
        return outs

    def stage_cycles(self) -> dict[str, int]:
        """Loop iterations per pipeline stage in the last batch (``last_images`` images; see
        CsimLibrary.stage_cycles); for the tiled engine, compute cycles per layer (the same for every image)."""
        if self.tiled is not None:
            return {d["name"]: c * self.last_images for d, c in zip(self.tiled.program.layers, self.tiled.layer_cycles())}
        return self.library.stage_cycles()


def _loops_requested() -> bool:
    from ...emulator.csim_library import CsimError

    given = os.environ.get(LOOPS_ENV, "")
    value = given.strip().lower()
    if value in ("", "0", "no", "false", "off"):
        return False
    if value in ("1", "yes", "true", "on"):
        return True
    raise CsimError(f"${LOOPS_ENV}={given!r}: expected 1 (simulate the synthesis loops) or 0 (the fast paths)")


BACKEND = CsimBackend
