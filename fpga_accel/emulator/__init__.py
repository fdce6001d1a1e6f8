"""The bit-accurate emulator: runs a QModel with exactly the contract's integers (numpy)."""
from .executor import EmulationResult, emulate, run_layers

__all__ = ["EmulationResult", "emulate", "run_layers"]
