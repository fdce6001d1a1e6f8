"""Scale-out inference: a compiled bundle over a dataset on many FPGA devices, with Ray.

A :class:`DevicePool` starts one Ray actor per device (each needs one ``fpga`` custom resource
and holds one :class:`~fpga_accel.runtime.Session`); :meth:`DevicePool.run` feeds it numpy
arrays, ``.npy`` / ``.npz`` files, ``.npy`` directories or Parquet and returns the outputs in
input order with a per-device report. A failed device's actor is replaced and its batches are
retried, without loss or duplication. For Ray Data pipelines, :func:`map_batches` runs the same
actors inside ``Dataset.map_batches``.

Ray (the ``ray`` extra) is imported only when a pool starts: ``import fpga_accel.distributed``
needs numpy alone, and a missing Ray raises :class:`RayMissing` with the install line.
"""
from .cluster import RESOURCE, connect, require_ray
from .device_pool import DevicePool, JobResult, run_bundle
from .errors import DistributedError, RayMissing
from .job_report import DeviceReport, JobReport
from .sources import InputSpec, input_specs, open_source

__all__ = ["RESOURCE", "DevicePool", "DeviceReport", "DistributedError", "InputSpec", "JobReport", "JobResult",
           "RayMissing", "connect", "input_specs", "map_batches", "open_source", "require_ray", "run_bundle"]


def map_batches(*args, **kwargs):
    """See :func:`fpga_accel.distributed.ray_data.map_batches`."""
    from .ray_data import map_batches as impl

    return impl(*args, **kwargs)
