"""Helpers of the pynq backend tests: bundles with a Zynq streaming interface and a handoff,
and the fake ``pynq`` package on the import path."""
from __future__ import annotations

import sys
from pathlib import Path

import fpga_accel
from fpga_accel.bundle_kernel import kernel_interface
from fpga_accel.codegen.hwh import write_hwh

ROOT = Path(__file__).resolve().parents[1]
FAKES = Path(__file__).resolve().parent / "fakes"
sys.path.insert(0, str(ROOT / "models"))


def use_fake_pynq(mp):
    """Make ``import pynq`` give tests/fakes' pynq (its board a register/DMA model of the IP), through
    the MonkeyPatch ``mp``; returns the fake module. :func:`drop_pynq` forgets it again."""
    mp.syspath_prepend(str(FAKES))
    for mod in [m for m in sys.modules if m == "pynq" or m.startswith("pynq.")]:
        mp.delitem(sys.modules, mod)
    import pynq

    mp.setattr(pynq, "board_options", {})
    return pynq


def drop_pynq() -> None:
    for mod in [m for m in sys.modules if m == "pynq" or m.startswith("pynq.")]:
        sys.modules.pop(mod, None)


def compile_axis_bundle(name: str, out: Path, lanes: dict | None = None, tlast: str | None = None,
                        board: str = "pynq-z2", **hwh_options) -> fpga_accel.bundle.Bundle:
    """Compile example model ``name`` with ``manifest["kernel"]`` for the given stream lanes,
    then put a stand-in ``bitstream/fa_design.bit`` and a generated ``.hwh`` beside it. ``tlast``
    overrides the streams' TLAST mode (``"image"``: a bitstream built before TLAST ended the run)."""
    import data

    def kernel(stage, qm, manifest):
        ln = {(qm.inputs + qm.outputs)[i].name: v for i, v in (lanes or {}).items()}
        manifest["kernel"] = kernel_interface(qm, ln)
        for s in manifest["kernel"]["axis"]["streams"]:
            s["tlast"] = tlast or s["tlast"]

    b = fpga_accel.compile(data.model_path(name), out, board=board, calib=data.load_calib(name), progress=False,
                           generators=[kernel])
    place_overlay(b, **hwh_options)
    return b


def place_overlay(bundle, **hwh_options) -> Path:
    d = bundle.path / "bitstream"
    d.mkdir(exist_ok=True)
    (d / "fa_design.bit").write_bytes(b"stand-in: the design is served by the board model\n")
    return write_hwh(d / "fa_design.hwh", bundle.manifest, **hwh_options)


def sample_images(name: str, n: int):
    import data

    x = data.load_test(name)
    x = x[0] if isinstance(x, tuple) else x
    return x[:n] if not isinstance(x, dict) else {k: v[:n] for k, v in x.items()}
