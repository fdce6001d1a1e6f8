"""The emulator backend: the bit-accurate numpy executor, no hardware needed."""
from __future__ import annotations

from ...emulator import run_layers
from .base import Backend


class EmulatorBackend(Backend):
    name = "emulator"
    priority = 0  # always available, so ``auto`` falls back to it

    def run_raw(self, q_inputs):
        return run_layers(self.qmodel, q_inputs)


BACKEND = EmulatorBackend
