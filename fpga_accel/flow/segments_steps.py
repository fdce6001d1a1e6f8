"""The build steps of a bundle in dataflow segments: one HLS run per segment, one bitstream for all.

``hls_s<k>`` synthesises segment k's own project (``segments/<k>/hls``, copied to ``build/hls/s<k>``)
and exports its top: ``fa_axis_s<k>`` to the IP catalog on Zynq boards, ``fa_kernel_s<k>`` as an .xo
on Vitis platforms (names: fpga_accel/segments/names.py). Then the one-part design's last steps run
over all of them: ``vivado`` (its IP repository ``build/hls`` is searched recursively, so it finds
every segment's IP) or ``link`` (``v++ -l`` of every segment's .xo, ``{XO_S<k>}`` each) and, on the
``aws-afi`` flow, ``afi``. On AWS F2 (the HDK flow) each segment's ``fa_kernel_s<k>`` goes to the IP
catalog, then ``hdk`` puts all of them in one custom logic (fpga_accel/flow/aws_f2_cl.py,
:func:`~.aws_f2_cl.segments_cl_files`) and ``afi`` makes its one AFI.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ..segments.names import axis_top, kernel_top
from .steps import Step, hls_step, plan_steps
from .target import Target


def xo_key(k: int) -> str:
    return f"XO_S{k}"


def segment_steps(root: Path, target: Target, n: int, hls_tool: str = "vitis_hls") -> list[Step]:
    """Every step of the build of the ``n`` segments of the bundle at ``root``, in order."""
    steps = []
    for k in range(n):
        top = axis_top(k) if target.is_zynq else kernel_top(k)
        as_ip = target.is_zynq or target.is_hdk
        kinds = ["impl/ip/component.xml"] if target.is_hdk else ["component.xml"] if as_ip else ["*.xo"]
        outputs = [f"build/hls/s{k}/**/csynth.xml"] + [f"build/hls/s{k}/**/{x}" for x in kinds]
        what = f"segment {k}: synthesise {top} and " + ("export it to the IP catalog" if as_ip else "export an .xo")
        step = hls_step(root / "segments" / str(k), top, hls_tool, outputs, what)
        steps.append(replace(step, name=f"hls_s{k}", cwd=f"build/hls/s{k}", copy_in=f"segments/{k}/hls"))
    for step in plan_steps(root, target, has_script=True, hls_tool=hls_tool)[1:]:
        if "{XO}" in step.argv:  # every segment's kernel into one xclbin
            at = step.argv.index("{XO}")
            step.argv[at:at + 1] = ["{" + xo_key(k) + "}" for k in range(n)]
            step.what = f"v++ -l: link the {n} segment kernels into the platform (one .xclbin)"
        if step.name == "hdk":
            step.what = f"AWS HDK: the {n} segment kernels in one F2 custom logic, synthesis, place and route (DCP tarball)"
        steps.append(step)
    return steps


def xo_values(root: Path, n: int) -> dict[str, str]:
    """``{XO_S<k>: path}``: the .xo each segment's hls step wrote (its expected path before it ran)."""
    out = {}
    for k in range(n):
        where = root / "build" / "hls" / f"s{k}"
        found = sorted(where.glob("**/*.xo")) if where.is_dir() else []
        out[xo_key(k)] = str(found[0] if found else where / f"{kernel_top(k)}.xo")
    return out
