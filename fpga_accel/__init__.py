"""fpga-accel: trained ONNX networks to FPGA inference accelerators.

``import fpga_accel`` needs numpy only; compiling needs the ``compile`` extra. The public entry
points are loaded on first use::

    bundle = fpga_accel.compile("model.onnx", "model.fpga", calib="calib.npy")
    with fpga_accel.Session("model.fpga") as s:
        y = s.run(x)

Before compiling, ``fpga_accel.inspect("model.onnx")`` lists the nodes, where they run and every
reason compile would refuse the model; after it, ``fpga_accel.check(bundle, x)`` compares the
emulated outputs with the float model and ``fpga_accel.layer_errors(bundle, x)`` shows, layer by
layer, where the accuracy goes. ``fpga_accel.search_bits("model.onnx", calib, labels, board=...,
budget=0.5)`` chooses per-layer bits within an accuracy budget (``result.compile(path)`` writes it).
``fpga_accel.adopt("model.fpga")`` records hand edits of the bundle's hls/ and scripts/ in its manifest.
"""
__version__ = "0.1.0"

from .errors import FpgaAccelError  # noqa: E402

# name -> module that defines it; imported on first access (PEP 562) so the package stays light
_LAZY = {
    "compile": "fpga_accel.compiler",
    "load_qmodel": "fpga_accel.bundle_model",
    "Session": "fpga_accel.runtime.session",
    "load_bundle": "fpga_accel.bundle",
    "Bundle": "fpga_accel.bundle",
    "inspect": "fpga_accel.analysis.inspection",
    "check": "fpga_accel.analysis.check",
    "layer_errors": "fpga_accel.analysis.layer_errors",
    "search_bits": "fpga_accel.analysis.search",
    "adopt": "fpga_accel.overrides",
}

__all__ = ["Bundle", "FpgaAccelError", "Session", "__version__", "adopt", "check", "compile", "inspect",
           "layer_errors", "load_bundle", "load_qmodel", "search_bits"]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'fpga_accel' has no attribute '{name}'")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
