"""``scripts/`` of a bundle in dataflow segments: one bitstream holding every segment's design.

- **Zynq** (``vivado_bd.tcl``): one block design with every segment's IP ``fa_axis_s<k>_0`` and, for
  each, its own AXI DMA per stream (``dma_s<k>_in0``, ``dma_s<k>_out0``, ...), the DMAs sized as a
  one-part design's (:func:`.target.dma_plan`). A DMA pair per IP costs more logic than one shared
  pair (AMD PG021 tabulates an AXI DMA's; no figure is computed here) but keeps every segment's
  streams apart, so the host drives each IP exactly as it drives a one-part design. Every control port hangs off the PS master through one AXI interconnect, every DMA's
  memory port (and each IP's URAM weights master ``m_axi_gmem_w``, when it has one) off one
  SmartConnect into the HP port; one ``fa_overlay.bit`` / ``.hwh``.
- **Vitis** (``link.cfg``): one compute unit per segment kernel (``nk=fa_kernel_s<k>:1:fa_kernel_s<k>_1``),
  each buffer argument on a memory bank, every unit at the folded clock; one ``fa_kernel.xclbin``.
- **AWS F2** (``f2/cl_fa/``, ``aws_f2_dcp.sh``, ``aws_f2_afi.sh``): one HDK custom logic holding every
  segment's kernel ``fa_kernel_s<k>`` (:func:`.aws_f2_cl.segments_cl_files`): their masters on the one
  memory crossbar into the DDR4, their control registers on OCL (AppPF BAR0) at ``k · 0x1000``
  (:func:`.aws_f2_cl.control_base`, recorded per segment as ``control_base``); one AFI.
- ``build.sh``: the steps of :mod:`.segments_steps`, by hand.

``manifest["scripts"]`` records the target, the steps and, per segment, its top, instance names, DMAs
and streams (Zynq) or kernel, compute unit and arguments (Vitis). Nothing of a segment but its index
reaches the scripts' names; the model name only appears in comments, escaped.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ..bundle_kernel import LOAD_ROLE
from ..escape import shell_comment
from ..segments.names import axis_top, compute_unit, dma_instance, ip_instance, kernel_top
from .errors import BuildError
from .scripts import _CHOOSE_HLS, build_sh
from .segments_steps import segment_steps, xo_key
from .steps import script_values, shell_lines
from .target import Dma, Target, dma_plan, memory_banks, target_of
from .vivado_tcl import _dma_lines, _stream_lines, hp_link, ip_cell, preamble, tail

STREAM_KEYS = ("name", "direction", "tdata_bits", "beats_per_image")


def segment_dmas(k: int, streams: list[dict], addr_width: int) -> list[Dma]:
    """Segment k's DMAs: the one-part plan, named for the segment."""
    return [replace(d, name=dma_instance(k, d.stream), prefix=f"s{k}_") for d in dma_plan(streams, addr_width)]


