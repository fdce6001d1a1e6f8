"""The emulator backend: the bit-accurate numpy executor, no hardware needed.

A bundle compiled for the tiled engine runs its program in the tiled engine's reference executor
(:class:`fpga_accel.tiled.TiledEngine`), the same integers as the emulator computes.
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

    def run_raw(self, q_inputs):
        if self.tiled is not None:
            return self.tiled.run(q_inputs)
        return run_layers(self.qmodel, q_inputs)


BACKEND = EmulatorBackend
