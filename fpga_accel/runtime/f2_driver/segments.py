"""The kernels of a bundle in dataflow segments in one F2 custom logic, each run as a backend of its own.

The CL holds every segment's ``fa_kernel_s<k>`` (fpga_accel/flow/aws_f2_cl.py: ``segments_cl_files``),
kernel k's registers at ``control_base(k)`` = k · 0x1000 of the OCL window (AppPF BAR0), every kernel's
m_axi masters into the same card DDR4 as PCIS (AppPF BAR4). The chain of runtime/segments.py runs the
segments one after another with the host steps between them, so each kernel's buffers use the same
card memory window from address 0: a segment's buffers are read back before the next segment starts.
A kernel that keeps weights in URAM loads them from its segment's ``weights/uram.bin`` when it is
opened (runner.py), before any segment runs an image.

The register windows are computed from the index, never read from the manifest: the build record's
``scripts.segments[k].control_base`` is only compared with them (:func:`segments_problem`), so a
bundle built for another address map is refused before a register is written.
"""
from __future__ import annotations

from ...bundle_uram import has_uram_weights, read_uram_blob
from ...segments.names import control_base, kernel_top
from ..backends.base import Backend
from .runner import KernelRunner


def segments_problem(manifest: dict) -> str | None:
    """Why the bundle's F2 build record does not describe one CL of its segments' kernels, or None."""
    n = len(manifest["segments"]["list"])
    listed = (manifest.get("scripts") or {}).get("segments")
    if not isinstance(listed, list) or len(listed) != n:
        return (f"the bundle's build scripts describe no F2 custom logic of its {n} dataflow segments (scripts."
                "segments); recompile it for aws-f2 and rebuild its AFI")
    for k, rec in enumerate(listed):
        if not isinstance(rec, dict) or rec.get("top") != kernel_top(k):
            return f"the build record's segment {k} is not the kernel {kernel_top(k)}; recompile the bundle for aws-f2"
        got = rec.get("control_base")
        if type(got) is not int or got != control_base(k):
            shown = f"{got:#x}" if type(got) is int else repr(str(got)[:20])
            return (f"segment {k}'s control registers are recorded at {shown}, not at "
                    f"{control_base(k):#x}: the AFI was built for another address map; recompile the bundle and "
                    "rebuild its AFI")
    return None


class SegmentKernel(Backend):
    """Segment k's kernel on the card ``dev`` (owned by the model's f2 backend, which closes it)."""

    name = "f2"

    def __init__(self, bundle, qmodel, dev, k: int, timeout: float | None, default_timeout: float):
        super().__init__(bundle, qmodel, timeout)
        kernel = bundle.manifest["kernel"]
        shapes = {t.name: tuple(t.shape[1:]) for t in (*qmodel.inputs, *qmodel.outputs)}
        self.runner = KernelRunner(dev, kernel["args"], shapes, word=int(kernel.get("mem_word_bytes") or 64),
                                   control_base=control_base(k), name=kernel_top(k))
        self.max_batch = self.runner.max_images
        self.default_timeout = default_timeout
        if has_uram_weights(bundle):  # this kernel's URAM weights, from its segment's own blob
            self.runner.load_uram(read_uram_blob(bundle), self.device_timeout(default_timeout))

    def run_raw(self, q_inputs):
        return self.runner.run(q_inputs, self.device_timeout(self.default_timeout))
