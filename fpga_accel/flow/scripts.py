"""``generate_scripts``: the compile generator that writes a bundle's ``scripts/``.

Zynq boards get ``vivado_bd.tcl``; Vitis platforms ``link.cfg`` (and ``aws_afi.sh`` where the board
file declares the ``aws-afi`` flow); AWS F2 (``aws-hdk``) the custom-logic folder ``f2/cl_fa/``,
``aws_f2_dcp.sh`` and ``aws_f2_afi.sh``;
every bundle gets ``build.sh`` with the commands `fpga-accel build` runs, for running them by
hand. ``manifest["scripts"]`` records the target, the steps and the DMAs (the PYNQ driver reads
how many images one DMA transfer may carry). When the board data lacks what the scripts need, no
script is written and ``manifest["scripts"]["error"]`` says why; `fpga-accel build` reports it.
"""
from __future__ import annotations

from pathlib import Path

from ..escape import shell_comment, shell_word
from .aws_f2 import afi_script as f2_afi_script
from .aws_f2 import dcp_script as f2_dcp_script
from .aws_f2_cl import CL, DEVICE_ID, VENDOR_ID, cl_files
from .errors import BuildError
from .steps import hls_step, plan_steps, script_values, shell_lines
from .target import Target, dma_plan, target_of
from .vitis import afi_script, link_cfg
from .vivado_tcl import IP_INSTANCE, vivado_tcl


def kernel_section(qmodel, manifest: dict) -> dict:
    """``manifest["kernel"]``, computed with one lane per stream when the HLS generator has not set it."""
    if "kernel" in manifest:
        return manifest["kernel"]
    from ..bundle_kernel import kernel_interface

    return kernel_interface(qmodel)


def generate_scripts(stage_dir: Path, qmodel, manifest: dict) -> None:
    """Write ``stage_dir/scripts/`` for the manifest's board (must run after the HLS generator,
    whose stream widths it uses)."""
    out = Path(stage_dir) / "scripts"
    out.mkdir(parents=True, exist_ok=True)
    name = manifest.get("model", {}).get("name") or "model"
    try:
        target = target_of(manifest)
    except BuildError as e:
        manifest["scripts"] = {"error": str(e)}
        (out / "README.txt").write_text(f"No build scripts: {e}\n")
        return
    kernel = kernel_section(qmodel, manifest)
    manifest.setdefault("kernel", kernel)  # without the HLS generator, the build still reads it from here
    record: dict = {"target": target.family, "board": target.board, "part": target.part,
                    "clock_mhz": target.clock_mhz}
    if target.is_zynq:
        dmas = dma_plan(kernel["axis"]["streams"], target.ps.dma_addr_width)
        (out / "vivado_bd.tcl").write_text(vivado_tcl(target, dmas, name, uram_load="uram_load" in manifest))
        record.update(ip_instance=IP_INSTANCE, dmas=[d.to_dict() for d in dmas],
                      streams=[{k: s[k] for k in ("name", "direction", "tdata_bits", "beats_per_image")}
                               for s in kernel["axis"]["streams"]])
    elif target.is_hdk:
        for rel, text in cl_files(kernel, name).items():
            f = out / "f2" / CL / rel
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_text(text)
        (out / "aws_f2_dcp.sh").write_text(f2_dcp_script(name))
        (out / "aws_f2_afi.sh").write_text(f2_afi_script(name, target.cloud.note))
        record.update(cl=CL, cl_dir=f"scripts/f2/{CL}", args=[a["name"] for a in kernel["args"]],
                      note=target.cloud.note, pci_ids={"vendor": VENDOR_ID, "device": DEVICE_ID})
    else:
        (out / "link.cfg").write_text(link_cfg(target, kernel, name))
        record.update(platform=target.platform, args=[a["name"] for a in kernel["args"]])
        if target.flow == "aws-afi":
            (out / "aws_afi.sh").write_text(afi_script(name, target.cloud.note))
            record["note"] = target.cloud.note
    steps = plan_steps(Path(stage_dir), target, has_script=True)
    record["steps"] = [s.name for s in steps]
    hls = steps[0]
    try:  # the same step through v++ -c --mode hls (Vitis 2024.2 and later), when the bundle has its config
        alt = (hls_step(Path(stage_dir), "fa_axis" if target.is_zynq else "fa_kernel", "v++", hls.outputs, "")
               if hls.tool == "vitis_hls" and (Path(stage_dir) / "hls" / "hls_config.cfg").is_file() else None)
    except BuildError:
        alt = None
    (out / "build.sh").write_text(build_sh(steps, target, name, alt))
    manifest["scripts"] = record


#: picks the HLS tool as `fpga-accel build --hls-tool auto` does
_CHOOSE_HLS = """HLS_TOOL=${FA_HLS_TOOL:-}
if [ -z "$HLS_TOOL" ]; then  # the one installed (2024.2 and later have no vitis_hls); with both, v++ from 2024.2
  HLS_TOOL=v++
  if command -v vitis_hls >/dev/null 2>&1; then
    HLS_TOOL=vitis_hls
    if command -v v++ >/dev/null 2>&1; then
      rel=$(v++ --version 2>/dev/null | grep -o '20[0-9][0-9][.][0-9]' | head -n 1 || true)
      if [ -n "$rel" ] && [ "$(printf '%s\\n' 2024.2 "$rel" | sort -V | head -n 1)" = 2024.2 ]; then HLS_TOOL=v++; fi
    fi
  fi
fi"""


def build_sh(steps, target: Target, name: str, hls_vpp=None) -> str:
    lines = ["#!/usr/bin/env bash",
             f"# Build steps for '{shell_comment(name)}' on {shell_comment(target.board)}, generated by fpga-accel.",
             "# `fpga-accel build NAME.fpga` runs the same commands with logs, timing, report parsing and resume;",
             "# this script runs them by hand. Usage: scripts/build.sh [JOBS]"]
    if target.cloud is not None:
        lines.append(f"# {shell_comment(target.cloud.note, len(target.cloud.note))} The afi step needs FA_S3_BUCKET.")
    lines += ["set -euo pipefail", 'B=$(cd "$(dirname "$0")/.." && pwd)', "JOBS=${1:-2}", 'mkdir -p "$B/bitstream"']
    if target.family == "vitis":
        default = shell_word(target.platform) if target.platform else ""
        if target.flow == "aws-afi":  # aws-fpga's vitis_setup.sh exports the shell's .xpfm as AWS_PLATFORM
            default = f"${{AWS_PLATFORM:-{default}}}"
        lines.append(f"FA_PLATFORM=${{FA_PLATFORM:-{default}}}")
        lines.append(': "${FA_PLATFORM:?set FA_PLATFORM to the Vitis platform name or .xpfm path}"')
    for step, line in zip(steps, shell_lines(steps, script_values())):
        lines.append(f"# {step.name}: {step.what}")
        if "{XO}" in step.argv:
            lines.append("XO=$(find \"$B/build/hls\" -name '*.xo' | head -n 1)")
        if step.name == "hls" and hls_vpp is not None:
            (alt,) = shell_lines([hls_vpp], script_values())
            lines += ["# FA_HLS_TOOL=v++|vitis_hls overrides the choice", *_CHOOSE_HLS.split("\n"),
                      'if [ "$HLS_TOOL" = v++ ]; then', "  " + alt, "else", "  " + line, "fi"]
            continue
        lines.append(line)
    return "\n".join(lines) + "\n"