def vivado_segments_tcl(target: Target, dmas: list[list[Dma]], model_name: str,
                        uram_load: list[bool] | None = None) -> str:
    """The block design of every segment (``dmas[k]``: segment k's) and the bitstream; ``uram_load[k]``:
    segment k's IP reads its URAM weights over ``m_axi_gmem_w``, which joins the DMAs' SmartConnect."""
    ps = target.ps
    out = preamble(target, model_name, "fa_axis_s<k> (one per segment)")
    for k, group in enumerate(dmas):
        out += ip_cell(axis_top(k), ip_instance(k))
        for d in group:
            out += _dma_lines(d)
    master, slave = f"/{ps.cell}/{ps.master}", f"/{ps.cell}/{ps.hp}"
    out.append("# control: PS master port -> one AXI interconnect -> every IP's s_axi_control and DMA's S_AXI_LITE")
    for k, group in enumerate(dmas):
        ports = [f"{ip_instance(k)}/s_axi_control"] + [f"{d.name}/S_AXI_LITE" for d in group]
        for i, port in enumerate(ports):
            intc = "{New AXI Interconnect}" if k == 0 and i == 0 else "Auto"
            out.append(f"apply_bd_automation -rule xilinx.com:bd_rule:axi4 -config [list Clk_master Auto Clk_slave "
                       f"Auto Clk_xbar Auto Master {master} Slave /{port} ddr_seg Auto intc_ip {intc} master_apm 0] "
                       f"[get_bd_intf_pins {port}]")
    out += ["", "# data: every DMA's memory port -> one SmartConnect -> HP port into the PS DDR"]
    every = [d for group in dmas for d in group]
    for i, d in enumerate(every):
        out.append(hp_link(f"/{d.name}/{'M_AXI_MM2S' if d.direction == 'in' else 'M_AXI_S2MM'}", slave, i == 0))
    weights = [k for k, load in enumerate(uram_load or []) if load]
    if weights:
        out += ["", "# URAM weights: each IP's weights master reads them from DDR at start -> the same SmartConnect"]
        out += [hp_link(f"/{ip_instance(k)}/m_axi_gmem_w", slave, first=not every and i == 0)
                for i, k in enumerate(weights)]
    out += ["", "# streams: each segment's DMAs -> its IP's inputs, its outputs -> its DMAs"]
    for k, group in enumerate(dmas):
        for d in group:
            out += _stream_lines(d, ps, ip_instance(k))
    return "\n".join(out + tail())


def link_segments_cfg(target: Target, kernels: list[dict], model_name: str) -> str:
    """``[connectivity]``: one compute unit per segment kernel, its buffers on memory banks; ``[clock]``."""
    buffers = [(k, a) for k, kern in enumerate(kernels) for a in kern["args"] if a.get("kind") == "m_axi"]
    banks = memory_banks(target, len(buffers))
    lines = [(f"# v++ link configuration for '{shell_comment(model_name)}' on {shell_comment(target.board)}, "
              "generated by fpga-accel."),
             (f"# Platform: {shell_comment(target.platform or '(set FA_PLATFORM)')}; one compute unit per dataflow "
              f"segment ({len(kernels)}), run one after the other by the host."), "[connectivity]"]
    lines += [f"nk={kernel_top(k)}:1:{compute_unit(k)}" for k in range(len(kernels))]
    lines += [f"sp={compute_unit(k)}.{a['name']}:{bank}" for (k, a), bank in zip(buffers, banks)]
    lines += ["", "[clock]"] + [f"freqHz={round(target.clock_mhz * 1e6)}:{compute_unit(k)}" for k in range(len(kernels))]
    if target.cloud is not None:
        lines.insert(1, f"# {shell_comment(target.cloud.note, len(target.cloud.note))}")
    return "\n".join(lines + [""])


def generate_segment_scripts(stage_dir: Path, manifest: dict, segments: list[dict]) -> None:
    """Write ``stage_dir/scripts/`` of the model's bundle; ``segments`` are the segments' manifests
    (after their HLS generator: kernel sections with the segments' names)."""
    out = Path(stage_dir) / "scripts"
    out.mkdir(parents=True, exist_ok=True)
    name = manifest.get("model", {}).get("name") or "model"
    try:
        target = target_of(manifest)
        steps = segment_steps(Path(stage_dir), target, len(segments))
    except BuildError as e:
        manifest["scripts"] = {"error": str(e)}
        (out / "README.txt").write_text(f"No build scripts: {e}\n")
        return
    kernels = [m["kernel"] for m in segments]
    record: dict = {"target": target.family, "board": target.board, "part": target.part,
                    "clock_mhz": target.clock_mhz, "steps": [s.name for s in steps]}
    listed = []
    if target.is_zynq:
        dmas = [segment_dmas(k, kern["axis"]["streams"], target.ps.dma_addr_width) for k, kern in enumerate(kernels)]
        loads = [any(a.get("role") == LOAD_ROLE for a in kern["args"]) for kern in kernels]
        (out / "vivado_bd.tcl").write_text(vivado_segments_tcl(target, dmas, name, loads))
        for k, (kern, group) in enumerate(zip(kernels, dmas)):
            listed.append({"index": k, "top": axis_top(k), "ip_instance": ip_instance(k),
                           "dmas": [d.to_dict() for d in group],
                           "streams": [{key: s[key] for key in STREAM_KEYS} for s in kern["axis"]["streams"]]})
    elif target.is_hdk:
        try:
            listed = _f2_scripts(out, target, kernels, name, record)
        except BuildError as e:
            manifest["scripts"] = {"error": str(e)}
            (out / "README.txt").write_text(f"No build scripts: {e}\n")
            return
    else:
        (out / "link.cfg").write_text(link_segments_cfg(target, kernels, name))
        listed = [{"index": k, "top": kernel_top(k), "compute_unit": compute_unit(k),
                   "args": [a["name"] for a in kern["args"]]} for k, kern in enumerate(kernels)]
        record["platform"] = target.platform
        if target.flow == "aws-afi":
            from .vitis import afi_script

            (out / "aws_afi.sh").write_text(afi_script(name, target.cloud.note))
            record["note"] = target.cloud.note
    record["segments"] = listed
    (out / "build.sh").write_text(segments_build_sh(steps, target, name))
    manifest["scripts"] = record


