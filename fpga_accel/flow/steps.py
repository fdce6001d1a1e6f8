"""The build steps of a bundle: name, tool, command, working directory, expected outputs.

Zynq boards: ``hls`` (Vitis HLS exports the ``fa_axis`` IP) then ``vivado`` (block design →
bitstream + hwh). Vitis platforms: ``hls`` (Vitis HLS exports ``fa_kernel`` as an .xo, or
``v++ -c`` from the sources when the bundle has no ``run_hls.tcl``) then ``link`` (``v++ -l`` →
.xclbin), plus ``afi`` on a board whose file declares the ``aws-afi`` flow (aws-f1). AWS F2 (the
``aws-hdk`` flow): ``hls`` (fa_kernel to the IP catalog), ``hdk`` (the HDK's design checkpoint of
the custom logic around it) and ``afi`` (S3 upload, ``create-fpga-image``). The hls step
runs ``v++ -c --mode hls --config hls_config.cfg`` (Vitis 2024.2 and later) or ``vitis_hls -f
run_hls.tcl`` (older), as :mod:`.hls_tool` chose. Commands hold
placeholders (``{B}`` the bundle, ``{JOBS}``, ``{PLATFORM}``, ``{XO}``) filled in when they run, so the
same plan prints as a shell script.
"""
from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path

from .aws_f2 import TARBALL as F2_TARBALL
from .errors import BuildError
from .target import Target
from .vitis import KERNEL
from .vivado_tcl import OVERLAY

HLS_SCRIPT = "hls/run_hls.tcl"
HLS_CONFIG = "hls/hls_config.cfg"
HLS_SOURCE = "hls/src/fa_top.cpp"


@dataclass
class Step:
    name: str
    tool: str                 # the executable looked up on PATH
    argv: list[str]           # argv[0] is the tool; placeholders filled at run time
    cwd: str                  # working directory, relative to the bundle
    outputs: list[str]        # glob patterns (relative to the bundle) that must each match a file
    what: str                 # one line for the progress output
    needs: list[str] = field(default_factory=list)  # further tools the command calls
    env: dict[str, str] = field(default_factory=dict)
    copy_in: str | None = None  # a bundle directory copied into cwd first (tools write next to their sources)
    config: str | None = None   # a v++ config file in cwd whose relative paths are made absolute before the run

    def command(self, values: dict[str, str]) -> list[str]:
        return [fill(a, values) for a in self.argv]


def fill(arg: str, values: dict[str, str]) -> str:
    for k, v in values.items():
        arg = arg.replace("{" + k + "}", v)
    return arg


def plan_steps(bundle_root: Path, target: Target, has_script: bool | None = None,
               hls_tool: str = "vitis_hls") -> list[Step]:
    """Every step of the bundle's build, in order. ``has_script`` overrides looking for
    ``hls/run_hls.tcl`` (the script generator runs before that file may exist); ``hls_tool`` is
    ``vitis_hls`` or ``v++`` (:func:`.hls_tool.choose_hls_tool`)."""
    if has_script is None:
        has_script = (bundle_root / HLS_SCRIPT).is_file()
    if target.is_zynq:
        if not has_script:
            raise BuildError(f"{bundle_root}: no {HLS_SCRIPT}; the bundle was compiled without the HLS project "
                             "generator, so there is nothing to synthesise — recompile it with a version that writes hls/")
        return [
            hls_step(bundle_root, "fa_axis", hls_tool, ["build/hls/**/csynth.xml", "build/hls/**/component.xml"],
                     "synthesise fa_axis and export it to the IP catalog"),
            Step("vivado", "vivado", ["vivado", "-mode", "batch", "-nojournal", "-source", "{B}/scripts/vivado_bd.tcl",
                                      "-tclargs", "{B}/build/hls", "{B}/bitstream", "{JOBS}"], "build/vivado",
                 [f"bitstream/{OVERLAY}.bit", f"bitstream/{OVERLAY}.hwh", "build/vivado/reports/utilization.rpt",
                  "build/vivado/reports/timing_summary.rpt"],
                 "Vivado: block design, synthesis, implementation, timing check, bitstream"),
        ]
    if target.is_hdk:
        return hdk_steps(bundle_root, target, has_script, hls_tool)
    if has_script:
        hls = hls_step(bundle_root, KERNEL, hls_tool, ["build/hls/**/csynth.xml", "build/hls/**/*.xo"],
                       "synthesise fa_kernel and export an .xo")
    elif (bundle_root / HLS_SOURCE).is_file():
        hls = Step("hls", "v++", ["v++", "-c", "-t", "hw", "--platform", "{PLATFORM}", "-k", KERNEL,
                                  "--hls.clock", f"{round(target.clock_mhz * 1e6)}:{KERNEL}",
                                  "-I{B}/hls/include", "-I{B}/hls/src", "{B}/" + HLS_SOURCE, "-o",
                                  f"{{B}}/build/hls/{KERNEL}.xo"], "build/hls", ["build/hls/**/*.xo"],
                   "v++ -c: compile fa_kernel from the HLS sources")
    else:
        raise BuildError(f"{bundle_root}: neither {HLS_SCRIPT} nor {HLS_SOURCE}; recompile the bundle with the HLS "
                         "project generator")
    steps = [hls, Step("link", "v++", ["v++", "-l", "-t", "hw", "--platform", "{PLATFORM}", "--config",
                                       "{B}/scripts/link.cfg", "--jobs", "{JOBS}", "-o",
                                       f"{{B}}/bitstream/{KERNEL}.xclbin", "{XO}"], "build/link",
                       [f"bitstream/{KERNEL}.xclbin"], "v++ -l: link fa_kernel into the platform (.xclbin)")]
    if target.flow == "aws-afi":
        steps.append(afi_step(target, f"{KERNEL}.xclbin"))
    return steps


