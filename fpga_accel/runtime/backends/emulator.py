"""The emulator backend: the bit-accurate numpy executor, no hardware needed.

A bundle compiled for the tiled engine runs, like any other, its quantised model (``weights.npz``)
through :func:`~fpga_accel.emulator.run_layers`, host steps included: the contract is the integers,
which the tiled engine's program computes equally (tests compare the two bit for bit on every tiled
test model), and ``run_layers`` runs a whole batch per layer on threads where the program's
reference executor walks its tiles image by image. The program is still loaded and checked, and
``use_program = True`` runs it in that executor (:class:`fpga_accel.tiled.TiledEngine`) instead:
the DDR model, with its per-layer byte counts in ``tiled.acts`` and ``tiled.weights``.
"""
from __future__ import annotations

from ...emulator import run_layers
from ...emulator.executor import EMULATE_BATCH
from .base import ThreadedBackend


class EmulatorBackend(ThreadedBackend):
    name = "emulator"
    priority = 0  # always available, so ``auto`` falls back to it
    # bounds the memory of the intermediates; chunks pipeline with the session's host work
    max_batch = EMULATE_BATCH

    def __init__(self, bundle, qmodel, timeout: float | None = None):
        from ...bundle_tiled import is_tiled, load_program
        from ...tiled import TiledEngine

        super().__init__(bundle, qmodel, timeout)
        self.tiled = TiledEngine(load_program(bundle)[0]) if is_tiled(bundle) else None
        #: a tiled bundle: run its program in the reference executor (the DDR model), not run_layers
        self.use_program = False

    def run_raw(self, q_inputs):
        if self.tiled is not None and self.use_program:
            return self.tiled.run(q_inputs)
        return run_layers(self.qmodel, q_inputs)


BACKEND = EmulatorBackend
