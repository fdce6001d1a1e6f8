"""The emulator backend: the bit-accurate numpy executor, no hardware needed."""
from __future__ import annotations

from ...emulator import run_layers
from ...emulator.executor import EMULATE_BATCH
from .base import ThreadedBackend


class EmulatorBackend(ThreadedBackend):
    name = "emulator"
    priority = 0  # always available, so ``auto`` falls back to it
    # bounds the memory of the intermediates; chunks pipeline with the session's host work
    max_batch = EMULATE_BATCH

    def run_raw(self, q_inputs):
        return run_layers(self.qmodel, q_inputs)


BACKEND = EmulatorBackend
