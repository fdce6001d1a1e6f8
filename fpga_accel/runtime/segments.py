"""A model compiled in dataflow segments run as one backend: segment 0 → host step(s) → segment 1 ...

The session sees one backend (hardware integers in, hardware integers out). Inside it, every
segment has its own backend of the kind asked for (an emulator, a C simulation of its own HLS
project, its own OpenCL twin), opened on the segment's bundle (``segments/<k>/``, checked by
fpga_accel/segments/check.py); a host step runs its layer's integers on the host between them
(a float op: dequantise, its float reference, quantise — quant/host_float.py; an integer layer sent
to the host: its op's integer reference), exactly as the emulator runs the whole model.

Backends that chain segments' own bundles: :data:`CHAINED`. A backend with
``segments_from_bitstream(bundle)`` true instead opens the one bitstream of the model's bundle that
holds every segment (fpga_accel/flow/segments_scripts.py: PYNQ's overlay, the OpenCL backend's
xclbin; the native host's C library, which opens each segment's kernel from the model's bundle; F2's
AFI) once, and its ``open_segments(opened)`` gives one backend per segment's IP or kernel; the host
steps run between them the same way. Any other backend refuses the bundle by name.
"""
from __future__ import annotations

import numpy as np

from ..ops import lookup
from ..quant.host_float import is_host_float, run_host_float
from .backends.base import ThreadedBackend

#: backends that run a bundle of several dataflow segments
CHAINED = ("emulator", "csim", "opencl")
#: backends that open every segment from the model's bundle (``segments_from_bitstream``)
FROM_BUNDLE = ("f2", "native", "pynq")


def is_segmented(bundle) -> bool:
    return "segments" in getattr(bundle, "manifest", {})


def from_bitstream(cls, bundle) -> bool:
    """Whether ``cls`` runs the segmented ``bundle`` from the one bitstream of its model's bundle."""
    ask = getattr(cls, "segments_from_bitstream", None)
    return bool(ask is not None and ask(bundle))


def segment_availability(cls, bundle, one) -> str | None:
    """Why backend ``cls`` cannot run the segmented ``bundle``, or None; ``one(cls, segment bundle)``
    asks the backend about one segment."""
    from ..bundle import load_bundle
    from ..bundle_check import BundleError
    from ..segments.check import segment_path

    if from_bitstream(cls, bundle):
        try:
            return cls.unavailable(bundle)  # the model's own bitstream, holding every segment
        except Exception as e:  # noqa: BLE001 - as backends.availability: reported, not raised
            return f"its availability check failed ({type(e).__name__}: {e})"
    if cls.name not in CHAINED:
        return (f"the bundle holds {len(bundle.manifest['segments']['list'])} dataflow segments with host steps between "
                f"them; backend '{cls.name}' runs one kernel per bundle: run it with backend "
                f"{', '.join(repr(n) for n in (*CHAINED, *FROM_BUNDLE))}, or compile the model with --engine tiled")
    for k in range(len(bundle.manifest["segments"]["list"])):
        try:
            why = one(cls, load_bundle(bundle.path / segment_path(k), verify=False))
        except BundleError as e:
            return str(e)
        if why is not None:
            return f"segment {k}: {why}"
    return None


class SegmentedBackend(ThreadedBackend):
    """Runs the steps of a segmented bundle with one ``cls`` backend per segment."""

    def __init__(self, cls, bundle, qmodel, timeout: float | None = None):
        from ..segments.check import open_segments

        super().__init__(bundle, qmodel, timeout)
        self.name = cls.name
        self.segments = []
        self.device = None  # the backend holding the one bitstream of every segment, if it is one
        try:
            opened = open_segments(bundle, qmodel)
            if from_bitstream(cls, bundle):
                self.device = cls(bundle, qmodel, timeout=timeout)
                self.segments = self.device.open_segments(opened)
            else:
                for sub, sq in opened:
                    self.segments.append(cls(sub, sq, timeout=timeout))
        except BaseException:
            self.close()
            raise
        caps = [b.max_batch for b in self.segments if getattr(b, "max_batch", None)]
        self.max_batch = min(caps) if caps else None
        by_name = {lay.name: lay for lay in qmodel.layers}
        self.steps = [self.segments[s["segment"]] if "segment" in s else by_name[s["host"]]
                      for s in bundle.manifest["segments"]["steps"]]

    def run_raw(self, q_inputs):
        env = dict(q_inputs)
        for step in self.steps:
            if hasattr(step, "start"):  # a segment's backend
                feeds = {t.name: env[t.name] for t in step.qmodel.inputs}
                env.update(step.wait(step.start(feeds), self.timeout))
                continue
            ins = [env[i] for i in step.inputs]
            run = run_host_float if is_host_float(step) else lookup(step.op_type, step.domain).run_int
            q = self.qmodel.tensors[step.outputs[0]].qparams.qtype
            env[step.outputs[0]] = np.asarray(run(step, ins)).astype(q.dtype, copy=False)
        return {t.name: env[t.name] for t in self.qmodel.outputs}

    def close(self) -> None:
        super().close()
        for b in self.segments:
            b.close()
        self.segments = []
        if self.device is not None:
            self.device.close()
            self.device = None
