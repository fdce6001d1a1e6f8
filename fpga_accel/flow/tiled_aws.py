"""The tiled engine on AWS: the scripts and steps of its aws-f1 (Vitis platform + AFI) and aws-f2 (HDK
custom logic + AFI) builds, reusing the dataflow flows' generators.

- aws-f1: ``fa_tiled_kernel`` (the Vitis kernel form, ``tiled/kernel.h``) as an ``.xo``, ``v++ -l``
  against the F1 platform (``$AWS_PLATFORM`` as aws-fpga's ``vitis_setup.sh`` exports it) with the
  tiled ``link.cfg``, then ``scripts/aws_afi.sh`` — the dataflow F1 flow's AFI script — turning
  ``fa_tiled.xclbin`` into the AFI and ``fa_tiled.awsxclbin``, which the opencl backend loads.
- aws-f2: ``fa_tiled_top`` (the IP form, status on ``ap_return``) to the IP catalog, then the custom
  logic of :mod:`.aws_f2_cl` around it: its s_axilite control on OCL (AppPF BAR0), its three m_axi
  masters (``gmem0`` descriptors, ``gmem1`` weights, ``gmem2`` activations), each at the width the
  exported IP has (``aws_f2_dcp.sh`` reads it and sets the CL; :data:`ENGINE_AXI_BITS` are what top.h
  asks for), through an upsizer to 512 bits when narrower, and with PCIS (AppPF BAR4) into the DDR4
  through the crossbar; every other shell output tied off. ``aws_f2_dcp.sh`` and ``aws_f2_afi.sh``
  are the dataflow F2 flow's scripts.

The host side of aws-f2 is :mod:`fpga_accel.runtime.f2_driver.tiled` (register offsets =
:func:`.tiled_interface.register_map`, at the OCL window's base).
"""
from __future__ import annotations

from pathlib import Path

from .aws_f2 import afi_script as f2_afi_script
from .aws_f2 import dcp_script as f2_dcp_script
from .aws_f2_cl import CL, DEVICE_ID, VENDOR_ID, cl_files
from .steps import Step, afi_step, hdk_steps
from .target import Target
from .tiled_interface import ARGS, BUNDLES, TOP, XCLBIN, register_map
from .vitis import afi_script as f1_afi_script

#: m_axi data widths ``fa_tiled_top``'s ports ask for (tiled/top.h): the descriptors' a byte pointer's
#: 32 bits, the arenas' up to 512 (max_widen_bitwidth), which Vitis HLS grants only where it can widen the
#: accesses (UG1399, "Automatic Port Widening"). The CL is generated with these and follows the exported
#: IP: aws_f2_dcp.sh reads each port's width from it and sets the CL's parameters (an upsizer below 512)
ENGINE_AXI_BITS = {"gmem0": 32, "gmem1": 512, "gmem2": 512}
AFI_STEM = XCLBIN.removesuffix(".xclbin")


def engine_kernel() -> dict:
    """The engine IP in the form the CL generator takes (``manifest["kernel"]``'s ``args``): its m_axi
    bundles and register offsets, in argument order."""
    regs = register_map()
    return {"name": TOP, "mem_word_bytes": 64,
            "args": [{"name": n, "kind": k, "offset": regs[n], **({"bundle": BUNDLES[n]} if k == "m_axi" else {})}
                     for n, k in ARGS]}


def write_f1(out: Path, target: Target, name: str) -> dict:
    """``scripts/aws_afi.sh`` for the engine's xclbin; the record's additions."""
    (out / "aws_afi.sh").write_text(f1_afi_script(name, target.cloud.note, AFI_STEM))
    return {"note": target.cloud.note, "afi_output": f"{AFI_STEM}.awsxclbin"}


def write_f2(out: Path, target: Target, name: str) -> dict:
    """``scripts/f2/cl_fa/`` (the CL around the engine IP), ``aws_f2_dcp.sh``, ``aws_f2_afi.sh``; the
    record's additions (the CL and the PCI IDs the f2 backend checks on the card)."""
    for rel, text in cl_files(engine_kernel(), name, ip=TOP, master_bits=ENGINE_AXI_BITS).items():
        f = out / "f2" / CL / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(text)
    (out / "aws_f2_dcp.sh").write_text(f2_dcp_script(name, TOP, sorted(set(BUNDLES.values()))))
    (out / "aws_f2_afi.sh").write_text(f2_afi_script(name, target.cloud.note))
    return {"cl": CL, "cl_dir": f"scripts/f2/{CL}", "note": target.cloud.note, "master_bits": dict(ENGINE_AXI_BITS),
            "pci_ids": {"vendor": VENDOR_ID, "device": DEVICE_ID}}


def aws_steps(root: Path, target: Target, hls_tool: str, vitis_steps: list[Step]) -> list[Step]:
    """The engine's steps on a cloud board: F2's hls/hdk/afi, or the Vitis steps plus F1's afi."""
    if target.is_hdk:
        return hdk_steps(root, target, True, hls_tool, TOP)
    return [*vitis_steps, afi_step(target, XCLBIN)]
