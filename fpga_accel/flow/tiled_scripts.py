"""Build scripts of a tiled bundle: the engine ``fa_tiled_top`` for the bundle's board and configuration.

The tiled engine is hardware for a board and an engine configuration, not for a model: the
program (descriptors), the weights and the activations are data the host loads into DDR, so one
bitstream runs every model compiled for the same board and configuration. The scripts build that
engine the way :mod:`.scripts` builds the dataflow IP:

- Zynq boards (``zynq``, ``zynqmp``): ``hls`` (Vitis HLS exports ``fa_tiled_top`` to the IP
  catalog) then ``vivado`` (``scripts/vivado_bd.tcl`` from :mod:`.tiled_vivado_tcl`: PS, the
  engine's control on the PS master port, its m_axi ports on the HP ports → ``fa_overlay.bit`` + ``.hwh``);
  a bundle whose ``tiled.array.split`` is true gets the split engine (``FA_TILED_SPLIT=1`` among the HLS
  defines, five masters on four HP ports), which only a board naming the second ports (``ps.hp_b``) has;
- Vitis platforms: ``hls`` (an ``.xo``) then ``link`` (``v++ -l`` with ``scripts/link.cfg``: one compute
  unit, its three m_axi ports on the board's memory banks → ``fa_tiled.xclbin``); on aws-f1 then ``afi``
  (``fa_tiled.awsxclbin``, :mod:`.tiled_aws`);
- aws-f2: ``hls`` (``fa_tiled_top`` to the IP catalog), ``hdk`` (the engine in the F2 custom logic) and
  ``afi`` (:mod:`.tiled_aws`).

``manifest["scripts"]`` records the target, the steps, the engine configuration and the IP's
register map (:mod:`.tiled_interface`), which the PYNQ backend checks against the ``.hwh``.
"""
from __future__ import annotations

from pathlib import Path

from ..escape import shell_comment
from . import tiled_aws
from .errors import BuildError
from .scripts import build_sh
from .steps import HLS_SCRIPT, Step, hls_step
from .target import Target, memory_banks, target_of
from .tiled_hls import ENTRY, engine_headers, write_hls
from .tiled_interface import (BUNDLES, CU, KERNEL, KERNEL_POINTERS, SPLIT_MACRO, TOP, XCLBIN, check_top, interface,
                              split_of, top_of)
from .tiled_vivado_tcl import tiled_vivado_tcl
from .vivado_tcl import OVERLAY


def generate_tiled_scripts(stage: Path, manifest: dict, program) -> None:
    """Write ``stage/hls/`` (the engine for ``program``'s configuration) and ``stage/scripts/``."""
    from ..tiled.csim import EngineConfig, units_of
    from ..tiled.ports import AXI_BITS_MACRO, axi_bits

    out = Path(stage) / "scripts"
    out.mkdir(parents=True, exist_ok=True)
    name = (manifest.get("model") or {}).get("name") or "model"
    try:
        target = target_of(manifest)
        split = engine_split(manifest, target)
    except BuildError as e:
        manifest["scripts"] = {"error": str(e), "engine": "tiled"}
        (out / "README.txt").write_text(f"No build scripts: {e}\n")
        return
    config = EngineConfig.of(program, units=units_of(program))  # the units its program uses, no others
    headers = engine_headers()
    bundles = check_top(headers[ENTRY], split)
    # the arenas' m_axi width (top.h FA_TILED_AXI_BITS): the HP port's on a Zynq board, else 512 bits
    defines = [*config.defines(), f"{AXI_BITS_MACRO}={axi_bits(target)}"]
    if split and not any(d.startswith(f"{SPLIT_MACRO}=") for d in defines):
        defines.append(f"{SPLIT_MACRO}=1")
    hls = write_hls(stage, manifest["board"], defines, headers)
    record = {"engine": "tiled", "target": target.family, "board": target.board, "part": target.part,
              "clock_mhz": target.clock_mhz, "ip": interface(bundles, split), "hls": hls,
              "configuration": {k: getattr(config, k) for k in ("tm", "tn", "input_buffer", "weight_buffer",
                                                                 "output_buffer", "acc_bits", "lut_entries",
                                                                 "out_lanes", "units")}}
    if target.is_zynq:
        (out / "vivado_bd.tcl").write_text(tiled_vivado_tcl(target, name, bundles))
    elif target.is_hdk:
        record.update(tiled_aws.write_f2(out, target, name))
    else:
        (out / "link.cfg").write_text(tiled_link_cfg(target, name))
        record["platform"] = target.platform
        if target.flow == "aws-afi":
            record.update(tiled_aws.write_f1(out, target, name))
    steps = tiled_steps(Path(stage), target)
    record["steps"] = [s.name for s in steps]
    alt = hls_step(Path(stage), top_of(target.family), "v++", steps[0].outputs, "")
    (out / "build.sh").write_text(build_sh(steps, target, name, alt))
    manifest["scripts"] = record


