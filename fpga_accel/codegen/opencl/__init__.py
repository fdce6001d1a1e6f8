"""The accelerator as one OpenCL kernel: ``opencl/fa_kernel.cl`` in the bundle.

:func:`generate_opencl` is a compile generator (``generator(stage_dir, qmodel, manifest)``). The
kernel has the name and arguments of the Vitis kernel (``manifest["kernel"]["args"]``: one
``__global`` buffer per hardware input, then per hardware output, then ``uint n_images``), and
computes the integers of the emulator, so one host program runs it on any OpenCL device (PoCL on a
CPU in tests) or drives the HLS kernel's ``.xclbin`` on XRT. One emitter per layer kind lives in
this package (``conv.py``, ``max_pool.py``, ...), registered by declaration.
"""
from __future__ import annotations

from pathlib import Path

from . import (  # noqa: F401
    add,
    average_pool,
    channel_shuffle,
    concat,
    conv,
    dense,
    global_average_pool,
    global_max_pool,
    lrn,
    lut,
    max_pool,
    mul,
    pad,
    reshape,
    slice,
    transpose,
)
from ...errors import UnsupportedModelError
from .kernel import KERNEL_NAME, PRIVATE_LIMIT, SCRATCH_ARG, kernel_source, scratch_bytes
from .registry import EMITTERS

#: where the kernel goes, relative to the bundle
KERNEL_PATH = "opencl/fa_kernel.cl"

__all__ = ["EMITTERS", "KERNEL_NAME", "KERNEL_PATH", "PRIVATE_LIMIT", "SCRATCH_ARG", "generate_opencl", "kernel_args",
           "kernel_source", "scratch_bytes"]


def kernel_args(qmodel, manifest: dict | None = None) -> list[dict]:
    """The kernel's arguments: ``manifest["kernel"]["args"]`` when present, else those of
    :func:`fpga_accel.bundle_kernel.kernel_interface`."""
    from ...bundle_kernel import image_args, kernel_interface

    if manifest is not None and manifest.get("kernel", {}).get("args"):
        return manifest["kernel"]["args"]
    return kernel_interface(qmodel)["args"]


def generate_opencl(stage_dir: Path, qmodel, manifest: dict) -> None:
    """Write ``stage_dir/opencl/fa_kernel.cl``; add ``manifest["kernel"]`` when no other generator
    did, and ``manifest["opencl"]`` (kernel path, build options, launch shape, and ``scratch`` when
    the kernel keeps intermediates in a global buffer the host allocates).

    The OpenCL model is a twin for testing and CPU deployment, never needed to build the hardware:
    a model it cannot express (a layer with no OpenCL emitter) gets no kernel, and
    ``manifest["opencl"]["skipped"]`` says why, instead of failing the compile."""
    from ...bundle_kernel import image_args, kernel_interface
    from ...segments.names import tops

    if not manifest.get("kernel"):
        manifest["kernel"] = kernel_interface(qmodel, tops=tops(manifest))
    args = image_args(manifest["kernel"]["args"])  # the twin's weights are constants: no load arguments
    name = tops(manifest)[0]  # fa_kernel, or a dataflow segment's fa_kernel_s<k>
    try:
        src = kernel_source(qmodel, args, name)
    except UnsupportedModelError as e:
        manifest["opencl"] = {"skipped": "no OpenCL model: " + "; ".join(str(p) for p in e.problems)}
        return
    path = Path(stage_dir) / KERNEL_PATH
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(src)
    manifest["opencl"] = {"kernel": KERNEL_PATH, "name": name, "build_options": [],
                          "work_items": "one per image, one per work-group"}
    scratch = scratch_bytes(qmodel, args)
    if scratch:
        manifest["opencl"]["scratch"] = {"arg": SCRATCH_ARG, "bytes_per_work_item": scratch}