def _f2_scripts(out: Path, target: Target, kernels: list[dict], name: str, record: dict) -> list[dict]:
    """The F2 custom logic of every segment's kernel and its two scripts; the segments' records."""
    from .aws_f2 import afi_script as f2_afi_script
    from .aws_f2 import dcp_script as f2_dcp_script
    from .aws_f2_cl import CL, DEVICE_ID, VENDOR_ID, control_base, segments_cl_files

    try:
        files = segments_cl_files(kernels, name)
    except ValueError as e:
        raise BuildError(f"the F2 custom logic of the {len(kernels)} segments cannot be generated: {e}") from None
    for rel, text in files.items():
        f = out / "f2" / CL / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(text)
    (out / "aws_f2_dcp.sh").write_text(f2_dcp_script(name, segments=len(kernels)))
    (out / "aws_f2_afi.sh").write_text(f2_afi_script(name, target.cloud.note))
    record.update(cl=CL, cl_dir=f"scripts/f2/{CL}", note=target.cloud.note,
                  pci_ids={"vendor": VENDOR_ID, "device": DEVICE_ID})
    return [{"index": k, "top": kernel_top(k), "control_base": control_base(k), "args": [a["name"] for a in kern["args"]]}
            for k, kern in enumerate(kernels)]


def segments_build_sh(steps, target: Target, name: str) -> str:
    """build.sh: the one-part script's frame, each segment's hls step with the HLS tool chosen as
    `fpga-accel build` chooses it, and the link step reading every segment's .xo."""
    head = build_sh([], target, name).rstrip("\n").split("\n")
    n = sum(s.name.startswith("hls_s") for s in steps)
    values = {**script_values(), **{xo_key(k): f"${xo_key(k)}" for k in range(n)}}
    lines = head + ["# FA_HLS_TOOL=v++|vitis_hls overrides the choice", *_CHOOSE_HLS.split("\n")]
    for step in steps:
        lines.append(f"# {step.name}: {step.what}")
        if step.name.startswith("hls_s"):
            k = int(step.name[len("hls_s"):])
            top = axis_top(k) if target.is_zynq else kernel_top(k)
            vpp = segment_steps_vpp(step, top)
            (alt,) = shell_lines([vpp], values)
            (line,) = shell_lines([step], values)
            lines += ['if [ "$HLS_TOOL" = v++ ]; then', "  " + alt, "else", "  " + line, "fi"]
            continue
        for arg in step.argv:
            if arg.startswith("{XO_S"):
                key = arg[1:-1]
                lines.append(f"{key}=$(find \"$B/build/hls/s{key[len('XO_S'):]}\" -name '*.xo' | head -n 1)")
        lines += shell_lines([step], values)
    return "\n".join(lines) + "\n"


def segment_steps_vpp(step, top: str):
    """``step`` (a segment's hls step through vitis_hls) as ``v++ -c --mode hls`` with its config."""
    return replace(step, tool="v++", argv=["v++", "-c", "--mode", "hls", "--config", "hls_config.cfg", "--work_dir",
                                           f"fa_hls_{top}"], env={}, config="hls_config.cfg")