def engine_split(manifest: dict, target: Target) -> bool:
    """Whether the bundle's engine is split (``tiled.array.split``, checked a bool), refused where the
    target has no second HP ports for it (a Vitis kernel, the F2 custom logic are never split)."""
    from ..bundle_check import BundleError
    from ..tiled.ports import split as board_split

    try:
        split = split_of(manifest)
    except BundleError as e:
        raise BuildError(str(e)) from None
    if split and not (target.is_zynq and board_split(target)):
        raise BuildError(f"the bundle's tiled engine is split (tiled.array.split) but board '{target.board}' names no "
                         "second HP ports for it (ps.hp_b, ps.hp_weights_b); recompile the model for this board")
    return split


def tiled_steps(root: Path, target: Target, hls_tool: str = "vitis_hls") -> list[Step]:
    """The steps of the engine's build (``hls_tool``: ``vitis_hls`` or ``v++``, :mod:`.hls_tool`)."""
    if not (root / HLS_SCRIPT).is_file():
        raise BuildError(f"{root}: no {HLS_SCRIPT}: the tiled engine's HLS project is missing; recompile the bundle")
    if target.is_zynq:
        return [
            hls_step(root, TOP, hls_tool, ["build/hls/**/csynth.xml", "build/hls/**/component.xml"],
                     f"synthesise the tiled engine {TOP} and export it to the IP catalog"),
            Step("vivado", "vivado", ["vivado", "-mode", "batch", "-nojournal", "-source", "{B}/scripts/vivado_bd.tcl",
                                      "-tclargs", "{B}/build/hls", "{B}/bitstream", "{JOBS}"], "build/vivado",
                 [f"bitstream/{OVERLAY}.bit", f"bitstream/{OVERLAY}.hwh", "build/vivado/reports/utilization.rpt",
                  "build/vivado/reports/timing_summary.rpt"],
                 "Vivado: block design of the engine, synthesis, implementation, timing check, bitstream"),
        ]
    if target.family not in ("vitis", "hdk"):
        raise BuildError(f"board '{target.board}': the tiled engine's build is generated for Zynq boards, Vitis "
                         "platforms and AWS F2 only")
    vitis = [] if target.is_hdk else [
        hls_step(root, KERNEL, hls_tool, ["build/hls/**/csynth.xml", "build/hls/**/*.xo"],
                 f"synthesise the tiled engine's kernel {KERNEL} and export an .xo"),
        Step("link", "v++", ["v++", "-l", "-t", "hw", "--platform", "{PLATFORM}", "--config", "{B}/scripts/link.cfg",
                             "--jobs", "{JOBS}", "-o", f"{{B}}/bitstream/{XCLBIN}", "{XO}"], "build/link",
             [f"bitstream/{XCLBIN}"], f"v++ -l: link {KERNEL} into the platform (.xclbin)"),
    ]
    return vitis if target.cloud is None else tiled_aws.aws_steps(root, target, hls_tool, vitis)


def tiled_link_cfg(target: Target, model_name: str) -> str:
    """``[connectivity]``: one compute unit, each m_axi argument on a memory bank (the status word on
    the descriptors' bank: they share an m_axi bundle); ``[clock]``."""
    banks = memory_banks(target, len(BUNDLES))
    bank_of = dict(zip(BUNDLES, banks), status=banks[0])
    lines = [(f"# v++ link configuration of the tiled engine for '{shell_comment(model_name)}' on "
              f"{shell_comment(target.board)}, generated by fpga-accel."),
             f"# Platform: {shell_comment(target.platform or '(set FA_PLATFORM)')}; one compute unit of {KERNEL}.",
             "# The engine runs any model compiled for this board and configuration: the program is data.",
             *([f"# {shell_comment(target.cloud.note, len(target.cloud.note))}"] if target.cloud else []),
             "[connectivity]", f"nk={KERNEL}:1:{CU}"]
    lines += [f"sp={CU}.{p}:{bank_of[p]}" for p in KERNEL_POINTERS]
    lines += ["", "[clock]", f"freqHz={round(target.clock_mhz * 1e6)}:{CU}", ""]
    return "\n".join(lines)
