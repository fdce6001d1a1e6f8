"""fpga-accel: trained ONNX networks to FPGA inference accelerators.

``import fpga_accel`` needs numpy only; compiling needs the ``compile`` extra.
"""
__version__ = "0.1.0"

from .errors import FpgaAccelError  # noqa: E402

__all__ = ["FpgaAccelError", "__version__"]