def afi_step(target: Target, xclbin: str) -> Step:
    """AWS F1: ``scripts/aws_afi.sh`` turns ``bitstream/<xclbin>`` into an AFI and its ``.awsxclbin``."""
    note = f" ({target.cloud.step_note})" if target.cloud.step_note else ""
    stem = xclbin.removesuffix(".xclbin")
    return Step("afi", "create_vitis_afi.sh", ["bash", "{B}/scripts/aws_afi.sh", f"{{B}}/bitstream/{xclbin}",
                                               "{B}/bitstream"],
                "build/afi", [f"bitstream/{stem}.awsxclbin", "bitstream/afi.json"],
                f"AWS: create the AFI and wait until it is available{note}", needs=["aws", "bash"])


def hdk_steps(bundle_root: Path, target: Target, has_script: bool, hls_tool: str, top: str = KERNEL) -> list[Step]:
    """AWS F2: the HLS IP ``top`` (fa_kernel, or the tiled engine's fa_tiled_top) exported to the IP
    catalog, the HDK's design checkpoint around it, the AFI."""
    if not has_script and (hls_tool == "vitis_hls" or not (bundle_root / HLS_CONFIG).is_file()):
        raise BuildError(f"{bundle_root}: no {HLS_SCRIPT}; recompile the bundle with the HLS project generator")
    note = f" ({target.cloud.step_note})" if target.cloud.step_note else ""
    return [
        hls_step(bundle_root, top, hls_tool, ["build/hls/**/csynth.xml", "build/hls/**/impl/ip/component.xml"],
                 f"synthesise {top} and export it to the IP catalog"),
        Step("hdk", "aws_build_dcp_from_cl.py", ["bash", "{B}/scripts/aws_f2_dcp.sh", "{B}/build/hls", "{B}/bitstream"],
             "build/hdk", [f"bitstream/{F2_TARBALL}"],
             f"AWS HDK: {top} in the F2 custom logic, synthesis, place and route in the small shell (DCP tarball)",
             needs=["vivado", "bash", "python3"]),
        Step("afi", "aws", ["bash", "{B}/scripts/aws_f2_afi.sh", f"{{B}}/bitstream/{F2_TARBALL}", "{B}/bitstream"],
             "build/afi", ["bitstream/afi.json"],
             f"AWS: upload the DCP to S3, create-fpga-image, wait until it is available{note}", needs=["bash"]),
    ]


def hls_step(bundle_root: Path, top: str, tool: str, outputs: list[str], what: str) -> Step:
    """The hls step with ``v++ -c --mode hls`` (the bundle's ``hls_config.cfg``) or ``vitis_hls``."""
    if tool == "v++":
        if not (bundle_root / HLS_CONFIG).is_file() and (bundle_root / HLS_SCRIPT).is_file():
            raise BuildError(f"{bundle_root}: no {HLS_CONFIG} for v++ -c --mode hls (the bundle was compiled before "
                             "the config was generated); recompile it, or pass --hls-tool vitis_hls with Vitis "
                             "2024.1 or older")
        return Step("hls", "v++", ["v++", "-c", "--mode", "hls", "--config", "hls_config.cfg", "--work_dir",
                                   f"fa_hls_{top}"], "build/hls", outputs, f"v++ -c --mode hls: {what}",
                    copy_in="hls", config="hls_config.cfg")
    return Step("hls", "vitis_hls", ["vitis_hls", "-f", "run_hls.tcl"], "build/hls", outputs, f"Vitis HLS: {what}",
                env={"FA_TOP": top}, copy_in="hls")


def shell_lines(steps: list[Step], values: dict[str, str]) -> list[str]:
    """The steps as shell commands, run from the bundle directory."""
    out = []
    for s in steps:
        cmd = " ".join([f"{k}={shlex.quote(v)}" for k, v in sorted(s.env.items()) if k == "FA_TOP"]
                       + [_quote(a) for a in s.command(values)])
        copy = f' && cp -R "$B/{s.copy_in}/." "$B/{s.cwd}/"' if s.copy_in else ""
        out.append(f'mkdir -p "$B/{s.cwd}"{copy} && (cd "$B/{s.cwd}" && {cmd})')
    return out


def _quote(arg: str) -> str:
    # keep shell variables ("$B/...", "$XO") expandable; quote everything else
    if "$" in arg:
        return '"' + arg.replace('"', '\\"') + '"'
    return shlex.quote(arg)


def script_values() -> dict[str, str]:
    """Placeholder values for the printed shell script."""
    return {"B": "$B", "JOBS": "$JOBS", "PLATFORM": "$FA_PLATFORM", "XO": "$XO"}
